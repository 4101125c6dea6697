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
//! it at backward jumps, calls, returns and after the instructions that
//! allocate, so a slice is bounded by straight-line code. The
//! instruction offset is saved in the frame and the next slice resumes.
//!
//! Compiled code arrives as a [`Proto`] tree from the compiler and is
//! materialised as `Function` objects (code, line table and constants on
//! the heap, names and string literals interned) before it runs.
//!
//! Natives: `clock()` returns the seconds elapsed since the VM started
//! (clox returns the process's CPU time; Lox programs only take
//! differences of it).

use std::io::Write;
use std::time::Instant;

use marrow_gc::runtime::AllocError;
use marrow_gc::typed::{Mutation, Obj, Root, RootVec};
use marrow_gc::Mutator;

use crate::chunk::{Constant, Proto};
use crate::number::format_number;
use crate::object::{
    as_string, intern, new_string, values_equal, BoundMethod, Class, Closure, Function, Instance, Native, ObjRef,
    Object, Table, Upvalue, Val,
};

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

/// Backward jumps, calls and returns between two looks at
/// `should_yield` when nothing was allocated.
const POLL_EVERY: u32 = 1024;

#[derive(Clone, Copy, Debug)]
struct Frame {
    ip: usize,
    base: usize,
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
        let started = m.mutate(|mc| -> Result<(), String> {
            let strings = self.strings.get(mc);
            let function = materialize(mc, &strings, script).map_err(oom)?;
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
            stack: slots,
            sp,
            closures: self.frame_closures.as_mut_vec(mc),
            open: self.open_upvalues.as_mut_vec(mc),
            frames: &mut self.frames,
            globals,
            init_string,
            start: self.start,
            out: &mut self.out,
        };
        let slice = match st.run() {
            Ok(s) => s,
            Err(message) => Slice::Error(st.trace(&message)),
        };
        let sp = st.sp;
        stack.truncate(sp);
        slice
    }
}

/// Materialises a compiled function (and the functions it contains) on the heap.
pub fn materialize<'gc>(mc: &Mutation<'gc>, strings: &Table<'gc>, proto: &Proto) -> Result<ObjRef<'gc>, AllocError> {
    let constants = mc.alloc_array(proto.constants.len(), Val::NIL)?;
    for (i, c) in proto.constants.iter().enumerate() {
        let v = match c {
            Constant::Number(n) => Val::float(*n),
            Constant::String(s) => Val::obj(intern(mc, strings, s)?),
            Constant::Function(p) => Val::obj(materialize(mc, strings, p)?),
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
        code: mc.alloc_bytes(&proto.code)?,
        lines: mc.alloc_bytes(&lines)?,
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

fn is_falsey(v: Val<'_>) -> bool {
    v.is_nil() || v.as_bool() == Some(false)
}

/// The VM's state for one slice, borrowed from its roots.
struct State<'a, 'gc> {
    mc: &'a Mutation<'gc>,
    /// The value stack, at its full size for the slice; `sp` is its top.
    stack: &'a mut [Val<'gc>; STACK_SLOTS],
    sp: usize,
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

impl<'a, 'gc> State<'a, 'gc> {
    #[inline(always)]
    fn peek(&self, distance: usize) -> Val<'gc> {
        self.stack[self.sp.wrapping_sub(1 + distance) & STACK_MASK]
    }

    #[inline(always)]
    fn pop(&mut self) -> Val<'gc> {
        self.sp -= 1;
        self.stack[self.sp & STACK_MASK]
    }

    #[inline(always)]
    fn push(&mut self, v: Val<'gc>) -> Res<()> {
        if self.sp >= STACK_SLOTS {
            return Err("Stack overflow.".into());
        }
        self.stack[self.sp & STACK_MASK] = v;
        self.sp += 1;
        Ok(())
    }

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

    #[inline(always)]
    fn call_closure(&mut self, closure: ObjRef<'gc>, argc: usize) -> Res<()> {
        let f = function_of(closure);
        if argc != f.arity as usize {
            return Err(format!("Expected {} arguments but got {}.", f.arity, argc));
        }
        if self.frames.len() == FRAMES_MAX {
            return Err("Stack overflow.".into());
        }
        self.frames.push(Frame {
            ip: 0,
            base: self.sp - argc - 1,
        });
        self.closures.push(Val::obj(closure));
        Ok(())
    }

    #[inline(always)]
    fn call_value(&mut self, callee: Val<'gc>, argc: usize) -> Res<()> {
        if let Some(o) = callee.as_obj() {
            match Obj::into_ref(o) {
                Object::Closure(_) => return self.call_closure(o, argc),
                _ => return self.call_other(o, argc),
            }
        }
        Err("Can only call functions and classes.".into())
    }

    fn call_other(&mut self, o: ObjRef<'gc>, argc: usize) -> Res<()> {
        {
            match Obj::into_ref(o) {
                Object::BoundMethod(b) => {
                    let slot = self.sp - argc - 1;
                    self.stack[slot] = b.receiver;
                    return self.call_closure(b.method, argc);
                }
                Object::Class(c) => {
                    let instance = self
                        .mc
                        .alloc(Object::Instance(Instance {
                            class: o,
                            fields: Table::new(),
                        }))
                        .map_err(oom)?;
                    let slot = self.sp - argc - 1;
                    self.stack[slot] = Val::obj(instance);
                    if let Some(init) = c.methods.get(self.init_string).and_then(|v| v.as_obj()) {
                        return self.call_closure(init, argc);
                    } else if argc != 0 {
                        return Err(format!("Expected 0 arguments but got {argc}."));
                    }
                    return Ok(());
                }
                Object::Native(_) => {
                    let t = self.start.elapsed().as_secs_f64();
                    let len = self.sp;
                    self.sp = len - argc - 1;
                    self.push(Val::float(t))?;
                    return Ok(());
                }
                _ => {}
            }
        }
        Err("Can only call functions and classes.".into())
    }

    #[inline(always)]
    fn invoke_from_class(&mut self, class: ObjRef<'gc>, name: ObjRef<'gc>, argc: usize) -> Res<()> {
        let Object::Class(c) = Obj::into_ref(class) else {
            return Err("Superclass must be a class.".into());
        };
        match c.methods.get(name).and_then(|v| v.as_obj()) {
            Some(method) => self.call_closure(method, argc),
            None => Err(format!(
                "Undefined property '{}'.",
                String::from_utf8_lossy(string_bytes(Val::obj(name)))
            )),
        }
    }

    fn bind_method(&mut self, class: ObjRef<'gc>, name: ObjRef<'gc>) -> Res<()> {
        let Object::Class(c) = Obj::into_ref(class) else {
            return Err("Superclass must be a class.".into());
        };
        let Some(method) = c.methods.get(name).and_then(|v| v.as_obj()) else {
            return Err(format!(
                "Undefined property '{}'.",
                String::from_utf8_lossy(string_bytes(Val::obj(name)))
            ));
        };
        let receiver = self.peek(0);
        let bound = self
            .mc
            .alloc(Object::BoundMethod(BoundMethod { receiver, method }))
            .map_err(oom)?;
        self.pop();
        self.push(Val::obj(bound))?;
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

    fn close_upvalues(&mut self, last: usize) {
        while let Some(u) = self.open.last().and_then(|v| v.as_obj()) {
            let up = upvalue_of(u);
            let slot = up.slot.get();
            if (slot as usize) < last {
                break;
            }
            up.closed.set(self.mc, self.stack[slot as usize]);
            up.slot.set(self.mc, -1);
            self.open.pop();
        }
    }

    fn run(&mut self) -> Res<Slice> {
        let mc = self.mc;
        let Some(mut frame) = self.frames.last().copied() else {
            return Ok(Slice::Done);
        };
        let mut closure = self
            .closures
            .last()
            .and_then(|c| c.as_obj())
            .expect("a frame has a closure");
        let mut function = function_of(closure);
        let mut code = function.code.as_bytes();
        let mut constants = function.constants;
        let mut ip = frame.ip;

        macro_rules! save_ip {
            () => {
                if let Some(f) = self.frames.last_mut() {
                    f.ip = ip;
                }
            };
        }
        macro_rules! load_frame {
            () => {
                frame = *self.frames.last().expect("a frame");
                closure = self
                    .closures
                    .last()
                    .and_then(|c| c.as_obj())
                    .expect("a frame has a closure");
                function = function_of(closure);
                code = function.code.as_bytes();
                constants = function.constants;
                ip = frame.ip;
            };
        }
        macro_rules! fail {
            ($e:expr) => {{
                save_ip!();
                return Err($e);
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
                    save_ip!();
                    return Ok(Slice::Yield);
                }
            };
        }
        // At backward jumps, calls and returns: look every POLL_EVERY times
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
        macro_rules! read_byte {
            () => {{
                let b = code[ip];
                ip += 1;
                b
            }};
        }
        macro_rules! read_short {
            () => {{
                let s = (usize::from(code[ip]) << 8) | usize::from(code[ip + 1]);
                ip += 2;
                s
            }};
        }
        macro_rules! read_constant {
            () => {
                constants.get(usize::from(read_byte!())).unwrap_or(Val::NIL)
            };
        }
        macro_rules! read_string {
            () => {
                read_constant!().as_obj().expect("a name constant is a string")
            };
        }
        macro_rules! binary_number {
            ($op:tt, $wrap:expr) => {{
                let (Some(b), Some(a)) = (self.peek(0).as_float(), self.peek(1).as_float()) else {
                    fail!("Operands must be numbers.".into())
                };
                let len = self.sp;
                self.sp = len - 2;
                try_!(self.push($wrap(a $op b)));
            }};
        }

        loop {
            match read_byte!() {
                op::CONSTANT => {
                    let c = read_constant!();
                    try_!(self.push(c));
                }
                op::NIL => try_!(self.push(Val::NIL)),
                op::TRUE => try_!(self.push(Val::bool(true))),
                op::FALSE => try_!(self.push(Val::bool(false))),
                op::POP => {
                    self.pop();
                }
                op::GET_LOCAL => {
                    let slot = usize::from(read_byte!());
                    let v = self.stack[(frame.base + slot) & STACK_MASK];
                    try_!(self.push(v));
                }
                op::SET_LOCAL => {
                    let slot = usize::from(read_byte!());
                    self.stack[(frame.base + slot) & STACK_MASK] = self.peek(0);
                }
                op::GET_GLOBAL => {
                    let name = read_string!();
                    match self.globals.get(name) {
                        Some(v) => try_!(self.push(v)),
                        None => fail!(format!(
                            "Undefined variable '{}'.",
                            String::from_utf8_lossy(string_bytes(Val::obj(name)))
                        )),
                    }
                }
                op::DEFINE_GLOBAL => {
                    let name = read_string!();
                    try_!(self.globals.set(mc, name, self.peek(0)).map_err(oom));
                    self.pop();
                }
                op::SET_GLOBAL => {
                    let name = read_string!();
                    if try_!(self.globals.set(mc, name, self.peek(0)).map_err(oom)) {
                        self.globals.delete(mc, name);
                        fail!(format!(
                            "Undefined variable '{}'.",
                            String::from_utf8_lossy(string_bytes(Val::obj(name)))
                        ));
                    }
                }
                op::GET_UPVALUE => {
                    let i = usize::from(read_byte!());
                    let up = upvalue_at(closure, i);
                    let slot = up.slot.get();
                    let v = if slot >= 0 {
                        self.stack[slot as usize]
                    } else {
                        up.closed.get()
                    };
                    try_!(self.push(v));
                }
                op::SET_UPVALUE => {
                    let i = usize::from(read_byte!());
                    let up = upvalue_at(closure, i);
                    let slot = up.slot.get();
                    let v = self.peek(0);
                    if slot >= 0 {
                        self.stack[slot as usize] = v;
                    } else {
                        up.closed.set(mc, v);
                    }
                }
                op::GET_PROPERTY => {
                    let target = self.peek(0);
                    let Some(Object::Instance(inst)) = target.as_obj().map(Obj::into_ref) else {
                        fail!("Only instances have properties.".into())
                    };
                    let name = read_string!();
                    if let Some(v) = inst.fields.get(name) {
                        self.pop();
                        try_!(self.push(v));
                    } else {
                        try_!(self.bind_method(inst.class, name));
                        yield_point!();
                    }
                }
                op::SET_PROPERTY => {
                    let target = self.peek(1);
                    let Some(Object::Instance(inst)) = target.as_obj().map(Obj::into_ref) else {
                        fail!("Only instances have fields.".into())
                    };
                    let name = read_string!();
                    try_!(inst.fields.set(mc, name, self.peek(0)).map_err(oom));
                    let v = self.pop();
                    self.pop();
                    try_!(self.push(v));
                }
                op::GET_SUPER => {
                    let name = read_string!();
                    let superclass = self.pop().as_obj().expect("super is a class");
                    try_!(self.bind_method(superclass, name));
                    yield_point!();
                }
                op::EQUAL => {
                    let b = self.pop();
                    let a = self.pop();
                    try_!(self.push(Val::bool(values_equal(a, b))));
                }
                op::GREATER => binary_number!(>, Val::bool),
                op::LESS => binary_number!(<, Val::bool),
                op::ADD => {
                    let (b, a) = (self.peek(0), self.peek(1));
                    if let (Some(y), Some(x)) = (b.as_float(), a.as_float()) {
                        let len = self.sp;
                        self.sp = len - 2;
                        try_!(self.push(Val::float(x + y)));
                    } else if let (Some(s), Some(t)) = (a.as_obj().and_then(as_string), b.as_obj().and_then(as_string))
                    {
                        let mut bytes = Vec::with_capacity(s.bytes.len() + t.bytes.len());
                        bytes.extend_from_slice(s.bytes.as_bytes());
                        bytes.extend_from_slice(t.bytes.as_bytes());
                        let r = try_!(new_string(mc, &bytes).map_err(oom));
                        let len = self.sp;
                        self.sp = len - 2;
                        try_!(self.push(Val::obj(r)));
                        yield_point!();
                    } else {
                        fail!("Operands must be two numbers or two strings.".into());
                    }
                }
                op::SUBTRACT => binary_number!(-, Val::float),
                op::MULTIPLY => binary_number!(*, Val::float),
                op::DIVIDE => binary_number!(/, Val::float),
                op::NOT => {
                    let v = self.pop();
                    try_!(self.push(Val::bool(is_falsey(v))));
                }
                op::NEGATE => {
                    let Some(x) = self.peek(0).as_float() else {
                        fail!("Operand must be a number.".into())
                    };
                    self.pop();
                    try_!(self.push(Val::float(-x)));
                }
                op::PRINT => {
                    let v = self.pop();
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
                    if is_falsey(self.peek(0)) {
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
                    save_ip!();
                    try_!(self.call_value(self.peek(argc), argc));
                    load_frame!();
                    poll_point!();
                }
                op::INVOKE => {
                    let name = read_string!();
                    let argc = usize::from(read_byte!());
                    save_ip!();
                    let receiver = self.peek(argc);
                    let Some(Object::Instance(inst)) = receiver.as_obj().map(Obj::into_ref) else {
                        fail!("Only instances have methods.".into())
                    };
                    if let Some(v) = inst.fields.get(name) {
                        let slot = self.sp - argc - 1;
                        self.stack[slot] = v;
                        try_!(self.call_value(v, argc));
                    } else {
                        try_!(self.invoke_from_class(inst.class, name, argc));
                    }
                    load_frame!();
                    poll_point!();
                }
                op::SUPER_INVOKE => {
                    let name = read_string!();
                    let argc = usize::from(read_byte!());
                    save_ip!();
                    let superclass = self.pop().as_obj().expect("super is a class");
                    try_!(self.invoke_from_class(superclass, name, argc));
                    load_frame!();
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
                                upvalue_obj_at(closure, index)
                            };
                            let _ = arr.set(mc, i, Some(up));
                        }
                        Some(arr)
                    };
                    let c = try_!(mc
                        .alloc(Object::Closure(Closure { function: f, upvalues }))
                        .map_err(oom));
                    try_!(self.push(Val::obj(c)));
                    yield_point!();
                }
                op::CLOSE_UPVALUE => {
                    let last = self.sp - 1;
                    self.close_upvalues(last);
                    self.pop();
                }
                op::RETURN => {
                    let result = self.pop();
                    if !self.open.is_empty() {
                        self.close_upvalues(frame.base);
                    }
                    self.frames.pop();
                    self.closures.pop();
                    if self.frames.is_empty() {
                        self.sp = 0;
                        return Ok(Slice::Done);
                    }
                    self.sp = frame.base;
                    try_!(self.push(result));
                    load_frame!();
                    poll_point!();
                }
                op::CLASS => {
                    let name = read_string!();
                    let class = try_!(mc
                        .alloc(Object::Class(Class {
                            name,
                            methods: Table::new()
                        }))
                        .map_err(oom));
                    try_!(self.push(Val::obj(class)));
                    yield_point!();
                }
                op::INHERIT => {
                    let superclass = self.peek(1);
                    let Some(Object::Class(sup)) = superclass.as_obj().map(Obj::into_ref) else {
                        fail!("Superclass must be a class.".into())
                    };
                    let Some(Object::Class(sub)) = self.peek(0).as_obj().map(Obj::into_ref) else {
                        fail!("Superclass must be a class.".into())
                    };
                    try_!(sup.methods.add_all(mc, &sub.methods).map_err(oom));
                    self.pop();
                }
                op::METHOD => {
                    let name = read_string!();
                    let method = self.peek(0);
                    if let Some(Object::Class(c)) = self.peek(1).as_obj().map(Obj::into_ref) {
                        try_!(c.methods.set(mc, name, method).map_err(oom));
                    }
                    self.pop();
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
