//! The virtual machine: the bytecode loop, calls and proper tail calls,
//! continuations (the value stack and control frames copied into a heap
//! object), and the routing of errors to Scheme exception handlers.
//!
//! Module dependencies: vm.rs and builtins/ import each other, on purpose.
//! A builtin is a function over the VM (`fn(&mut Vm, ..)`: it allocates
//! through the VM's roots and reaches its ports), and the VM's instruction
//! fast paths fall back to the same numeric tower (`num::add2`,
//! `num::compare`, ...) that `+` and `<` use, and dispatch through the
//! builtin table. Breaking the cycle would mean passing those functions to
//! the VM as pointers at start-up: the same coupling, harder to follow. The
//! other former cycles are gone: the printer (printer.rs) reads only the
//! heap and gets procedure names through `printer::ProcNames`, and list
//! walking and bignum access live in heap.rs.
//!
//! Frame layout on the value stack: `[closure, slot0 .. slotN-1, temps...]`
//! where `base` indexes slot 0 (the first argument). Control frames (return
//! proto, pc, base) live in a separate vector of plain integers.

use crate::builtins::{self, Prim, PrimKind};
use crate::compile::{Cmp, Compiler, Op, Proto};
use crate::heap::*;
use crate::printer;
use crate::reader::{private, Datum, Pos};
use crate::value::*;
use std::collections::HashMap;

/// A saved return point.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub proto: u32,
    pub pc: u32,
    pub base: u32,
}

/// Marks the frame that returns out of [`Vm::run`].
const EXIT: u32 = u32::MAX;

/// Why a run stopped without a value.
#[derive(Debug, Clone)]
pub enum Failure {
    /// An uncaught error: location, message, backtrace of procedure names.
    Error {
        pos: Option<Pos>,
        msg: String,
        trace: Vec<String>,
    },
    /// `(exit n)`.
    Exit(i32),
}

/// Output and input ports' native state.
#[derive(Debug)]
pub enum PortState {
    Stdout,
    Stderr,
    Stdin,
    StrIn(Vec<char>, usize),
    StrOut(String),
    Closed,
}

/// The interpreter state.
#[derive(Debug)]
pub struct Vm {
    pub h: Heap,
    pub r: Roots,
    /// Compiled procedures. Boxed: the run loop holds `*const Proto`
    /// across calls that may compile more (pushing here), so a proto must
    /// not move when the vector grows.
    #[allow(clippy::vec_box)]
    pub protos: Vec<Box<Proto>>,
    pub comp: Compiler,
    pub frames: Vec<Frame>,
    pub max_depth: usize,
    overflow_slack: bool,
    /// Symbol names to weak references to their symbols (see `intern`).
    pub symtab: HashMap<String, std::ptr::NonNull<u8>>,
    /// The size at which the symbol table is next swept of dead names.
    symtab_sweep_at: usize,
    pub prims: &'static [Prim],
    pub ports: Vec<PortState>,
    /// Port slots whose port object died (pushed by the cleanups the
    /// collector runs, gc/src/weak.rs), to be closed and reused.
    pub dead_ports: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
    /// Closed port slots free for reuse.
    pub free_ports: Vec<usize>,
    /// Buffered standard output.
    pub out: Vec<u8>,
    pub stdin_buf: Vec<char>,
    pub stdin_pos: usize,
    pub stdin_eof: bool,
    pub args: Vec<String>,
    pub start: std::time::Instant,
    g_handlers: u32,
    g_raise: u32,
    g_raise_cont: u32,
    pub g_out_port: u32,
    pub g_in_port: u32,
    pub g_err_port: u32,
    /// The preallocated out-of-memory condition (an error object rooted in
    /// `r.perm` for the VM's lifetime), or `FALSE` if it could not be made.
    /// Raising it allocates nothing, so a handler can catch running out of
    /// memory even when live data fills the heap.
    oom_obj: Value,
    /// Its message string, rewritten in place for each refusal.
    oom_msg: Value,
    /// The most bytes one request may ask for (see [`Vm::check_request`]).
    pub request_cap: u64,
    /// Procedure calls left before the program is stopped with an error
    /// (`--max-steps`; by default too many to run out).
    pub fuel: u64,
    /// Drop everything written to the standard output and error ports
    /// (the fuzz targets run programs with it).
    pub quiet: bool,
}

/// The largest request [`Vm::check_request`] lets through: the smallest of
/// the arena, the memory limit and physical memory (when /proc/meminfo
/// tells it).
fn request_cap(h: &Heap) -> u64 {
    let mut cap = h.m.heap().arena_size() as u64;
    if let Some(limit) = h.m.gc_handle().config().memlimit {
        cap = cap.min(limit);
    }
    if let Some(phys) = physical_memory() {
        cap = cap.min(phys);
    }
    cap
}

fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Characters of room in the out-of-memory condition's message.
const OOM_MSG_CAP: usize = 160;

impl Vm {
    pub fn new(h: Heap, max_depth: usize) -> Vm {
        let mut vm = Vm {
            h,
            r: Roots::default(),
            protos: Vec::new(),
            comp: Compiler::new(),
            frames: Vec::new(),
            max_depth,
            overflow_slack: false,
            symtab: HashMap::new(),
            symtab_sweep_at: 4096,
            prims: builtins::all(),
            ports: vec![PortState::Stdin, PortState::Stdout, PortState::Stderr],
            dead_ports: Default::default(),
            free_ports: Vec::new(),
            out: Vec::with_capacity(1 << 16),
            stdin_buf: Vec::new(),
            stdin_pos: 0,
            stdin_eof: false,
            args: Vec::new(),
            start: std::time::Instant::now(),
            g_handlers: 0,
            g_raise: 0,
            g_raise_cont: 0,
            g_out_port: 0,
            g_in_port: 0,
            g_err_port: 0,
            oom_obj: FALSE,
            oom_msg: FALSE,
            request_cap: 0,
            fuel: u64::MAX,
            quiet: false,
        };
        vm.request_cap = request_cap(&vm.h);
        vm.r.stack.reserve(1 << 16);
        // Every builtin under its private name (for the prelude and derived
        // syntax); the public ones (not starting with `%`) under their own.
        for (i, p) in builtins::all().iter().enumerate() {
            let g = vm.comp.global(&private(p.name)) as usize;
            vm.set_global_raw(g, Value::prim(i));
            if !p.name.starts_with('%') {
                let g = vm.comp.global(p.name) as usize;
                vm.set_global_raw(g, Value::prim(i));
            }
        }
        vm.g_handlers = vm.comp.global(&private("%handlers"));
        vm.g_raise = vm.comp.global(&private("%raise-handler"));
        vm.g_raise_cont = vm.comp.global(&private("%raise-continuable-handler"));
        vm.g_in_port = vm.comp.global(&private("%stdin"));
        vm.g_out_port = vm.comp.global(&private("%stdout"));
        vm.g_err_port = vm.comp.global(&private("%stderr"));
        vm.prealloc_oom();
        vm
    }

    /// Makes the out-of-memory condition while memory is still available
    /// (at start-up); on failure the VM falls back to building the condition
    /// when memory runs out, which may then fail too.
    fn prealloc_oom(&mut self) {
        let Ok(msg) = self.h.string_fill(&self.r, OOM_MSG_CAP, ' ') else {
            return;
        };
        self.r.perm.push(msg);
        refill_string(msg, OOM_MSG_CAP, "out of memory");
        if let Ok(obj) = self.make_obj(Kind::Error, &[msg, NIL, FALSE]) {
            self.r.perm.push(obj);
            self.oom_obj = obj;
            self.oom_msg = msg;
        }
    }

    /// The preallocated out-of-memory condition with `msg` as its message,
    /// made without allocating (None if it does not exist).
    fn oom_condition(&mut self, msg: &str) -> Option<Value> {
        if self.oom_obj == FALSE {
            return None;
        }
        refill_string(self.oom_msg, OOM_MSG_CAP, msg);
        Some(self.oom_obj)
    }

    /// Refuses up front a request for `n` items of `size` bytes each that
    /// no heap this process can have would hold: more than the arena, the
    /// memory limit or the machine's physical memory. The refusal is an
    /// ordinary (catchable) out-of-memory error raised before anything is
    /// allocated, so a huge `make-list` or `make-bytevector` neither aborts
    /// the process in a native allocation nor commits memory until the
    /// system kills it.
    pub fn check_request(&self, who: &str, n: u64, size: u64) -> R<()> {
        let bytes = n.saturating_mul(size);
        if bytes <= self.request_cap {
            return Ok(());
        }
        let what = if size == 1 {
            String::new()
        } else {
            format!("{n} elements of {size} bytes: ")
        };
        Err(SErr::Oom(format!(
            "out of memory: {who}: {what}{bytes} bytes is more than the heap can ever hold ({} bytes)",
            self.request_cap
        )))
    }

    pub fn set_global_raw(&mut self, g: usize, v: Value) {
        if self.r.globals.len() <= g {
            self.r.globals.resize(g + 1, UNBOUND);
        }
        self.r.globals[g] = v;
    }

    pub fn global_value(&self, name: &str) -> Value {
        match self.comp.global_index.get(name) {
            Some(&i) => self.r.globals.get(i as usize).copied().unwrap_or(UNBOUND),
            None => UNBOUND,
        }
    }

    // ------------------------------------------------------------ allocation

    pub fn cons(&mut self, a: Value, b: Value) -> R<Value> {
        self.r.tmp.push(a);
        self.r.tmp.push(b);
        let p = self.h.pair(&self.r, a, b);
        self.r.tmp.truncate(self.r.tmp.len() - 2);
        p
    }

    pub fn flonum(&mut self, x: f64) -> R<Value> {
        self.h.flonum(&self.r, x)
    }

    pub fn string(&mut self, s: &str) -> R<Value> {
        self.h.string(&self.r, s)
    }

    /// A scan object whose slots are `vals` (rooted while allocating).
    pub fn make_obj(&mut self, k: Kind, vals: &[Value]) -> R<Value> {
        let mark = self.r.tmp.len();
        self.r.tmp.extend_from_slice(vals);
        let o = self.h.obj(&self.r, k, vals.len(), UNSPEC);
        let o = match o {
            Ok(o) => o,
            Err(e) => {
                self.r.tmp.truncate(mark);
                return Err(e);
            }
        };
        for i in 0..vals.len() {
            let v = self.r.tmp[mark + i];
            self.h.set_slot(o, i, v);
        }
        self.r.tmp.truncate(mark);
        Ok(o)
    }

    /// A list of `vals` (rooted while allocating).
    pub fn list(&mut self, vals: &[Value]) -> R<Value> {
        let mark = self.r.tmp.len();
        self.r.tmp.extend_from_slice(vals);
        self.r.tmp.push(NIL);
        for i in (0..vals.len()).rev() {
            let x = self.r.tmp[mark + i];
            let acc = self.r.tmp[mark + vals.len()];
            match self.h.pair(&self.r, x, acc) {
                Ok(p) => self.r.tmp[mark + vals.len()] = p,
                Err(e) => {
                    self.r.tmp.truncate(mark);
                    return Err(e);
                }
            }
        }
        let l = self.r.tmp[mark + vals.len()];
        self.r.tmp.truncate(mark);
        Ok(l)
    }

    /// The symbol named `name`: the live one if there is one, else a new
    /// one. The table holds symbols weakly (a weak reference per name,
    /// gc/src/weak.rs), so a symbol nothing else holds is collected;
    /// symbols in compiled code are held by its constants. Names whose
    /// symbol died are dropped from the table when it has doubled since
    /// the last sweep of it, so it stays proportional to the live symbols.
    pub fn intern(&mut self, name: &str) -> R<Value> {
        if let Some(&holder) = self.symtab.get(name) {
            // SAFETY: holders are live two-word objects of this heap (they
            // are roots in `r.sym_holders` while in the table).
            let w = unsafe { self.h.m.read_weak(holder, 0) };
            if w != 0 {
                return Ok(Value(w));
            }
        }
        let v = self.h.symbol_obj(&self.r, name)?;
        self.r.tmp.push(v);
        let holder = self.h.m.alloc_bytes(16, &self.r);
        self.r.tmp.pop();
        let holder = holder?;
        // SAFETY: a fresh no-scan object of two words, not yet reachable by
        // anyone; registered, its word 0 is read with `read_weak` only.
        unsafe {
            (*(holder.as_ptr() as *const std::sync::atomic::AtomicUsize))
                .store(v.raw(), std::sync::atomic::Ordering::Release);
            self.h.m.register_weak_ref(holder);
        }
        self.r.sym_holders.push(Value(holder.as_ptr() as usize));
        self.symtab.insert(name.to_string(), holder);
        if self.symtab.len() >= self.symtab_sweep_at {
            self.sweep_symtab();
        }
        Ok(v)
    }

    /// Drops the names whose symbol has died, and their holders.
    fn sweep_symtab(&mut self) {
        // SAFETY: as in `intern`; a plain read suffices to see 0 (nothing
        // read is handed out).
        self.symtab.retain(|_, h| unsafe { *(h.as_ptr() as *const usize) } != 0);
        self.r.sym_holders = self.symtab.values().map(|h| Value(h.as_ptr() as usize)).collect();
        self.symtab_sweep_at = (self.symtab.len() * 2).max(4096);
    }

    /// Converts a datum (a quoted constant, or `read`'s result) to a value.
    pub fn datum_to_value(&mut self, d: &Datum) -> R<Value> {
        Ok(match d {
            Datum::Bool(b) => Value::bool(*b),
            Datum::Int(n) => crate::builtins::num::int(self, *n)?,
            Datum::Big(b) => crate::builtins::num::big_value(self, b)?,
            Datum::Flo(x) => self.flonum(*x)?,
            Datum::Char(c) => Value::chr(*c),
            Datum::Str(s) => self.string(s)?,
            Datum::Sym(s) => self.intern(s)?,
            Datum::Unspec => UNSPEC,
            Datum::Bytes(b) => self.h.bytevector(&self.r, b)?,
            Datum::List(v, tail, _) => {
                let t = match tail {
                    Some(t) => self.datum_to_value(t)?,
                    None => NIL,
                };
                self.r.tmp.push(t);
                for e in v.iter().rev() {
                    let x = match self.datum_to_value(e) {
                        Ok(x) => x,
                        Err(e) => {
                            self.r.tmp.pop();
                            return Err(e);
                        }
                    };
                    let acc = *self.r.tmp.last().unwrap_or(&NIL);
                    let p = self.cons(x, acc);
                    match p {
                        Ok(p) => {
                            if let Some(l) = self.r.tmp.last_mut() {
                                *l = p;
                            }
                        }
                        Err(e) => {
                            self.r.tmp.pop();
                            return Err(e);
                        }
                    }
                }
                self.r.tmp.pop().unwrap_or(NIL)
            }
            Datum::Vector(v) => {
                let o = self.h.obj(&self.r, Kind::Vector, v.len(), UNSPEC)?;
                self.r.tmp.push(o);
                for (i, e) in v.iter().enumerate() {
                    match self.datum_to_value(e) {
                        Ok(x) => self.h.set_slot(o, i, x),
                        Err(e) => {
                            self.r.tmp.pop();
                            return Err(e);
                        }
                    }
                }
                self.r.tmp.pop();
                o
            }
        })
    }

    /// Takes the compiler's new protos, materialising their constants.
    pub fn link(&mut self) -> R<()> {
        let new: Vec<Proto> = std::mem::take(&mut self.comp.out);
        for mut p in new {
            p.const_base = self.r.perm.len();
            let consts = std::mem::take(&mut p.consts);
            // Reserve the constant slots first so each value is rooted once made.
            self.r.perm.resize(p.const_base + consts.len(), UNSPEC);
            for (i, c) in consts.iter().enumerate() {
                let v = self.datum_to_value(c)?;
                self.r.perm[p.const_base + i] = v;
            }
            if std::env::var_os("MARROW_DUMP").is_some() && !p.prelude {
                eprintln!(
                    "proto {} {:?} nl={} ms={}",
                    self.protos.len(),
                    p.name,
                    p.nlocals,
                    p.max_stack
                );
                for (i, op) in p.code.iter().enumerate() {
                    eprintln!("  {i:3} {op:?}");
                }
            }
            self.protos.push(Box::new(p));
        }
        self.comp.proto_base = self.protos.len();
        self.r
            .globals
            .resize(self.comp.global_names.len().max(self.r.globals.len()), UNBOUND);
        Ok(())
    }

    /// Compiles and links one top-level form; returns its proto index.
    pub fn compile(&mut self, d: &Datum) -> Result<usize, Failure> {
        self.comp.proto_base = self.protos.len();
        let r = self.comp.compile_toplevel(d, "");
        match r {
            Ok(i) => {
                self.link().map_err(|e| self.plain_failure(e))?;
                Ok(i)
            }
            Err(e) => {
                self.comp.out.clear();
                Err(Failure::Error {
                    pos: Some(e.pos),
                    msg: e.msg,
                    trace: vec![],
                })
            }
        }
    }

    fn plain_failure(&self, e: SErr) -> Failure {
        match e {
            SErr::Exit(c) => Failure::Exit(c),
            SErr::Msg(m) | SErr::Oom(m) | SErr::Kinded(m, _) => Failure::Error {
                pos: None,
                msg: m,
                trace: vec![],
            },
            SErr::Raise(v, _) => Failure::Error {
                pos: None,
                msg: self.condition_message(v),
                trace: vec![],
            },
        }
    }

    /// Compiles and runs one form.
    pub fn eval_datum(&mut self, d: &Datum) -> Result<Value, Failure> {
        let p = self.compile(d)?;
        self.run_proto(p)
    }

    /// Runs a thunk proto to completion.
    pub fn run_proto(&mut self, p: usize) -> Result<Value, Failure> {
        let clo = self.h.obj(&self.r, Kind::Closure, 1, Value::fix(p as i64));
        let clo = clo.map_err(|e| self.plain_failure(e))?;
        let sp0 = self.r.stack.len();
        let fr0 = self.frames.len();
        self.r.stack.push(clo);
        let r = self.run(sp0 + 1);
        if r.is_err() {
            self.r.stack.truncate(sp0);
            self.frames.truncate(fr0);
            self.r.tmp.clear();
        } else {
            self.r.stack.truncate(sp0);
        }
        r
    }

    // ------------------------------------------------------------- errors

    /// The text of a condition for an uncaught-error report.
    pub fn condition_message(&self, v: Value) -> String {
        if is_kind(v, Kind::Error) {
            let msg = slot(v, 0);
            let mut s = if is_kind(msg, Kind::String) {
                string_of(msg)
            } else {
                self.write_short(msg, true)
            };
            let mut l = slot(v, 1);
            while l.is_pair() {
                s.push(' ');
                s.push_str(&self.write_short(car(l), false));
                l = cdr(l);
            }
            s
        } else {
            format!("uncaught exception: {}", self.write_short(v, false))
        }
    }

    fn location(&self, cur: u32, pc: usize) -> (Option<Pos>, Vec<String>) {
        let mut pos = None;
        let mut trace = Vec::new();
        let consider = |p: u32, pc: usize, pos: &mut Option<Pos>, trace: &mut Vec<String>| {
            if p == EXIT {
                return;
            }
            let proto = &self.protos[p as usize];
            if proto.prelude {
                return;
            }
            if pos.is_none() {
                if let Some(ps) = proto.pos.get(pc.saturating_sub(1)) {
                    if ps.line > 0 {
                        *pos = Some(*ps);
                    }
                }
            }
            if !proto.name.is_empty() && trace.len() < 12 {
                let at = proto
                    .pos
                    .get(pc.saturating_sub(1))
                    .filter(|p| p.line > 0)
                    .map(|p| format!(" at {p}"))
                    .unwrap_or_default();
                let line = format!("{}{}", proto.name, at);
                if trace.last() != Some(&line) {
                    trace.push(line);
                }
            }
        };
        consider(cur, pc, &mut pos, &mut trace);
        for f in self.frames.iter().rev() {
            consider(f.proto, f.pc as usize, &mut pos, &mut trace);
            if trace.len() >= 12 {
                break;
            }
        }
        (pos, trace)
    }

    /// The error object for message `m` of condition kind `kind`, not
    /// continuable; if it cannot be made, the failure that ends `run`.
    fn error_object(&mut self, m: String, kind: Value, cur: u32, pc: usize) -> Result<(Value, bool), Failure> {
        let o = match self.make_error_kind(&m, NIL, kind) {
            Ok(o) => Some(o),
            // Building the error object ran out of memory: raise that.
            Err(SErr::Oom(om)) => self.oom_condition(&format!("{om} (raising: {m})")),
            Err(_) => None,
        };
        match o {
            Some(o) => Ok((o, false)),
            None => {
                let (pos, trace) = self.location(cur, pc);
                Err(Failure::Error { pos, msg: m, trace })
            }
        }
    }

    /// Routes an error: to the Scheme handler stack if one is installed
    /// (pushing a call to the prelude's raise helper), else out of `run`.
    fn throw(&mut self, e: SErr, cur: u32, pc: usize) -> Result<(Value, Value), Failure> {
        let handlers = self.r.globals[self.g_handlers as usize];
        let no_handlers = !handlers.is_pair();
        let (obj, continuable) = match e {
            SErr::Exit(c) => return Err(Failure::Exit(c)),
            SErr::Raise(v, c) => (v, c),
            SErr::Msg(m) | SErr::Oom(m) | SErr::Kinded(m, _) if no_handlers => {
                let (pos, trace) = self.location(cur, pc);
                return Err(Failure::Error { pos, msg: m, trace });
            }
            // Out of memory: live data may fill the heap (the collector's
            // emergency collection has already failed to make room), so the
            // condition is the preallocated one and nothing on the way to
            // the handler allocates. `guard` unwinds before it allocates, so
            // the dropped data is garbage by the time anything allocates.
            SErr::Oom(m) => match self.oom_condition(&m) {
                Some(o) => (o, false),
                None => match self.make_error(&m, NIL) {
                    Ok(o) => (o, false),
                    Err(_) => {
                        let (pos, trace) = self.location(cur, pc);
                        return Err(Failure::Error { pos, msg: m, trace });
                    }
                },
            },
            SErr::Msg(m) => self.error_object(m, FALSE, cur, pc)?,
            SErr::Kinded(m, k) => self.error_object(m, Value::fix(k as i64), cur, pc)?,
        };
        if no_handlers {
            let (pos, trace) = self.location(cur, pc);
            return Err(Failure::Error {
                pos,
                msg: self.condition_message(obj),
                trace,
            });
        }
        let h = self.r.globals[if continuable { self.g_raise_cont } else { self.g_raise } as usize];
        Ok((h, obj))
    }

    pub fn make_error(&mut self, msg: &str, irritants: Value) -> R<Value> {
        self.make_error_kind(msg, irritants, FALSE)
    }

    /// An error object; `kind` is `#f` or a [`CondKind`] as a fixnum.
    pub fn make_error_kind(&mut self, msg: &str, irritants: Value, kind: Value) -> R<Value> {
        self.r.tmp.push(irritants);
        let s = self.string(msg);
        let irr = self.r.tmp.pop().unwrap_or(NIL);
        let s = s?;
        self.make_obj(Kind::Error, &[s, irr, kind])
    }

    // ------------------------------------------------------------- the loop

    /// Captures the current continuation into a heap object.
    fn capture(&mut self, upto: usize, cur: u32, pc: usize, base: usize) -> R<Value> {
        let nf = self.frames.len();
        let n = 5 + upto + nf * 3;
        let k = self.h.obj(&self.r, Kind::Cont, n, UNSPEC)?;
        self.h.set_slot(k, 0, Value::fix(upto as i64));
        self.h.set_slot(k, 1, Value::fix(nf as i64));
        self.h.set_slot(k, 2, Value::fix(pc as i64));
        self.h.set_slot(k, 3, Value::fix(base as i64));
        self.h.set_slot(k, 4, Value::fix(cur as i64));
        for i in 0..upto {
            let v = self.r.stack[i];
            self.h.set_slot(k, 5 + i, v);
        }
        for i in 0..nf {
            let f = self.frames[i];
            let w = 5 + upto + i * 3;
            // Frame words are fixnums: the collector ignores them.
            let a = if f.proto == EXIT { -1 } else { f.proto as i64 };
            self.h.set_slot(k, w, Value::fix(a));
            self.h.set_slot(k, w + 1, Value::fix(f.pc as i64));
            self.h.set_slot(k, w + 2, Value::fix(f.base as i64));
        }
        Ok(k)
    }

    /// Reinstates a continuation; returns the registers (cur, pc, base).
    fn reinstate(&mut self, k: Value, v: Value) -> (u32, usize, usize) {
        let upto = slot(k, 0).fixval() as usize;
        let nf = slot(k, 1).fixval() as usize;
        let pc = slot(k, 2).fixval() as usize;
        let base = slot(k, 3).fixval() as usize;
        let cur = slot(k, 4).fixval() as u32;
        self.r.stack.clear();
        for i in 0..upto {
            self.r.stack.push(slot(k, 5 + i));
        }
        self.frames.clear();
        for i in 0..nf {
            let w = 5 + upto + i * 3;
            let p = slot(k, w).fixval();
            self.frames.push(Frame {
                proto: if p < 0 { EXIT } else { p as u32 },
                pc: slot(k, w + 1).fixval() as u32,
                base: slot(k, w + 2).fixval() as u32,
            });
        }
        self.r.stack.push(v);
        (cur, pc, base)
    }

    /// Runs from the closure at `stack[base-1]` until the matching return.
    ///
    /// Stack invariant (S), which the unchecked stack accesses below rely
    /// on: while an instruction of `proto` runs in the frame at `base`,
    /// `stack.len() == base + nlocals + d` where `d` is the depth that
    /// [`max_stack`](crate::compile::max_stack) proved for that instruction
    /// (so pops never reach the locals and local indexes are in range), and
    /// `stack.capacity() >= base + nlocals + max_stack + SLACK` (ensured by
    /// [`fill_frame`] on every entry; capacity never shrinks, so it still
    /// holds when a callee returns). `pc` indexes the code: every proto ends
    /// in `Return` and its jumps stay inside it (also checked by `max_stack`).
    fn run(&mut self, base0: usize) -> Result<Value, Failure> {
        self.frames.push(Frame {
            proto: EXIT,
            pc: 0,
            base: 0,
        });
        let mut base = base0;
        let clo = self.r.stack[base - 1];
        let mut cur = slot(clo, 0).fixval() as u32;
        // SAFETY: protos are boxed and never removed while the VM lives, so
        // this pointer stays valid even when `self.protos` grows.
        let mut proto: *const Proto = &*self.protos[cur as usize];
        // SAFETY: as above.
        let (nl, ms) = unsafe { ((*proto).nlocals as usize, (*proto).max_stack as usize) };
        fill_frame(&mut self.r.stack, base + nl, base + nl + ms);
        // SAFETY: as above.
        let mut code: *const Op = unsafe { (*proto).code.as_ptr() };
        let mut pc: usize = 0;
        loop {
            // SAFETY: pc is inside the current proto's code (invariant S).
            let op = unsafe { *code.add(pc) };
            pc += 1;
            let st = &mut self.r.stack;
            // Each arm either continues the loop or yields the error to route.
            let e: SErr = match op {
                Op::Imm(v) => {
                    // SAFETY: invariant S (the push is within max_stack).
                    unsafe { push(st, v) };
                    continue;
                }
                Op::Const(k) => {
                    // SAFETY: `proto` points at a live boxed Proto.
                    let cb = unsafe { (*proto).const_base };
                    let v = self.r.perm[cb + k as usize];
                    // SAFETY: invariant S.
                    unsafe { push(&mut self.r.stack, v) };
                    continue;
                }
                Op::Local(i) => {
                    // SAFETY: invariant S (i < nlocals).
                    unsafe {
                        let v = get(st, base + i as usize);
                        push(st, v);
                    }
                    continue;
                }
                Op::LocalCar(i) | Op::LocalCdr(i) => {
                    // SAFETY: invariant S (i < nlocals).
                    let x = unsafe { get(st, base + i as usize) };
                    if x.is_pair() {
                        let v = if matches!(op, Op::LocalCar(_)) { car(x) } else { cdr(x) };
                        // SAFETY: invariant S.
                        unsafe { push(st, v) };
                        continue;
                    }
                    let who = if matches!(op, Op::LocalCar(_)) { "car" } else { "cdr" };
                    self.type_err(who, "a pair", x)
                }
                Op::Local2(a, b) => {
                    // SAFETY: invariant S (a, b < nlocals; two pushes within max_stack).
                    unsafe {
                        let x = get(st, base + a as usize);
                        let y = get(st, base + b as usize);
                        push(st, x);
                        push(st, y);
                    }
                    continue;
                }
                Op::LocalAddImm(i, k) | Op::LocalSubImm(i, k) => {
                    // SAFETY: invariant S (i < nlocals).
                    let a = unsafe { get(st, base + i as usize) };
                    let add = matches!(op, Op::LocalAddImm(..));
                    if let Some(r) = fix_add_imm(a, k, add) {
                        // SAFETY: invariant S.
                        unsafe { push(st, r) };
                        continue;
                    }
                    // Slow path: the operand stays rooted in its local slot.
                    let b = Value::fix(k as i64);
                    let r = if add {
                        builtins::num::add2(self, a, b)
                    } else {
                        builtins::num::sub2(self, a, b)
                    };
                    match r {
                        Ok(v) => {
                            // SAFETY: invariant S.
                            unsafe { push(&mut self.r.stack, v) };
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::LocalJumpUnlessCmpImm(i, c, k, t) => {
                    // SAFETY: invariant S (i < nlocals).
                    let a = unsafe { get(st, base + i as usize) };
                    let r = if a.is_fix() {
                        Ok(c.test(a.fixval(), k as i64))
                    } else {
                        builtins::num::compare(self, c.name(), a, Value::fix(k as i64)).map(|o| c.holds(o))
                    };
                    match r {
                        Ok(true) => continue,
                        Ok(false) => {
                            pc = t as usize;
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::LocalBox(i) => {
                    // SAFETY: invariant S.
                    let b = unsafe { get(st, base + i as usize) };
                    let v = slot(b, 0);
                    if v != UNBOUND {
                        // SAFETY: invariant S.
                        unsafe { push(st, v) };
                        continue;
                    }
                    SErr::Msg("variable used before its definition".into())
                }
                Op::SetLocal(i) => {
                    // SAFETY: invariant S.
                    unsafe {
                        let v = pop(st);
                        set(st, base + i as usize, v);
                    }
                    continue;
                }
                Op::SetLocalBox(i) => {
                    // SAFETY: invariant S.
                    let (v, b) = unsafe { (pop(st), get(st, base + i as usize)) };
                    self.h.set_slot(b, 0, v);
                    continue;
                }
                Op::BoxLocal(i) => {
                    // SAFETY: invariant S.
                    let v = unsafe { get(st, base + i as usize) };
                    match self.h.obj(&self.r, Kind::Box, 1, v) {
                        Ok(b) => {
                            // SAFETY: invariant S.
                            unsafe { set(&mut self.r.stack, base + i as usize, b) };
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::Free(i) => {
                    // SAFETY: invariant S (the closure sits below slot 0).
                    let c = unsafe { get(st, base - 1) };
                    let v = slot(c, 1 + i as usize);
                    if v != UNBOUND {
                        // SAFETY: invariant S.
                        unsafe { push(st, v) };
                        continue;
                    }
                    SErr::Msg("variable used before its definition".into())
                }
                Op::FreeBox(i) => {
                    // SAFETY: invariant S.
                    let c = unsafe { get(st, base - 1) };
                    let v = slot(slot(c, 1 + i as usize), 0);
                    if v != UNBOUND {
                        // SAFETY: invariant S.
                        unsafe { push(st, v) };
                        continue;
                    }
                    SErr::Msg("variable used before its definition".into())
                }
                Op::SetFreeBox(i) => {
                    // SAFETY: invariant S.
                    let (v, c) = unsafe { (pop(st), get(st, base - 1)) };
                    let b = slot(c, 1 + i as usize);
                    self.h.set_slot(b, 0, v);
                    continue;
                }
                Op::Global(i) => {
                    let v = self.r.globals[i as usize];
                    if v != UNBOUND {
                        // SAFETY: invariant S.
                        unsafe { push(&mut self.r.stack, v) };
                        continue;
                    }
                    SErr::Msg(format!("unbound variable: {}", self.comp.global_names[i as usize]))
                }
                Op::SetGlobal(i) => {
                    if self.r.globals[i as usize] != UNBOUND {
                        // SAFETY: invariant S.
                        let v = unsafe { pop(&mut self.r.stack) };
                        self.r.globals[i as usize] = v;
                        continue;
                    }
                    // SAFETY: invariant S.
                    unsafe { pop(&mut self.r.stack) };
                    SErr::Msg(format!(
                        "set!: unbound variable: {}",
                        self.comp.global_names[i as usize]
                    ))
                }
                Op::DefGlobal(i) => {
                    // SAFETY: invariant S.
                    let v = unsafe { pop(st) };
                    self.r.globals[i as usize] = v;
                    continue;
                }
                Op::Pop => {
                    // SAFETY: invariant S.
                    unsafe { pop(st) };
                    continue;
                }
                Op::Jump(t) => {
                    pc = t as usize;
                    continue;
                }
                Op::JumpIfFalse(t) => {
                    // SAFETY: invariant S.
                    if unsafe { pop(st) } == FALSE {
                        pc = t as usize;
                    }
                    continue;
                }
                Op::JumpUnlessNull(t) => {
                    // SAFETY: invariant S.
                    if unsafe { pop(st) } != NIL {
                        pc = t as usize;
                    }
                    continue;
                }
                Op::JumpUnlessPair(t) => {
                    // SAFETY: invariant S.
                    if !unsafe { pop(st) }.is_pair() {
                        pc = t as usize;
                    }
                    continue;
                }
                Op::JumpUnlessCmp(c, t) => {
                    // SAFETY: invariant S.
                    let (b, a) = unsafe { (pop(st), pop(st)) };
                    let r = if a.is_fix() && b.is_fix() {
                        Ok(c.test(a.fixval(), b.fixval()))
                    } else {
                        builtins::num::compare(self, c.name(), a, b).map(|o| c.holds(o))
                    };
                    match r {
                        Ok(true) => continue,
                        Ok(false) => {
                            pc = t as usize;
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::JumpUnlessCmpImm(c, k, t) => {
                    // SAFETY: invariant S.
                    let a = unsafe { pop(st) };
                    let r = if a.is_fix() {
                        Ok(c.test(a.fixval(), k as i64))
                    } else {
                        builtins::num::compare(self, c.name(), a, Value::fix(k as i64)).map(|o| c.holds(o))
                    };
                    match r {
                        Ok(true) => continue,
                        Ok(false) => {
                            pc = t as usize;
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::CmpImm(c, k) => {
                    // SAFETY: invariant S.
                    let a = unsafe { pop(st) };
                    let r = if a.is_fix() {
                        Ok(c.test(a.fixval(), k as i64))
                    } else {
                        builtins::num::compare(self, c.name(), a, Value::fix(k as i64)).map(|o| c.holds(o))
                    };
                    match r {
                        Ok(b) => {
                            // SAFETY: invariant S.
                            unsafe { push(&mut self.r.stack, Value::bool(b)) };
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::Call(argc) => {
                    if self.fuel == 0 {
                        SErr::Msg("step limit reached (see --max-steps)".to_string())
                    } else {
                        self.fuel -= 1;
                        let argc = argc as usize;
                        let fpos = st.len() - argc - 1;
                        // SAFETY: invariant S (the callee and its arguments are temporaries).
                        let f = unsafe { get(st, fpos) };
                        if is_kind(f, Kind::Closure) {
                            let pi = slot(f, 0).fixval() as usize;
                            // SAFETY: a closure's proto index was linked before the closure was made.
                            let np: *const Proto = unsafe { &**self.protos.get_unchecked(pi) };
                            // SAFETY: protos live as long as the VM.
                            let npr = unsafe { &*np };
                            if argc == npr.nparams as usize && !npr.rest && self.frames.len() < self.max_depth {
                                self.frames.push(Frame {
                                    proto: cur,
                                    pc: pc as u32,
                                    base: base as u32,
                                });
                                base = fpos + 1;
                                let end = base + npr.nlocals as usize;
                                fill_frame(&mut self.r.stack, end, end + npr.max_stack as usize);
                                cur = pi as u32;
                                proto = np;
                                code = npr.code.as_ptr();
                                pc = 0;
                                continue;
                            }
                        }
                        match self.enter(argc, false, &mut cur, &mut proto, &mut pc, &mut base) {
                            Ok(()) => {
                                // SAFETY: `proto` points at a live boxed Proto.
                                code = unsafe { (*proto).code.as_ptr() };
                                continue;
                            }
                            Err(e) => e,
                        }
                    }
                }
                Op::TailCall(argc) => {
                    if self.fuel == 0 {
                        SErr::Msg("step limit reached (see --max-steps)".to_string())
                    } else {
                        self.fuel -= 1;
                        let argc = argc as usize;
                        let sp = st.len();
                        let fpos = sp - argc - 1;
                        // SAFETY: invariant S.
                        let f = unsafe { get(st, fpos) };
                        if is_kind(f, Kind::Closure) {
                            let pi = slot(f, 0).fixval() as usize;
                            // SAFETY: a closure's proto index was linked before the closure was made.
                            let np: *const Proto = unsafe { &**self.protos.get_unchecked(pi) };
                            // SAFETY: protos live as long as the VM.
                            let npr = unsafe { &*np };
                            if argc == npr.nparams as usize && !npr.rest {
                                st.copy_within(fpos..sp, base - 1);
                                // SAFETY: base + argc <= sp: the moved values are initialised.
                                unsafe { st.set_len(base + argc) };
                                let end = base + npr.nlocals as usize;
                                fill_frame(st, end, end + npr.max_stack as usize);
                                cur = pi as u32;
                                proto = np;
                                code = npr.code.as_ptr();
                                pc = 0;
                                continue;
                            }
                        }
                        match self.enter(argc, true, &mut cur, &mut proto, &mut pc, &mut base) {
                            Ok(()) => {
                                // SAFETY: `proto` points at a live boxed Proto.
                                code = unsafe { (*proto).code.as_ptr() };
                                continue;
                            }
                            Err(e) => e,
                        }
                    }
                }
                Op::Return => {
                    // SAFETY: invariant S; base >= 1 (the closure sits below the frame).
                    let v = unsafe {
                        let v = pop(st);
                        st.set_len(base - 1);
                        push(st, v);
                        v
                    };
                    let f = match self.frames.pop() {
                        Some(f) => f,
                        None => return Ok(v),
                    };
                    if f.proto == EXIT {
                        self.r.stack.pop();
                        return Ok(v);
                    }
                    cur = f.proto;
                    proto = &*self.protos[cur as usize];
                    // SAFETY: `proto` points at a live boxed Proto.
                    code = unsafe { (*proto).code.as_ptr() };
                    pc = f.pc as usize;
                    base = f.base as usize;
                    if self.overflow_slack && self.frames.len() < self.max_depth {
                        self.overflow_slack = false;
                    }
                    continue;
                }
                Op::Closure(pi, n) => {
                    let n = n as usize;
                    match self.h.obj_uninit(&self.r, Kind::Closure, n + 1) {
                        Ok(c) => {
                            self.h.set_slot(c, 0, Value::fix(pi as i64));
                            let st = &mut self.r.stack;
                            let sp = st.len();
                            for i in 0..n {
                                // SAFETY: invariant S (the n free values are temporaries).
                                let v = unsafe { get(st, sp - n + i) };
                                self.h.set_slot(c, 1 + i, v);
                            }
                            // SAFETY: invariant S.
                            unsafe {
                                st.set_len(sp - n);
                                push(st, c);
                            }
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::Patch(c, fi, v) => {
                    // SAFETY: invariant S (both slots < nlocals).
                    let (clo, val) = unsafe { (get(st, base + c as usize), get(st, base + v as usize)) };
                    self.h.set_slot(clo, 1 + fi as usize, val);
                    continue;
                }
                Op::Car | Op::Cdr => {
                    // SAFETY: invariant S.
                    let x = unsafe { pop(st) };
                    if x.is_pair() {
                        let v = if op == Op::Car { car(x) } else { cdr(x) };
                        // SAFETY: invariant S.
                        unsafe { push(st, v) };
                        continue;
                    }
                    self.type_err(if op == Op::Car { "car" } else { "cdr" }, "a pair", x)
                }
                Op::Cons => {
                    // The operands stay on the stack (rooted) while allocating.
                    let n = st.len();
                    // SAFETY: invariant S.
                    let (a, b) = unsafe { (get(st, n - 2), get(st, n - 1)) };
                    match self.h.pair(&self.r, a, b) {
                        Ok(c) => {
                            let st = &mut self.r.stack;
                            // SAFETY: invariant S.
                            unsafe {
                                st.set_len(n - 2);
                                push(st, c);
                            }
                            continue;
                        }
                        Err(e) => {
                            self.r.stack.truncate(n - 2);
                            e
                        }
                    }
                }
                Op::NullP | Op::PairP | Op::Not => {
                    // SAFETY: invariant S.
                    unsafe {
                        let x = pop(st);
                        let b = match op {
                            Op::NullP => x == NIL,
                            Op::PairP => x.is_pair(),
                            _ => x == FALSE,
                        };
                        push(st, Value::bool(b));
                    }
                    continue;
                }
                Op::EqP => {
                    // SAFETY: invariant S.
                    unsafe {
                        let b = pop(st);
                        let a = pop(st);
                        push(st, Value::bool(a == b));
                    }
                    continue;
                }
                Op::AddImm(k) | Op::SubImm(k) => {
                    // SAFETY: invariant S.
                    let a = unsafe { pop(st) };
                    let add = matches!(op, Op::AddImm(_));
                    if let Some(r) = fix_add_imm(a, k, add) {
                        // SAFETY: invariant S.
                        unsafe { push(st, r) };
                        continue;
                    }
                    let b = Value::fix(k as i64);
                    // The operand is popped: root it while the result may allocate.
                    self.r.tmp.push(a);
                    let r = if add {
                        builtins::num::add2(self, a, b)
                    } else {
                        builtins::num::sub2(self, a, b)
                    };
                    self.r.tmp.pop();
                    match r {
                        Ok(v) => {
                            // SAFETY: invariant S.
                            unsafe { push(&mut self.r.stack, v) };
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::Add | Op::Sub | Op::Mul => {
                    let n = st.len();
                    // SAFETY: invariant S.
                    let (a, b) = unsafe { (get(st, n - 2), get(st, n - 1)) };
                    if a.is_fix() && b.is_fix() {
                        let (x, y) = (a.fixval(), b.fixval());
                        let r = match op {
                            Op::Add => Some(x + y),
                            Op::Sub => Some(x - y),
                            _ => x.checked_mul(y),
                        };
                        if let Some(r) = r.filter(|r| Value::fits_fix(*r)) {
                            // SAFETY: invariant S.
                            unsafe {
                                st.set_len(n - 2);
                                push(st, Value::fix(r));
                            }
                            continue;
                        }
                    }
                    // Slow path: the operands stay on the stack (rooted).
                    let r = match op {
                        Op::Add => builtins::num::add2(self, a, b),
                        Op::Sub => builtins::num::sub2(self, a, b),
                        _ => builtins::num::mul2(self, a, b),
                    };
                    self.r.stack.truncate(n - 2);
                    match r {
                        Ok(v) => {
                            // SAFETY: invariant S.
                            unsafe { push(&mut self.r.stack, v) };
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::Lt | Op::Gt | Op::Le | Op::Ge | Op::NumEq => {
                    let c = match op {
                        Op::Lt => Cmp::Lt,
                        Op::Gt => Cmp::Gt,
                        Op::Le => Cmp::Le,
                        Op::Ge => Cmp::Ge,
                        _ => Cmp::Eq,
                    };
                    // SAFETY: invariant S.
                    let (b, a) = unsafe { (pop(st), pop(st)) };
                    let r = if a.is_fix() && b.is_fix() {
                        Ok(c.test(a.fixval(), b.fixval()))
                    } else {
                        builtins::num::compare(self, c.name(), a, b).map(|o| c.holds(o))
                    };
                    match r {
                        Ok(b) => {
                            // SAFETY: invariant S.
                            unsafe { push(&mut self.r.stack, Value::bool(b)) };
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::ZeroP => {
                    // SAFETY: invariant S.
                    let a = unsafe { pop(st) };
                    let r = if a.is_fix() {
                        Ok(a.fixval() == 0)
                    } else {
                        builtins::num::compare(self, "zero?", a, Value::fix(0))
                            .map(|o| o == Some(std::cmp::Ordering::Equal))
                    };
                    match r {
                        Ok(b) => {
                            // SAFETY: invariant S.
                            unsafe { push(&mut self.r.stack, Value::bool(b)) };
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Op::VecRef => {
                    // SAFETY: invariant S.
                    let (i, v) = unsafe { (pop(st), pop(st)) };
                    if is_kind(v, Kind::Vector) && i.is_fix() && (i.fixval() as usize) < len(v) {
                        // SAFETY: invariant S.
                        unsafe { push(st, slot(v, i.fixval() as usize)) };
                        continue;
                    }
                    match vec_index(self, "vector-ref", v, i) {
                        Ok(_) => unreachable!("vector-ref fast path missed a valid index"),
                        Err(e) => e,
                    }
                }
                Op::VecRefImm(k) => {
                    // SAFETY: invariant S.
                    let v = unsafe { pop(st) };
                    if is_kind(v, Kind::Vector) && (k as usize) < len(v) {
                        // SAFETY: invariant S.
                        unsafe { push(st, slot(v, k as usize)) };
                        continue;
                    }
                    match vec_index(self, "vector-ref", v, Value::fix(k as i64)) {
                        Ok(_) => unreachable!("vector-ref fast path missed a valid index"),
                        Err(e) => e,
                    }
                }
                Op::Vector(n) => {
                    // The elements stay on the stack (rooted) while allocating.
                    let n = n as usize;
                    match self.h.obj_uninit(&self.r, Kind::Vector, n) {
                        Ok(o) => {
                            let st = &mut self.r.stack;
                            let sp = st.len();
                            for i in 0..n {
                                // SAFETY: invariant S (the n elements are temporaries).
                                let x = unsafe { get(st, sp - n + i) };
                                self.h.set_slot(o, i, x);
                            }
                            // SAFETY: invariant S.
                            unsafe {
                                st.set_len(sp - n);
                                push(st, o);
                            }
                            continue;
                        }
                        Err(e) => {
                            let sp = self.r.stack.len();
                            self.r.stack.truncate(sp - n);
                            e
                        }
                    }
                }
                Op::VecSet => {
                    // SAFETY: invariant S.
                    let (x, i, v) = unsafe { (pop(st), pop(st), pop(st)) };
                    if is_kind(v, Kind::Vector) && i.is_fix() && (i.fixval() as usize) < len(v) {
                        self.h.set_slot(v, i.fixval() as usize, x);
                        // SAFETY: invariant S.
                        unsafe { push(&mut self.r.stack, UNSPEC) };
                        continue;
                    }
                    match vec_index(self, "vector-set!", v, i) {
                        Ok(_) => unreachable!("vector-set! fast path missed a valid index"),
                        Err(e) => e,
                    }
                }
                Op::SetCar | Op::SetCdr => {
                    // SAFETY: invariant S.
                    let (x, p) = unsafe { (pop(st), pop(st)) };
                    if p.is_pair() {
                        self.h.write(p, if op == Op::SetCar { 0 } else { 1 }, x);
                        // SAFETY: invariant S.
                        unsafe { push(&mut self.r.stack, UNSPEC) };
                        continue;
                    }
                    self.type_err(if op == Op::SetCar { "set-car!" } else { "set-cdr!" }, "a pair", p)
                }
            };
            let (h, obj) = self.throw(e, cur, pc)?;
            self.r.stack.push(h);
            self.r.stack.push(obj);
            self.overflow_slack = true;
            if let Err(e) = self.enter(1, false, &mut cur, &mut proto, &mut pc, &mut base) {
                let (pos, trace) = self.location(cur, pc);
                return Err(Failure::Error {
                    pos,
                    msg: format!("error while handling an error: {e:?}"),
                    trace,
                });
            }
            // SAFETY: `proto` points at a live boxed Proto.
            code = unsafe { (*proto).code.as_ptr() };
        }
    }

    /// The printed representation of `v` (`display` style when `display`).
    pub fn write_string(&self, v: Value, display: bool) -> String {
        printer::print_value(self, v, display, usize::MAX)
    }

    /// `v` printed for an error message: cut to a few hundred bytes.
    pub fn write_short(&self, v: Value, display: bool) -> String {
        printer::print_short(self, v, display)
    }

    pub fn type_err(&self, who: &str, what: &str, got: Value) -> SErr {
        SErr::Msg(format!("{who}: expected {what}, got {}", self.write_short(got, false)))
    }

    /// Calls the procedure at `stack[sp-argc-1]` with the `argc` values above
    /// it (the general path: `run` inlines plain closure calls).
    #[inline(never)]
    fn enter(
        &mut self,
        mut argc: usize,
        tail: bool,
        cur: &mut u32,
        proto: &mut *const Proto,
        pc: &mut usize,
        base: &mut usize,
    ) -> R<()> {
        loop {
            let sp = self.r.stack.len();
            let fpos = sp - argc - 1;
            let f = self.r.stack[fpos];
            if is_kind(f, Kind::Closure) {
                let pi = slot(f, 0).fixval() as usize;
                let np: &Proto = &self.protos[pi];
                let nparams = np.nparams as usize;
                if argc != nparams && !(np.rest && argc >= nparams) {
                    self.r.stack.truncate(fpos);
                    return Err(SErr::Msg(format!(
                        "{}: wrong number of arguments (expected {}{}, got {})",
                        if np.name.is_empty() { "#<procedure>" } else { &np.name },
                        if np.rest { "at least " } else { "" },
                        nparams,
                        argc
                    )));
                }
                let rest = np.rest;
                let nlocals = np.nlocals as usize;
                let np_max_stack = np.max_stack as usize;
                let newbase = if tail {
                    let dst = *base - 1;
                    self.r.stack.copy_within(fpos..sp, dst);
                    self.r.stack.truncate(dst + argc + 1);
                    dst + 1
                } else {
                    if self.frames.len() >= self.max_depth && !self.overflow_slack {
                        self.r.stack.truncate(fpos);
                        return Err(SErr::Msg(format!(
                            "stack overflow: recursion deeper than {} frames (see --max-depth)",
                            self.max_depth
                        )));
                    }
                    self.frames.push(Frame {
                        proto: *cur,
                        pc: *pc as u32,
                        base: *base as u32,
                    });
                    fpos + 1
                };
                if rest {
                    // Collect the extra arguments into a list (they stay on the stack meanwhile).
                    self.r.tmp.push(NIL);
                    let top = self.r.stack.len();
                    for i in (newbase + nparams..top).rev() {
                        let x = self.r.stack[i];
                        let acc = *self.r.tmp.last().unwrap_or(&NIL);
                        let p = self.h.pair(&self.r, x, acc)?;
                        if let Some(l) = self.r.tmp.last_mut() {
                            *l = p;
                        }
                    }
                    let l = self.r.tmp.pop().unwrap_or(NIL);
                    self.r.stack.truncate(newbase + nparams);
                    self.r.stack.push(l);
                }
                let end = newbase + nlocals;
                fill_frame(&mut self.r.stack, end, end + np_max_stack);
                *cur = pi as u32;
                *proto = &*self.protos[pi];
                *pc = 0;
                *base = newbase;
                return Ok(());
            }
            if f.is_prim() {
                let prim = &self.prims[f.prim_index()];
                if argc < prim.min as usize || (prim.max != u16::MAX && argc > prim.max as usize) {
                    self.r.stack.truncate(fpos);
                    return Err(SErr::Msg(format!(
                        "{}: wrong number of arguments (got {})",
                        prim.name, argc
                    )));
                }
                match prim.kind {
                    PrimKind::Fn(func) => {
                        let r = func(self, fpos + 1, argc);
                        self.r.stack.truncate(fpos);
                        let v = r?;
                        self.r.stack.push(v);
                        return Ok(());
                    }
                    PrimKind::Apply => {
                        // (apply f a ... lst): spread lst onto the stack.
                        let l = self.r.stack.pop().unwrap_or(NIL);
                        self.r.stack.remove(fpos);
                        argc -= 2;
                        let mut w = Walk::new(l);
                        loop {
                            match w.next_pair() {
                                Ok(Some(p)) => {
                                    self.r.stack.push(car(p));
                                    argc += 1;
                                }
                                Ok(None) => break,
                                Err(Circular) => {
                                    self.r.stack.truncate(fpos);
                                    return Err(circular("apply"));
                                }
                            }
                        }
                        if w.tail() != NIL {
                            self.r.stack.truncate(fpos);
                            return Err(SErr::Msg("apply: last argument must be a list".into()));
                        }
                        continue;
                    }
                    PrimKind::CallCC => {
                        let k = self.capture(fpos, *cur, *pc, *base);
                        let k = match k {
                            Ok(k) => k,
                            Err(e) => {
                                self.r.stack.truncate(fpos);
                                return Err(e);
                            }
                        };
                        let g = self.r.stack[fpos + 1];
                        self.r.stack[fpos] = g;
                        self.r.stack[fpos + 1] = k;
                        argc = 1;
                        continue;
                    }
                    PrimKind::Values => {
                        let v = if argc == 1 {
                            self.r.stack[fpos + 1]
                        } else {
                            let vals: Vec<Value> = self.r.stack[fpos + 1..].to_vec();
                            let o = self.make_obj(Kind::Values, &vals);
                            match o {
                                Ok(o) => o,
                                Err(e) => {
                                    self.r.stack.truncate(fpos);
                                    return Err(e);
                                }
                            }
                        };
                        self.r.stack.truncate(fpos);
                        self.r.stack.push(v);
                        return Ok(());
                    }
                }
            }
            if is_kind(f, Kind::Cont) {
                let v = if argc == 1 {
                    self.r.stack[fpos + 1]
                } else {
                    let vals: Vec<Value> = self.r.stack[fpos + 1..].to_vec();
                    self.make_obj(Kind::Values, &vals)?
                };
                let (c, p, b) = self.reinstate(f, v);
                *cur = c;
                *proto = &*self.protos[c as usize];
                // Restore the capacity part of invariant S for the resumed frame.
                let end = b + self.protos[c as usize].nlocals as usize;
                let need = end + self.protos[c as usize].max_stack as usize + SLACK;
                if self.r.stack.capacity() < need {
                    self.r.stack.reserve(need - self.r.stack.len());
                }
                *pc = p;
                *base = b;
                return Ok(());
            }
            if is_kind(f, Kind::CaseLambda) {
                let mut chosen = None;
                for i in 0..len(f) {
                    let c = slot(f, i);
                    let np = &self.protos[slot(c, 0).fixval() as usize];
                    if argc == np.nparams as usize || (np.rest && argc >= np.nparams as usize) {
                        chosen = Some(c);
                        break;
                    }
                }
                match chosen {
                    Some(c) => {
                        self.r.stack[fpos] = c;
                        continue;
                    }
                    None => {
                        self.r.stack.truncate(fpos);
                        return Err(SErr::Msg(format!("case-lambda: no clause accepts {argc} argument(s)")));
                    }
                }
            }
            if is_kind(f, Kind::Param) {
                if argc == 0 {
                    self.r.stack.truncate(fpos);
                    self.r.stack.push(slot(f, 0));
                    return Ok(());
                }
                if argc == 1 {
                    let v = self.r.stack[fpos + 1];
                    self.h.set_slot(f, 0, v);
                    self.r.stack.truncate(fpos);
                    self.r.stack.push(UNSPEC);
                    return Ok(());
                }
            }
            self.r.stack.truncate(fpos);
            return Err(SErr::Msg(format!("not a procedure: {}", self.write_short(f, false))));
        }
    }
}

impl printer::ProcNames for Vm {
    fn prim_name(&self, i: usize) -> Option<&str> {
        self.prims.get(i).map(|p| p.name)
    }
    fn proto_name(&self, i: usize) -> Option<&str> {
        self.protos.get(i).map(|p| &*p.name)
    }
}

/// Spare stack slots above a frame's proved maximum (the error path pushes
/// a handler call there).
const SLACK: usize = 4;

/// Grows the stack to `end` (a new frame's slots above the arguments set to
/// unspecified) and makes room for `need + SLACK` values (invariant S).
#[inline(always)]
fn fill_frame(st: &mut Vec<Value>, end: usize, need: usize) {
    let top = st.len();
    debug_assert!(top <= end && end <= need);
    if st.capacity() < need + SLACK {
        st.reserve(need + SLACK - top);
    }
    let p = st.as_mut_ptr();
    for i in top..end {
        // SAFETY: i < end <= capacity (reserved above).
        unsafe { p.add(i).write(UNSPEC) };
    }
    // SAFETY: every slot below `end` is initialised.
    unsafe { st.set_len(end) };
}

/// Pushes without a capacity check.
///
/// # Safety
/// `st.len() < st.capacity()` (invariant S in `Vm::run`).
#[inline(always)]
unsafe fn push(st: &mut Vec<Value>, v: Value) {
    let n = st.len();
    debug_assert!(n < st.capacity());
    // SAFETY: n < capacity by the caller's contract.
    unsafe {
        st.as_mut_ptr().add(n).write(v);
        st.set_len(n + 1);
    }
}

/// Pops without an emptiness check.
///
/// # Safety
/// The stack holds a value above the current frame's locals (invariant S).
#[inline(always)]
unsafe fn pop(st: &mut Vec<Value>) -> Value {
    debug_assert!(!st.is_empty());
    let n = st.len() - 1;
    // SAFETY: n < len by the caller's contract; Value is Copy.
    unsafe {
        st.set_len(n);
        *st.as_ptr().add(n)
    }
}

/// Reads slot `i` without a bounds check.
///
/// # Safety
/// `i < st.len()`.
#[inline(always)]
unsafe fn get(st: &[Value], i: usize) -> Value {
    debug_assert!(i < st.len());
    // SAFETY: i < len by the caller's contract.
    unsafe { *st.get_unchecked(i) }
}

/// Writes slot `i` without a bounds check.
///
/// # Safety
/// `i < st.len()`.
#[inline(always)]
unsafe fn set(st: &mut [Value], i: usize, v: Value) {
    debug_assert!(i < st.len());
    // SAFETY: i < len by the caller's contract.
    unsafe { *st.get_unchecked_mut(i) = v }
}

fn vec_index(vm: &Vm, who: &str, v: Value, i: Value) -> R<usize> {
    if !is_kind(v, Kind::Vector) {
        return Err(vm.type_err(who, "a vector", v));
    }
    match i.as_fix() {
        Some(n) if n >= 0 && (n as usize) < len(v) => Ok(n as usize),
        _ => Err(SErr::Msg(format!(
            "{who}: index {} out of range for a vector of length {}",
            vm.write_short(i, false),
            len(v)
        ))),
    }
}

/// `a + k` (or `a - k`) when `a` is a fixnum and the result stays one: the
/// fast path of the add/subtract-immediate instructions.
#[inline(always)]
fn fix_add_imm(a: Value, k: i32, add: bool) -> Option<Value> {
    if !a.is_fix() {
        return None;
    }
    // |k| < 2^31 and |a| < 2^61: no i64 overflow.
    let r = if add {
        a.fixval() + k as i64
    } else {
        a.fixval() - k as i64
    };
    Value::fits_fix(r).then(|| Value::fix(r))
}
