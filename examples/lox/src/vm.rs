//! The virtual machine: clox's `vm.c` on marrow-gc's typed API.
//!
//! All Lox values live on the Marrow heap ([`crate::object`]). The VM
//! runs the program in *slices*, each inside one scope
//! (`Mutator::mutate`): inside a scope nothing is freed and handles are
//! plain pointers; between scopes the collector may run, and the VM's
//! whole state is in roots:
//!
//! - the value stack, a [`RootVec`] of values (clox's `vm.stack`);
//! - the closure of each call frame, another `RootVec` (a frame's slot 0
//!   holds the callee or the receiver, not always the closure); the frames
//!   themselves (instruction offset, stack base) are plain Rust data;
//! - the open upvalues, a `RootVec` sorted by stack slot (clox's
//!   `openUpvalues` list): an open upvalue names its slot by index, since
//!   the stack's storage moves when it grows;
//! - the globals table, the intern table and the string `init`, [`Root`]s.
//!
//! A slice ends when the program ends, on a runtime error, or when
//! [`Mutation::should_yield`] says the collector is waiting; the VM checks
//! it at backward jumps, calls and after the instructions that allocate,
//! so a slice is bounded by straight-line code (and returns, each of which
//! ends a call). The instruction offset is saved in the frame and the next
//! slice resumes.
//!
//! Inside a slice the roots are only written back when it ends, since
//! nothing is collected during it: the dispatch loop (`State::run`)
//! keeps the stack top, the instruction offset and the call frames (with
//! each frame's code, constants and cache base at hand) in locals, and
//! writes the frames back to `self.frames` / the closures `RootVec` when
//! the slice ends (yield, error, end of program).
//!
//! Compiled code arrives as a [`Proto`] tree from the compiler and is
//! materialised as `Function` objects (code, line table and constants on
//! the heap, names and string literals interned) before it runs. The code
//! on the heap is the compiler's with some instruction pairs fused
//! ([`crate::quicken`]).
//!
//! Property access and method invocation use inline caches (see
//! [`Vm`]'s `ic`): per instruction site, the table slot where the name
//! was found last time, checked by key identity before the hash probe.
//! `OP_INVOKE` first asks the instance's field table whether it may hold
//! the name (a filter of the keys it ever held, [`Table::may_contain`]),
//! so the usual case (a method, no such field) costs no field probe.
//!
//! Natives: `clock()` returns the seconds elapsed since the VM started
//! (clox returns the process's CPU time; Lox programs only take
//! differences of it).

use std::io::Write;
use std::time::Instant;

use marrow_gc::runtime::AllocError;
use marrow_gc::typed::{Array, Mutation, Obj, Root, RootVec};
use marrow_gc::Mutator;

use crate::chunk::{Constant, Proto};
use crate::number::format_number;
use crate::object::{
    as_string, intern, new_string, values_equal, BoundMethod, Class, Closure, Function, Instance, Native, ObjRef,
    Object, Table, Upvalue, Val,
};
use crate::quicken::{self, quicken};

/// Opcode bytes, for matching on the byte itself.
mod op {
    use crate::chunk::OpCode;
    pub const ADD: u8 = OpCode::Add as u8;
    pub const CALL: u8 = OpCode::Call as u8;
    pub const CLASS: u8 = OpCode::Class as u8;
    pub const CLOSE_UPVALUE: u8 = OpCode::CloseUpvalue as u8;
    pub const CLOSURE: u8 = OpCode::Closure as u8;
    pub const CONSTANT: u8 = OpCode::Constant as u8;
    pub const DEFINE_GLOBAL: u8 = OpCode::DefineGlobal as u8;
    pub const DIVIDE: u8 = OpCode::Divide as u8;
    pub const EQUAL: u8 = OpCode::Equal as u8;
    pub const FALSE: u8 = OpCode::False as u8;
    pub const GET_GLOBAL: u8 = OpCode::GetGlobal as u8;
    pub const GET_LOCAL: u8 = OpCode::GetLocal as u8;
    pub const GET_PROPERTY: u8 = OpCode::GetProperty as u8;
    pub const GET_SUPER: u8 = OpCode::GetSuper as u8;
    pub const GET_UPVALUE: u8 = OpCode::GetUpvalue as u8;
    pub const GREATER: u8 = OpCode::Greater as u8;
    pub const INHERIT: u8 = OpCode::Inherit as u8;
    pub const INVOKE: u8 = OpCode::Invoke as u8;
    pub const JUMP: u8 = OpCode::Jump as u8;
    pub const JUMP_IF_FALSE: u8 = OpCode::JumpIfFalse as u8;
    pub const LESS: u8 = OpCode::Less as u8;
    pub const LOOP: u8 = OpCode::Loop as u8;
    pub const METHOD: u8 = OpCode::Method as u8;
    pub const MULTIPLY: u8 = OpCode::Multiply as u8;
    pub const NEGATE: u8 = OpCode::Negate as u8;
    pub const NIL: u8 = OpCode::Nil as u8;
    pub const NOT: u8 = OpCode::Not as u8;
    pub const POP: u8 = OpCode::Pop as u8;
    pub const PRINT: u8 = OpCode::Print as u8;
    pub const RETURN: u8 = OpCode::Return as u8;
    pub const SET_GLOBAL: u8 = OpCode::SetGlobal as u8;
    pub const SET_LOCAL: u8 = OpCode::SetLocal as u8;
    pub const SET_PROPERTY: u8 = OpCode::SetProperty as u8;
    pub const SET_UPVALUE: u8 = OpCode::SetUpvalue as u8;
    pub const SUBTRACT: u8 = OpCode::Subtract as u8;
    pub const SUPER_INVOKE: u8 = OpCode::SuperInvoke as u8;
    pub const TRUE: u8 = OpCode::True as u8;
}

/// clox's limit on call depth.
pub const FRAMES_MAX: usize = 64;

/// Value stack slots: 64 frames of 256 locals and as many temporaries.
/// Going past it is a "Stack overflow." runtime error (clox has 64 x 256
/// and no check).
const STACK_SLOTS: usize = FRAMES_MAX * 512;
/// Stack indices are masked with this (STACK_SLOTS is a power of two), which
/// lets the compiler drop the bounds checks; indices are in range anyway
/// (`push` refuses to pass the end).
const STACK_MASK: usize = STACK_SLOTS - 1;
const _: () = assert!(STACK_SLOTS.is_power_of_two());

/// Backward jumps and calls between two looks at
/// `should_yield` when nothing was allocated.
const POLL_EVERY: u32 = 1024;

#[derive(Clone, Copy, Debug)]
struct Frame {
    ip: usize,
    base: usize,
}

/// Frame indices are masked with this (FRAMES_MAX is a power of two).
const FRAMES_MASK: usize = FRAMES_MAX - 1;
const _: () = assert!(FRAMES_MAX.is_power_of_two());

/// A call frame during a slice: a [`Frame`] and what it runs.
#[derive(Clone, Copy)]
struct Active<'gc> {
    ip: usize,
    base: usize,
    closure: ObjRef<'gc>,
    code: &'gc [u8],
    constants: Obj<'gc, Array<Val<'gc>>>,
    ic_base: usize,
}

impl<'gc> Active<'gc> {
    fn new(closure: ObjRef<'gc>, frame: Frame) -> Active<'gc> {
        let f = function_of(closure);
        Active {
            ip: frame.ip,
            base: frame.base,
            closure,
            code: f.code.as_bytes(),
            constants: f.constants,
            ic_base: f.ic_base as usize,
        }
    }
}

/// What a call does next (see `State::call_value`).
enum Called<'gc> {
    /// Run this closure in a new frame.
    Closure(ObjRef<'gc>),
    /// Nothing to run: the result is on the stack, whose top is this.
    Done(usize),
}

/// How running a program ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A runtime error: its message and stack trace were written to stderr.
    RuntimeError,
}

enum Slice {
    Yield,
    Done,
    /// The error text (message and trace), to write to stderr.
    Error(Vec<u8>),
}

/// A Lox VM: its roots and its output. One per mutator.
pub struct Vm {
    stack: RootVec<Val<'static>>,
    frame_closures: RootVec<Val<'static>>,
    open_upvalues: RootVec<Val<'static>>,
    frames: Vec<Frame>,
    /// Inline caches: one word per byte of code compiled so far, each
    /// function's from its `ic_base`. The word of a `GET_PROPERTY`,
    /// `SET_PROPERTY`, `INVOKE`, `GET_GLOBAL` or `SET_GLOBAL` instruction
    /// (at its opcode's offset) is the table slot where the instruction
    /// last found its name (in the instance's fields, the class's methods
    /// for `INVOKE`, the globals); the
    /// next execution looks there first, and the hit is exact because
    /// table keys are unique and compared by identity. Instances of one
    /// class built the same way have the same field layout, so the guess
    /// holds across receivers. A wrong guess costs one failed comparison.
    ic: Vec<u32>,
    globals: Root<Table<'static>>,
    strings: Root<Table<'static>>,
    init_string: Root<Object<'static>>,
    start: Instant,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("frames", &self.frames.len())
            .field("stack", &self.stack.len())
            .finish()
    }
}

fn oom(_: AllocError) -> String {
    "Out of memory.".to_owned()
}

impl Vm {
    /// A VM with its globals (`clock`) on `m`'s heap.
    pub fn new(m: &mut Mutator) -> Result<Vm, AllocError> {
        let stack = RootVec::new(m);
        let mut frame_closures = RootVec::new(m);
        m.mutate(|mc| frame_closures.as_mut_vec(mc).reserve(FRAMES_MAX));
        let open_upvalues = RootVec::new(m);
        let (globals, strings, init_string) = m.mutate(|mc| -> Result<_, AllocError> {
            let globals = mc.alloc(Table::new())?;
            let strings = mc.alloc(Table::new())?;
            let init = intern(mc, &strings, b"init")?;
            let clock_name = intern(mc, &strings, b"clock")?;
            let clock = mc.alloc(Object::Native(Native { id: 0 }))?;
            globals.set(mc, clock_name, Val::obj(clock))?;
            Ok((mc.root(globals), mc.root(strings), mc.root(init)))
        })?;
        Ok(Vm {
            stack,
            frame_closures,
            open_upvalues,
            frames: Vec::with_capacity(FRAMES_MAX),
            ic: Vec::new(),
            globals,
            strings,
            init_string,
            start: Instant::now(),
            out: std::io::BufWriter::new(std::io::stdout()),
        })
    }

    /// Runs a compiled script to its end or to a runtime error (whose
    /// message and trace go to stderr). Globals persist across calls (the REPL).
    pub fn interpret(&mut self, m: &mut Mutator, script: &Proto) -> Outcome {
        let mut ic_len = self.ic.len();
        let started = m.mutate(|mc| -> Result<(), String> {
            let strings = self.strings.get(mc);
            let function = materialize(mc, &strings, script, &mut ic_len).map_err(oom)?;
            let Object::Function(function) = *Obj::into_ref(function) else {
                unreachable!("materialize makes a function")
            };
            let closure = mc
                .alloc(Object::Closure(Closure {
                    function,
                    upvalues: None,
                }))
                .map_err(oom)?;
            self.stack.as_mut_vec(mc).push(Val::obj(closure));
            self.frame_closures.as_mut_vec(mc).push(Val::obj(closure));
            Ok(())
        });
        self.ic.resize(ic_len, 0);
        self.frames.push(Frame { ip: 0, base: 0 });
        if let Err(message) = started {
            return self.fail(format!("{message}\n").into_bytes());
        }
        loop {
            match m.mutate(|mc| self.run_slice(mc)) {
                Slice::Yield => continue,
                Slice::Done => {
                    let _ = self.out.flush();
                    return Outcome::Ok;
                }
                Slice::Error(text) => return self.fail(text),
            }
        }
    }

    fn fail(&mut self, text: Vec<u8>) -> Outcome {
        let _ = self.out.flush();
        let _ = std::io::stderr().lock().write_all(&text);
        self.stack.clear();
        self.frame_closures.clear();
        self.open_upvalues.clear();
        self.frames.clear();
        Outcome::RuntimeError
    }

    /// Flushes what `print` wrote.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// Runs until the program ends, fails, or the collector asks for the scope to end.
    fn run_slice<'gc>(&mut self, mc: &Mutation<'gc>) -> Slice {
        let globals = self.globals.get(mc);
        let init_string = self.init_string.get(mc);
        // The stack at full size for the slice (values above the top are
        // dropped when it ends, so nothing stale stays rooted).
        let stack = self.stack.as_mut_vec(mc);
        let sp = stack.len();
        stack.resize(STACK_SLOTS, Val::NIL);
        let Ok(slots) = <&mut [Val<'gc>; STACK_SLOTS]>::try_from(&mut stack[..]) else {
            unreachable!("the stack was just resized to STACK_SLOTS")
        };
        let mut st = State {
            mc,
            closures: self.frame_closures.as_mut_vec(mc),
            open: self.open_upvalues.as_mut_vec(mc),
            frames: &mut self.frames,
            globals,
            init_string,
            start: self.start,
            out: &mut self.out,
        };
        let (result, sp) = st.run(slots, sp, &mut self.ic);
        let slice = match result {
            Ok(s) => s,
            Err(message) => Slice::Error(st.trace(&message)),
        };
        stack.truncate(sp);
        slice
    }
}

/// Materialises a compiled function (and the functions it contains) on the heap.
/// Each function gets the next `code.len()` inline caches: `ic_len` is the
/// number given out so far.
pub fn materialize<'gc>(
    mc: &Mutation<'gc>,
    strings: &Table<'gc>,
    proto: &Proto,
    ic_len: &mut usize,
) -> Result<ObjRef<'gc>, AllocError> {
    // Past u32::MAX the caches are out of reach: every guess misses.
    let ic_base = u32::try_from(*ic_len).unwrap_or(u32::MAX);
    *ic_len += proto.code.len();
    let constants = mc.alloc_array(proto.constants.len(), Val::NIL)?;
    for (i, c) in proto.constants.iter().enumerate() {
        let v = match c {
            Constant::Number(n) => Val::float(*n),
            Constant::String(s) => Val::obj(intern(mc, strings, s)?),
            Constant::Function(p) => Val::obj(materialize(mc, strings, p, ic_len)?),
        };
        let _ = constants.set(mc, i, v);
    }
    let name = match &proto.name {
        Some(n) => Some(intern(mc, strings, n)?),
        None => None,
    };
    let lines: Vec<u8> = proto.lines.iter().flat_map(|l| l.to_le_bytes()).collect();
    let function = mc.alloc(Function {
        arity: u32::from(proto.arity),
        upvalue_count: proto.upvalues.len() as u32,
        name,
        code: mc.alloc_bytes(&quicken(proto))?,
        lines: mc.alloc_bytes(&lines)?,
        ic_base,
        constants,
    })?;
    mc.alloc(Object::Function(function))
}

#[inline(always)]
fn function_of<'gc>(closure: ObjRef<'gc>) -> &'gc Function<'gc> {
    match Obj::into_ref(closure) {
        Object::Closure(c) => Obj::into_ref(c.function),
        Object::Function(f) => Obj::into_ref(*f),
        _ => unreachable!("frames run closures"),
    }
}

fn string_bytes<'gc>(v: Val<'gc>) -> &'gc [u8] {
    v.as_obj().and_then(as_string).map_or(&[][..], |s| s.bytes.as_bytes())
}

/// Appends a value as clox's `printValue` prints it.
pub fn print_value(out: &mut Vec<u8>, v: Val<'_>) {
    if let Some(f) = v.as_float() {
        out.extend_from_slice(format_number(f).as_bytes());
    } else if let Some(b) = v.as_bool() {
        out.extend_from_slice(if b { b"true" } else { b"false" });
    } else if let Some(o) = v.as_obj() {
        print_object(out, o);
    } else {
        out.extend_from_slice(b"nil");
    }
}

fn print_function(out: &mut Vec<u8>, f: &Function<'_>) {
    match f.name {
        Some(n) => {
            out.extend_from_slice(b"<fn ");
            out.extend_from_slice(string_bytes(Val::obj(n)));
            out.push(b'>');
        }
        None => out.extend_from_slice(b"<script>"),
    }
}

fn print_object(out: &mut Vec<u8>, o: ObjRef<'_>) {
    match Obj::into_ref(o) {
        Object::Str(s) => out.extend_from_slice(s.bytes.as_bytes()),
        Object::Function(f) => print_function(out, f),
        Object::Closure(_) => print_function(out, function_of(o)),
        Object::BoundMethod(b) => print_function(out, function_of(b.method)),
        Object::Native(_) => out.extend_from_slice(b"<native fn>"),
        Object::Class(c) => out.extend_from_slice(string_bytes(Val::obj(c.name))),
        Object::Instance(i) => {
            if let Object::Class(c) = Obj::into_ref(i.class) {
                out.extend_from_slice(string_bytes(Val::obj(c.name)));
            }
            out.extend_from_slice(b" instance");
        }
        Object::Upvalue(_) => out.extend_from_slice(b"upvalue"),
    }
}

/// A name constant's string object.
#[inline(always)]
fn name_of<'gc>(key: Val<'gc>) -> ObjRef<'gc> {
    key.as_obj().expect("a name constant is a string")
}

#[cold]
#[inline(never)]
fn arity_error(arity: usize, argc: usize) -> String {
    format!("Expected {arity} arguments but got {argc}.")
}

/// "`what` 'name'." (undefined variables and properties).
#[cold]
#[inline(never)]
fn undefined(what: &str, name: ObjRef<'_>) -> String {
    format!("{what} '{}'.", String::from_utf8_lossy(string_bytes(Val::obj(name))))
}

fn is_falsey(v: Val<'_>) -> bool {
    v.is_nil() || v.as_bool() == Some(false)
}

/// The VM's state for one slice, borrowed from its roots. The value
/// stack and its top are not here: [`State::run`] keeps them in locals
/// (so that they live in registers) and hands them to the helpers that
/// need them.
struct State<'a, 'gc> {
    mc: &'a Mutation<'gc>,
    closures: &'a mut Vec<Val<'gc>>,
    open: &'a mut Vec<Val<'gc>>,
    frames: &'a mut Vec<Frame>,
    globals: Obj<'gc, Table<'gc>>,
    init_string: ObjRef<'gc>,
    start: Instant,
    out: &'a mut std::io::BufWriter<std::io::Stdout>,
}

type Res<T> = Result<T, String>;

fn upvalue_of<'gc>(o: ObjRef<'gc>) -> &'gc Upvalue<'gc> {
    match Obj::into_ref(o) {
        Object::Upvalue(u) => u,
        _ => unreachable!("an upvalue array holds upvalues"),
    }
}

type Stack<'gc> = [Val<'gc>; STACK_SLOTS];

impl<'a, 'gc> State<'a, 'gc> {
    /// The message and the stack trace, as clox prints them.
    fn trace(&self, message: &str) -> Vec<u8> {
        let mut text = format!("{message}\n").into_bytes();
        for (i, frame) in self.frames.iter().enumerate().rev() {
            let Some(closure) = self.closures.get(i).and_then(|c| c.as_obj()) else {
                continue;
            };
            let f = function_of(closure);
            let line = f.line(frame.ip.saturating_sub(1));
            text.extend_from_slice(format!("[line {line}] in ").as_bytes());
            match f.name {
                None => text.extend_from_slice(b"script\n"),
                Some(n) => {
                    text.extend_from_slice(string_bytes(Val::obj(n)));
                    text.extend_from_slice(b"()\n");
                }
            }
        }
        text
    }

    /// Prepares a call of `callee` with the `argc` values on top of the
    /// stack: a closure to push a frame for (after arity and depth checks
    /// by the caller), or the call's new stack top when it is done.
    #[inline(always)]
    fn call_value(&mut self, stack: &mut Stack<'gc>, sp: usize, callee: Val<'gc>, argc: usize) -> Res<Called<'gc>> {
        if let Some(o) = callee.as_obj() {
            match Obj::into_ref(o) {
                Object::Closure(_) => return Ok(Called::Closure(o)),
                _ => return self.call_other(stack, sp, o, argc),
            }
        }
        Err("Can only call functions and classes.".into())
    }

    fn call_other(&mut self, stack: &mut Stack<'gc>, sp: usize, o: ObjRef<'gc>, argc: usize) -> Res<Called<'gc>> {
        let slot = (sp - argc - 1) & STACK_MASK;
        match Obj::into_ref(o) {
            Object::BoundMethod(b) => {
                stack[slot] = b.receiver;
                Ok(Called::Closure(b.method))
            }
            Object::Class(c) => {
                let instance = self
                    .mc
                    .alloc(Object::Instance(Instance {
                        class: o,
                        fields: Table::new(),
                    }))
                    .map_err(oom)?;
                stack[slot] = Val::obj(instance);
                if let Some(init) = c.methods.get(self.init_string).and_then(|v| v.as_obj()) {
                    Ok(Called::Closure(init))
                } else if argc != 0 {
                    Err(format!("Expected 0 arguments but got {argc}."))
                } else {
                    Ok(Called::Done(sp))
                }
            }
            Object::Native(_) => {
                let t = self.start.elapsed().as_secs_f64();
                stack[slot] = Val::float(t);
                Ok(Called::Done(slot + 1))
            }
            _ => Err("Can only call functions and classes.".into()),
        }
    }

    /// The method `name` of `class` (a closure).
    fn method_of(&self, class: ObjRef<'gc>, name: ObjRef<'gc>) -> Res<ObjRef<'gc>> {
        let Object::Class(c) = Obj::into_ref(class) else {
            return Err("Superclass must be a class.".into());
        };
        match c.methods.get(name).and_then(|v| v.as_obj()) {
            Some(method) => Ok(method),
            None => Err(format!(
                "Undefined property '{}'.",
                String::from_utf8_lossy(string_bytes(Val::obj(name)))
            )),
        }
    }

    /// Replaces the receiver on top of the stack by its method `name` bound to it.
    fn bind_method(&mut self, stack: &mut Stack<'gc>, sp: usize, class: ObjRef<'gc>, name: ObjRef<'gc>) -> Res<()> {
        let Object::Class(c) = Obj::into_ref(class) else {
            return Err("Superclass must be a class.".into());
        };
        let Some(method) = c.methods.get(name).and_then(|v| v.as_obj()) else {
            return Err(format!(
                "Undefined property '{}'.",
                String::from_utf8_lossy(string_bytes(Val::obj(name)))
            ));
        };
        let top = (sp - 1) & STACK_MASK;
        let receiver = stack[top];
        let bound = self
            .mc
            .alloc(Object::BoundMethod(BoundMethod { receiver, method }))
            .map_err(oom)?;
        stack[top] = Val::obj(bound);
        Ok(())
    }

    fn capture_upvalue(&mut self, slot: usize) -> Res<ObjRef<'gc>> {
        let mut i = self.open.len();
        while i > 0 {
            let u = self.open[i - 1].as_obj().expect("open upvalues are objects");
            let s = upvalue_of(u).slot.get() as usize;
            if s == slot {
                return Ok(u);
            }
            if s < slot {
                break;
            }
            i -= 1;
        }
        let created = self
            .mc
            .alloc(Object::Upvalue(Upvalue {
                slot: marrow_gc::typed::GcCell::new(slot as i64),
                closed: marrow_gc::typed::GcCell::new(Val::NIL),
            }))
            .map_err(oom)?;
        self.open.insert(i, Val::obj(created));
        Ok(created)
    }

    fn close_upvalues(&mut self, stack: &Stack<'gc>, last: usize) {
        while let Some(u) = self.open.last().and_then(|v| v.as_obj()) {
            let up = upvalue_of(u);
            let slot = up.slot.get();
            if (slot as usize) < last {
                break;
            }
            up.closed.set(self.mc, stack[slot as usize & STACK_MASK]);
            up.slot.set(self.mc, -1);
            self.open.pop();
        }
    }

    /// Writes the slice's call frames back to the roots, the top one at `ip`.
    #[cold]
    #[inline(never)]
    fn sync(&mut self, frames: &mut [Active<'gc>; FRAMES_MAX], fc: usize, ip: usize) {
        frames[fc.wrapping_sub(1) & FRAMES_MASK].ip = ip;
        self.frames.clear();
        self.closures.clear();
        for f in &frames[..fc] {
            self.frames.push(Frame { ip: f.ip, base: f.base });
            self.closures.push(Val::obj(f.closure));
        }
    }

    /// Runs from the current frame with the stack's top at `sp`; how the
    /// slice ended and the stack's top then.
    fn run(&mut self, stack: &mut Stack<'gc>, mut sp: usize, ic: &mut [u32]) -> (Res<Slice>, usize) {
        let mc = self.mc;
        // The call frames live here for the slice, with what each frame
        // runs at hand (code, constants, cache base); `fc` is their count.
        // The roots (`self.frames`, `self.closures`) are brought up to date
        // when the slice ends (`sync!`): nothing is collected inside it.
        let n = self.frames.len().min(self.closures.len());
        if n == 0 {
            return (Ok(Slice::Done), sp);
        }
        let Some(top) = self.closures[n - 1].as_obj() else {
            unreachable!("a frame has a closure")
        };
        let mut frames = [Active::new(top, self.frames[n - 1]); FRAMES_MAX];
        for (i, f) in frames.iter_mut().enumerate().take(n - 1) {
            let Some(c) = self.closures[i].as_obj() else {
                unreachable!("a frame has a closure")
            };
            *f = Active::new(c, self.frames[i]);
        }
        let mut fc = n;
        let mut frame = frames[(fc - 1) & FRAMES_MASK];
        let mut ip = frame.ip;

        // The frames back into the roots, the current one at `ip`.
        macro_rules! sync {
            () => {
                self.sync(&mut frames, fc, ip)
            };
        }
        // Calls closure `$c` with the `$argc` values on top of the stack.
        macro_rules! call_closure {
            ($c:expr, $argc:expr) => {{
                let c = $c;
                let argc = $argc;
                let f = function_of(c);
                if argc != f.arity as usize {
                    fail!(arity_error(f.arity as usize, argc));
                }
                if fc == FRAMES_MAX {
                    fail!("Stack overflow.".into());
                }
                frames[(fc - 1) & FRAMES_MASK].ip = ip;
                frame = Active {
                    ip: 0,
                    base: sp - argc - 1,
                    closure: c,
                    code: f.code.as_bytes(),
                    constants: f.constants,
                    ic_base: f.ic_base as usize,
                };
                frames[fc & FRAMES_MASK] = frame;
                fc += 1;
                ip = 0;
            }};
        }
        // The inline cache of the instruction at `$site`: a slot guess for
        // the table the instruction looks its name up in.
        macro_rules! ic_get {
            ($site:expr) => {
                ic.get(frames[(fc - 1) & FRAMES_MASK].ic_base + $site)
                    .map_or(0, |&s| s as usize)
            };
        }
        macro_rules! ic_set {
            ($site:expr, $slot:expr) => {
                if let Some(c) = ic.get_mut(frames[(fc - 1) & FRAMES_MASK].ic_base + $site) {
                    *c = $slot as u32;
                }
            };
        }
        macro_rules! fail {
            ($e:expr) => {{
                sync!();
                return (Err($e), sp);
            }};
        }
        macro_rules! try_ {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => fail!(e),
                }
            };
        }
        // After an allocation: end the slice if the collector is waiting.
        macro_rules! yield_point {
            () => {
                if mc.should_yield() {
                    sync!();
                    return (Ok(Slice::Yield), sp);
                }
            };
        }
        // At backward jumps and calls: look every POLL_EVERY times
        // (for other threads' requests; allocation is checked at each one).
        let mut poll_budget = POLL_EVERY;
        macro_rules! poll_point {
            () => {
                poll_budget -= 1;
                if poll_budget == 0 {
                    poll_budget = POLL_EVERY;
                    yield_point!();
                }
            };
        }
        macro_rules! peek {
            ($d:expr) => {
                stack[sp.wrapping_sub(1 + $d) & STACK_MASK]
            };
        }
        macro_rules! pop {
            () => {{
                sp -= 1;
                stack[sp & STACK_MASK]
            }};
        }
        macro_rules! push {
            ($v:expr) => {{
                let v = $v;
                if sp >= STACK_SLOTS {
                    fail!("Stack overflow.".into());
                }
                stack[sp & STACK_MASK] = v;
                sp += 1;
            }};
        }
        macro_rules! read_byte {
            () => {{
                let b = frame.code[ip];
                ip += 1;
                b
            }};
        }
        macro_rules! read_short {
            () => {{
                let s = (usize::from(frame.code[ip]) << 8) | usize::from(frame.code[ip + 1]);
                ip += 2;
                s
            }};
        }
        macro_rules! read_constant {
            () => {
                frame.constants.get(usize::from(read_byte!())).unwrap_or(Val::NIL)
            };
        }
        macro_rules! read_string {
            () => {
                read_constant!().as_obj().expect("a name constant is a string")
            };
        }
        macro_rules! binary_number {
            ($op:tt, $wrap:expr) => {{
                let (Some(b), Some(a)) = (peek!(0).as_float(), peek!(1).as_float()) else {
                    fail!("Operands must be numbers.".into())
                };
                sp -= 1;
                stack[(sp - 1) & STACK_MASK] = $wrap(a $op b);
            }};
        }

        // A fused CONSTANT and arithmetic or comparison (see `quicken`):
        // both on numbers, else the CONSTANT alone.
        macro_rules! constant_binary {
            ($op:tt, $wrap:expr) => {{
                let c = read_constant!();
                let top = (sp - 1) & STACK_MASK;
                if let (Some(a), Some(b)) = (stack[top].as_float(), c.as_float()) {
                    stack[top] = $wrap(a $op b);
                    ip += 1;
                } else {
                    push!(c);
                }
            }};
        }

        // OP_INVOKE, its opcode read.
        macro_rules! invoke {
            () => {{
                let site = ip - 1;
                let key = read_constant!();
                let argc = usize::from(read_byte!());
                let receiver = peek!(argc);
                let Some(Object::Instance(inst)) = receiver.as_obj().map(Obj::into_ref) else {
                    fail!("Only instances have methods.".into())
                };
                // A field holding a callable shadows the method (rare:
                // the filter answers most misses).
                let field = if inst.fields.may_contain(key) {
                    inst.fields.get(name_of(key))
                } else {
                    None
                };
                if let Some(v) = field {
                    stack[(sp - argc - 1) & STACK_MASK] = v;
                    match try_!(self.call_value(stack, sp, v, argc)) {
                        Called::Closure(c) => call_closure!(c, argc),
                        Called::Done(top) => sp = top,
                    }
                } else {
                    let Object::Class(class) = Obj::into_ref(inst.class) else {
                        unreachable!("an instance's class is a class")
                    };
                    let method = match class.methods.get_at(ic_get!(site), key) {
                        Some(m) => m,
                        None => match class.methods.lookup(name_of(key)) {
                            Some((slot, m)) => {
                                ic_set!(site, slot);
                                m
                            }
                            None => fail!(undefined("Undefined property", name_of(key))),
                        },
                    };
                    let Some(m) = method.as_obj() else {
                        fail!("Can only call functions and classes.".into())
                    };
                    call_closure!(m, argc);
                }
                poll_point!();
            }};
        }

        // The fused GET_LOCAL and GET_PROPERTY (see `quicken`); true if
        // both ran and found a field (the next instruction is then the
        // one after GET_PROPERTY).
        macro_rules! get_local_property {
            () => {{
                let slot = usize::from(read_byte!());
                let target = stack[(frame.base + slot) & STACK_MASK];
                match target.as_obj().map(Obj::into_ref) {
                    Some(Object::Instance(inst)) => {
                        ip += 1;
                        let site = ip - 1;
                        let key = read_constant!();
                        if let Some(v) = inst.fields.get_at(ic_get!(site), key) {
                            push!(v);
                            true
                        } else if let Some((slot, v)) = inst.fields.lookup(name_of(key)) {
                            ic_set!(site, slot);
                            push!(v);
                            true
                        } else {
                            push!(target);
                            try_!(self.bind_method(stack, sp, inst.class, name_of(key)));
                            yield_point!();
                            false
                        }
                    }
                    // GET_LOCAL alone; GET_PROPERTY fails next.
                    _ => {
                        push!(target);
                        false
                    }
                }
            }};
        }

        // Returns `$result` from the current frame.
        macro_rules! do_return {
            ($result:expr) => {{
                let result = $result;
                if !self.open.is_empty() {
                    self.close_upvalues(stack, frame.base);
                }
                fc -= 1;
                if fc == 0 {
                    sync!();
                    return (Ok(Slice::Done), 0);
                }
                sp = frame.base;
                stack[sp & STACK_MASK] = result;
                sp += 1;
                frame = frames[(fc - 1) & FRAMES_MASK];
                ip = frame.ip;
            }};
        }

        loop {
            match read_byte!() {
                op::CONSTANT => {
                    let c = read_constant!();
                    push!(c);
                }
                op::NIL => push!(Val::NIL),
                op::TRUE => push!(Val::bool(true)),
                op::FALSE => push!(Val::bool(false)),
                op::POP => {
                    pop!();
                }
                op::GET_LOCAL => {
                    let slot = usize::from(read_byte!());
                    let v = stack[(frame.base + slot) & STACK_MASK];
                    push!(v);
                }
                op::SET_LOCAL => {
                    let slot = usize::from(read_byte!());
                    stack[(frame.base + slot) & STACK_MASK] = peek!(0);
                }
                op::GET_GLOBAL => {
                    let site = ip - 1;
                    let key = read_constant!();
                    if let Some(v) = self.globals.get_at(ic_get!(site), key) {
                        push!(v);
                    } else {
                        match self.globals.lookup(name_of(key)) {
                            Some((slot, v)) => {
                                ic_set!(site, slot);
                                push!(v);
                            }
                            None => fail!(undefined("Undefined variable", name_of(key))),
                        }
                    }
                }
                op::DEFINE_GLOBAL => {
                    let name = read_string!();
                    try_!(self.globals.set(mc, name, peek!(0)).map_err(oom));
                    pop!();
                }
                op::SET_GLOBAL => {
                    let site = ip - 1;
                    let key = read_constant!();
                    if !self.globals.set_at(mc, ic_get!(site), key, peek!(0)) {
                        let name = name_of(key);
                        let (is_new, slot) = try_!(self.globals.set_slot(mc, name, peek!(0)).map_err(oom));
                        if is_new {
                            self.globals.delete(mc, name);
                            fail!(undefined("Undefined variable", name));
                        }
                        ic_set!(site, slot);
                    }
                }
                op::GET_UPVALUE => {
                    let i = usize::from(read_byte!());
                    let up = upvalue_at(frames[(fc - 1) & FRAMES_MASK].closure, i);
                    let slot = up.slot.get();
                    let v = if slot >= 0 {
                        stack[slot as usize]
                    } else {
                        up.closed.get()
                    };
                    push!(v);
                }
                op::SET_UPVALUE => {
                    let i = usize::from(read_byte!());
                    let up = upvalue_at(frames[(fc - 1) & FRAMES_MASK].closure, i);
                    let slot = up.slot.get();
                    let v = peek!(0);
                    if slot >= 0 {
                        stack[slot as usize] = v;
                    } else {
                        up.closed.set(mc, v);
                    }
                }
                op::GET_PROPERTY => {
                    let site = ip - 1;
                    let target = peek!(0);
                    let Some(Object::Instance(inst)) = target.as_obj().map(Obj::into_ref) else {
                        fail!("Only instances have properties.".into())
                    };
                    let key = read_constant!();
                    let top = (sp - 1) & STACK_MASK;
                    if let Some(v) = inst.fields.get_at(ic_get!(site), key) {
                        stack[top] = v;
                    } else if let Some((slot, v)) = inst.fields.lookup(name_of(key)) {
                        ic_set!(site, slot);
                        stack[top] = v;
                    } else {
                        try_!(self.bind_method(stack, sp, inst.class, name_of(key)));
                        yield_point!();
                    }
                }
                op::SET_PROPERTY => {
                    let site = ip - 1;
                    let target = peek!(1);
                    let Some(Object::Instance(inst)) = target.as_obj().map(Obj::into_ref) else {
                        fail!("Only instances have fields.".into())
                    };
                    let key = read_constant!();
                    let v = peek!(0);
                    let hit = inst.fields.set_at(mc, ic_get!(site), key, v);
                    if !hit {
                        let (_, slot) = try_!(inst.fields.set_slot(mc, name_of(key), v).map_err(oom));
                        ic_set!(site, slot);
                    }
                    sp -= 1;
                    stack[(sp - 1) & STACK_MASK] = v;
                    if !hit {
                        yield_point!();
                    }
                }
                op::GET_SUPER => {
                    let name = read_string!();
                    let superclass = pop!().as_obj().expect("super is a class");
                    try_!(self.bind_method(stack, sp, superclass, name));
                    yield_point!();
                }
                op::EQUAL => {
                    let b = pop!();
                    let top = (sp - 1) & STACK_MASK;
                    stack[top] = Val::bool(values_equal(stack[top], b));
                }
                op::GREATER => binary_number!(>, Val::bool),
                op::LESS => binary_number!(<, Val::bool),
                op::ADD => {
                    let (b, a) = (peek!(0), peek!(1));
                    if let (Some(y), Some(x)) = (b.as_float(), a.as_float()) {
                        sp -= 1;
                        stack[(sp - 1) & STACK_MASK] = Val::float(x + y);
                    } else if let (Some(s), Some(t)) = (a.as_obj().and_then(as_string), b.as_obj().and_then(as_string))
                    {
                        let mut bytes = Vec::with_capacity(s.bytes.len() + t.bytes.len());
                        bytes.extend_from_slice(s.bytes.as_bytes());
                        bytes.extend_from_slice(t.bytes.as_bytes());
                        let r = try_!(new_string(mc, &bytes).map_err(oom));
                        let len = sp;
                        sp = len - 2;
                        push!(Val::obj(r));
                        yield_point!();
                    } else {
                        fail!("Operands must be two numbers or two strings.".into());
                    }
                }
                op::SUBTRACT => binary_number!(-, Val::float),
                op::MULTIPLY => binary_number!(*, Val::float),
                op::DIVIDE => binary_number!(/, Val::float),
                op::NOT => {
                    let top = (sp - 1) & STACK_MASK;
                    stack[top] = Val::bool(is_falsey(stack[top]));
                }
                op::NEGATE => {
                    let Some(x) = peek!(0).as_float() else {
                        fail!("Operand must be a number.".into())
                    };
                    stack[(sp - 1) & STACK_MASK] = Val::float(-x);
                }
                op::PRINT => {
                    let v = pop!();
                    let mut line = Vec::new();
                    print_value(&mut line, v);
                    line.push(b'\n');
                    let _ = self.out.write_all(&line);
                }
                op::JUMP => {
                    let offset = read_short!();
                    ip += offset;
                }
                op::JUMP_IF_FALSE => {
                    let offset = read_short!();
                    if is_falsey(peek!(0)) {
                        ip += offset;
                    }
                }
                op::LOOP => {
                    let offset = read_short!();
                    ip -= offset;
                    poll_point!();
                }
                op::CALL => {
                    let argc = usize::from(read_byte!());
                    match try_!(self.call_value(stack, sp, peek!(argc), argc)) {
                        Called::Closure(c) => call_closure!(c, argc),
                        Called::Done(top) => sp = top,
                    }
                    poll_point!();
                }
                op::INVOKE => invoke!(),
                op::SUPER_INVOKE => {
                    let name = read_string!();
                    let argc = usize::from(read_byte!());
                    let superclass = pop!().as_obj().expect("super is a class");
                    let m = try_!(self.method_of(superclass, name));
                    call_closure!(m, argc);
                    poll_point!();
                }
                op::CLOSURE => {
                    let fobj = read_constant!().as_obj().expect("OP_CLOSURE names a function");
                    let Object::Function(f) = *Obj::into_ref(fobj) else {
                        fail!("OP_CLOSURE names a function".into())
                    };
                    let count = f.upvalue_count as usize;
                    let upvalues = if count == 0 {
                        None
                    } else {
                        let arr = try_!(mc.alloc_array(count, None).map_err(oom));
                        for i in 0..count {
                            let is_local = read_byte!() != 0;
                            let index = usize::from(read_byte!());
                            let up = if is_local {
                                try_!(self.capture_upvalue(frame.base + index))
                            } else {
                                upvalue_obj_at(frames[(fc - 1) & FRAMES_MASK].closure, index)
                            };
                            let _ = arr.set(mc, i, Some(up));
                        }
                        Some(arr)
                    };
                    let c = try_!(mc
                        .alloc(Object::Closure(Closure { function: f, upvalues }))
                        .map_err(oom));
                    push!(Val::obj(c));
                    yield_point!();
                }
                op::CLOSE_UPVALUE => {
                    let last = sp - 1;
                    self.close_upvalues(stack, last);
                    pop!();
                }
                op::RETURN => {
                    let result = pop!();
                    do_return!(result);
                }
                quicken::CONSTANT_RETURN => {
                    let result = read_constant!();
                    do_return!(result);
                }
                op::CLASS => {
                    let name = read_string!();
                    let class = try_!(mc
                        .alloc(Object::Class(Class {
                            name,
                            methods: Table::new()
                        }))
                        .map_err(oom));
                    push!(Val::obj(class));
                    yield_point!();
                }
                op::INHERIT => {
                    let superclass = peek!(1);
                    let Some(Object::Class(sup)) = superclass.as_obj().map(Obj::into_ref) else {
                        fail!("Superclass must be a class.".into())
                    };
                    let Some(Object::Class(sub)) = peek!(0).as_obj().map(Obj::into_ref) else {
                        fail!("Superclass must be a class.".into())
                    };
                    try_!(sup.methods.add_all(mc, &sub.methods).map_err(oom));
                    pop!();
                }
                op::METHOD => {
                    let name = read_string!();
                    let method = peek!(0);
                    if let Some(Object::Class(c)) = peek!(1).as_obj().map(Obj::into_ref) {
                        try_!(c.methods.set(mc, name, method).map_err(oom));
                    }
                    pop!();
                }
                quicken::GET_LOCAL_PROPERTY => {
                    get_local_property!();
                }
                quicken::GET_LOCAL_PROPERTY_INVOKE => {
                    if get_local_property!() {
                        ip += 1;
                        invoke!();
                    }
                }
                quicken::JUMP_IF_FALSE_POP => {
                    let offset = read_short!();
                    if is_falsey(peek!(0)) {
                        ip += offset;
                        // The target is the else branch's POP: run it too.
                        if frame.code.get(ip) == Some(&op::POP) {
                            sp -= 1;
                            ip += 1;
                        }
                    } else {
                        sp -= 1;
                        ip += 1;
                    }
                }
                quicken::CONSTANT_ADD => constant_binary!(+, Val::float),
                quicken::CONSTANT_SUBTRACT => constant_binary!(-, Val::float),
                quicken::CONSTANT_LESS => constant_binary!(<, Val::bool),
                quicken::CONSTANT_GREATER => constant_binary!(>, Val::bool),
                quicken::CONSTANT_EQUAL => {
                    let c = read_constant!();
                    let top = (sp - 1) & STACK_MASK;
                    stack[top] = Val::bool(values_equal(stack[top], c));
                    ip += 1;
                }
                _ => fail!("Unknown opcode.".into()),
            }
        }
    }
}

fn upvalue_obj_at<'gc>(closure: ObjRef<'gc>, i: usize) -> ObjRef<'gc> {
    match Obj::into_ref(closure) {
        Object::Closure(c) => c
            .upvalues
            .and_then(|a| a.get(i))
            .flatten()
            .expect("the closure has this upvalue"),
        _ => unreachable!("frames run closures"),
    }
}

fn upvalue_at<'gc>(closure: ObjRef<'gc>, i: usize) -> &'gc Upvalue<'gc> {
    upvalue_of(upvalue_obj_at(closure, i))
}
