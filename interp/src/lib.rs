//! marrow-interp: a compact Scheme whose every value lives in the Marrow
//! heap. [`Interp`] is the embedding API: create one with a [`GcConfig`],
//! then evaluate source text or run files; results come back rooted
//! ([`Evaluated`], alive while held), errors typed ([`Failure`]), and the
//! binary prints them. The library's safe surface cannot reach a heap
//! object except through these handles.
//!
//! Pipeline: reader.rs (text -> data with positions) -> compile.rs (macro
//! expansion via expand.rs and syntax_rules.rs, closure conversion,
//! bytecode) -> vm.rs (the loop, calls, continuations, errors), with
//! builtins/ for the library, heap.rs for object layouts, value.rs for the
//! tagged representation and printer.rs for output.

// The modules that touch heap objects (heap.rs's accessors, the VM, the
// builtins, the printer) are private: their functions trust that a value
// is a live object of this interpreter's heap, which only the crate can
// promise. What is public works on plain data (the reader's data, the
// compiler, numbers, the value encoding) or goes through `Interp`.
pub(crate) mod builtins;
pub mod compile;
pub mod expand;
pub(crate) mod heap;
pub mod numbers;
pub(crate) mod printer;
pub mod reader;
pub mod syntax_rules;
pub mod value;
pub(crate) mod vm;

use marrow_gc::runtime::MemStats;
use marrow_gc::{Gc, GcConfig, Mutator, Root};
use marrow_runtime::TagRule;
use reader::{file_id, Reader};
use std::sync::Arc;
pub use value::Value;
pub use vm::Failure;
use vm::Vm;

const PRELUDE: &str = include_str!("prelude.scm");

/// Default limit on the depth of non-tail calls.
pub const DEFAULT_MAX_DEPTH: usize = 10_000_000;

/// An interpreter with its own heap.
#[derive(Debug)]
pub struct Interp {
    vm: Vm,
    gc: Arc<Gc>,
}

/// A value an evaluation returned, rooted: it stays alive (and readable
/// through [`Interp::write`]) for as long as this handle is held, across
/// any later evaluation and collection.
#[derive(Debug)]
pub struct Evaluated {
    root: Root,
    heap: usize,
}

impl Evaluated {
    /// Whether the value is the unspecified value (what `define`, `set!`
    /// and `display` return), which the REPL does not print.
    pub fn is_unspecified(&self) -> bool {
        self.root.get() == value::UNSPEC.raw()
    }
}

/// The builtin procedures: name, least and most arguments (`u16::MAX`:
/// any number).
pub fn builtin_procedures() -> Vec<(&'static str, u16, u16)> {
    builtins::all().iter().map(|p| (p.name, p.min, p.max)).collect()
}

impl Drop for Interp {
    /// Output the program printed is written even when the interpreter
    /// goes away without an orderly exit (an internal panic unwinding).
    fn drop(&mut self) {
        self.flush();
    }
}

/// Largest source file read: 256 MiB.
pub const MAX_SOURCE_BYTES: u64 = 256 << 20;

/// Reads a source file, refusing directories, binary data and files over
/// `max_bytes` (or [`MAX_SOURCE_BYTES`]) with a clear message. It reads in
/// chunks and stops at the first NUL byte or at the cap, so `/dev/zero`
/// or an endless pipe is refused instead of filling memory.
pub fn read_source(name: &str) -> Result<String, String> {
    read_source_capped(name, MAX_SOURCE_BYTES)
}

/// [`read_source`] with a lower cap.
pub fn read_source_capped(name: &str, max_bytes: u64) -> Result<String, String> {
    use std::io::Read;
    let max_bytes = max_bytes.min(MAX_SOURCE_BYTES);
    let meta = std::fs::metadata(name).map_err(|e| format!("cannot open {name}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("cannot load {name}: it is a directory"));
    }
    let f = std::fs::File::open(name).map_err(|e| format!("cannot open {name}: {e}"))?;
    let mut r = f.take(max_bytes + 1);
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read {name}: {e}")),
        };
        if chunk[..n].contains(&0) {
            return Err(format!("cannot load {name}: it is a binary file, not Scheme source"));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    if bytes.len() as u64 > max_bytes {
        return Err(format!("cannot load {name}: larger than {max_bytes} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| format!("cannot load {name}: not valid UTF-8 text"))
}

impl Interp {
    /// Creates a heap with `config` (its tag rule is set for Marrow values)
    /// and an interpreter with the standard library loaded.
    pub fn new(mut config: GcConfig, max_depth: usize) -> Result<Interp, String> {
        config.heap.tag_rule = TagRule { mask: 1, value: 0 };
        let gc = Gc::new(config).map_err(|e| format!("cannot create the heap: {e}"))?;
        let m = Mutator::new(&gc).map_err(|e| e.to_string())?;
        let vm = Vm::new(heap::Heap::new(m), max_depth);
        let mut it = Interp { vm, gc };
        it.boot().map_err(|e| format!("prelude failed: {}", it.describe(&e)))?;
        Ok(it)
    }

    fn boot(&mut self) -> Result<(), Failure> {
        // The standard ports.
        for (i, name) in [(0, "%stdin"), (1, "%stdout"), (2, "%stderr")] {
            let p = self
                .vm
                .make_obj(heap::Kind::Port, &[Value::fix(i)])
                .map_err(|_| Failure::Exit(70))?;
            let g = self.vm.comp.global(&reader::private(name)) as usize;
            self.vm.set_global_raw(g, p);
        }
        self.vm.comp.in_prelude = true;
        let r = self.eval_str_raw(PRELUDE, "<prelude>");
        self.vm.comp.in_prelude = false;
        r?;
        for (private, public) in std::mem::take(&mut self.vm.comp.exports) {
            let v = self.vm.r.globals[private as usize];
            self.vm.set_global_raw(public as usize, v);
        }
        Ok(())
    }

    /// The collector.
    pub fn gc(&self) -> &Arc<Gc> {
        &self.gc
    }

    /// Sets `(command-line)`.
    pub fn set_args(&mut self, args: Vec<String>) {
        self.vm.args = args;
    }

    /// Limits the program to about `n` procedure calls (then it stops with
    /// an error): for running untrusted programs.
    pub fn set_max_steps(&mut self, n: u64) {
        self.vm.fuel = n;
    }

    /// Sends the program's output nowhere (for fuzzing).
    pub fn set_quiet(&mut self, quiet: bool) {
        self.vm.quiet = quiet;
    }

    /// Makes standard input read as empty (for fuzzing).
    pub fn close_stdin(&mut self) {
        self.vm.stdin_eof = true;
    }

    /// The heap's statistics.
    pub fn stats(&mut self) -> MemStats {
        self.vm.h.m.stats()
    }

    /// Native port slots in use or free for reuse (ports are closed when
    /// their object is collected, and their slots reused).
    pub fn port_slots(&self) -> usize {
        self.vm.ports.len()
    }

    /// Time since the interpreter was created.
    pub fn elapsed(&self) -> std::time::Duration {
        self.vm.start.elapsed()
    }

    /// Reads and evaluates every form of `src`; returns the last value,
    /// rooted.
    pub fn eval_str(&mut self, src: &str, file: &str) -> Result<Evaluated, Failure> {
        let v = self.eval_str_raw(src, file)?;
        Ok(self.rooted(v))
    }

    /// Evaluates one datum read by a [`Reader`] (the REPL's unit).
    pub fn eval_datum(&mut self, d: &reader::Datum) -> Result<Evaluated, Failure> {
        let v = self.vm.eval_datum(d)?;
        Ok(self.rooted(v))
    }

    fn rooted(&mut self, v: Value) -> Evaluated {
        Evaluated {
            root: self.vm.h.m.root(v.raw()),
            heap: Arc::as_ptr(&self.gc) as usize,
        }
    }

    fn eval_str_raw(&mut self, src: &str, file: &str) -> Result<Value, Failure> {
        let chars: Vec<char> = src.chars().collect();
        let fid = file_id(file);
        let mut r = Reader::new(&chars, fid);
        let mut last = value::UNSPEC;
        loop {
            let d = match r.read() {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => {
                    return Err(Failure::Error {
                        pos: Some(e.pos),
                        msg: e.msg,
                        trace: vec![],
                    })
                }
            };
            last = self.vm.eval_datum(&d)?;
        }
        Ok(last)
    }

    /// Runs a script file.
    pub fn run_file(&mut self, name: &str) -> Result<Evaluated, Failure> {
        let text = read_source(name).map_err(|msg| Failure::Error {
            pos: None,
            msg,
            trace: vec![],
        })?;
        self.eval_str(&text, name)
    }

    /// The `write` representation of a value this interpreter returned.
    ///
    /// # Panics
    /// If `v` came from another interpreter.
    pub fn write(&self, v: &Evaluated) -> String {
        assert!(
            v.heap == Arc::as_ptr(&self.gc) as usize,
            "marrow-interp: a value written by another interpreter than the one that returned it"
        );
        self.vm.write_string(Value(v.root.get()), false)
    }

    /// Flushes buffered standard output (at exit: a write error can no
    /// longer be reported to the program, and a closed pipe is not one).
    pub fn flush(&mut self) {
        let _ = builtins::system::flush(&mut self.vm);
    }

    /// A failure as the text the binary prints (`FILE:LINE:COL: message` and a backtrace).
    pub fn describe(&self, f: &Failure) -> String {
        match f {
            Failure::Exit(c) => format!("exit {c}"),
            Failure::Error { pos, msg, trace } => {
                let mut s = match pos {
                    Some(p) => format!("{p}: {msg}"),
                    None => msg.clone(),
                };
                if !trace.is_empty() {
                    s.push_str("\nbacktrace:");
                    for t in trace {
                        s.push_str("\n  in ");
                        s.push_str(t);
                    }
                }
                s
            }
        }
    }
}
