//! Bytecode: clox's instruction set and the compiler's output, a tree of
//! function prototypes that lives on the Rust side.
//!
//! The compiler never touches the heap. It produces a [`Proto`] per
//! function (the script is the root): its bytecode, one source line per
//! byte of code, its constants (numbers, strings, nested prototypes) and
//! the description of the upvalues its closures capture. The VM
//! materialises a prototype tree as heap objects before running it.
//!
//! The encoding is clox's, byte for byte: one opcode byte, then operands
//! (constant and slot indices are one byte; jumps are two bytes,
//! big-endian; `OP_CLOSURE` is followed by one `(is_local, index)` byte
//! pair per upvalue of the function it closes).

use std::rc::Rc;

/// clox's opcodes, with the same numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OpCode {
    Constant,
    Nil,
    True,
    False,
    Pop,
    GetLocal,
    SetLocal,
    GetGlobal,
    DefineGlobal,
    SetGlobal,
    GetUpvalue,
    SetUpvalue,
    GetProperty,
    SetProperty,
    GetSuper,
    Equal,
    Greater,
    Less,
    Add,
    Subtract,
    Multiply,
    Divide,
    Not,
    Negate,
    Print,
    Jump,
    JumpIfFalse,
    Loop,
    Call,
    Invoke,
    SuperInvoke,
    Closure,
    CloseUpvalue,
    Return,
    Class,
    Inherit,
    Method,
}

impl OpCode {
    /// Every opcode, indexed by its byte.
    pub const ALL: [OpCode; 37] = [
        OpCode::Constant,
        OpCode::Nil,
        OpCode::True,
        OpCode::False,
        OpCode::Pop,
        OpCode::GetLocal,
        OpCode::SetLocal,
        OpCode::GetGlobal,
        OpCode::DefineGlobal,
        OpCode::SetGlobal,
        OpCode::GetUpvalue,
        OpCode::SetUpvalue,
        OpCode::GetProperty,
        OpCode::SetProperty,
        OpCode::GetSuper,
        OpCode::Equal,
        OpCode::Greater,
        OpCode::Less,
        OpCode::Add,
        OpCode::Subtract,
        OpCode::Multiply,
        OpCode::Divide,
        OpCode::Not,
        OpCode::Negate,
        OpCode::Print,
        OpCode::Jump,
        OpCode::JumpIfFalse,
        OpCode::Loop,
        OpCode::Call,
        OpCode::Invoke,
        OpCode::SuperInvoke,
        OpCode::Closure,
        OpCode::CloseUpvalue,
        OpCode::Return,
        OpCode::Class,
        OpCode::Inherit,
        OpCode::Method,
    ];

    /// The opcode encoded by `byte`, if any.
    pub fn from_byte(byte: u8) -> Option<OpCode> {
        OpCode::ALL.get(usize::from(byte)).copied()
    }

    /// clox's name for the opcode (`OP_CONSTANT`, ...), as its disassembler prints it.
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Constant => "OP_CONSTANT",
            OpCode::Nil => "OP_NIL",
            OpCode::True => "OP_TRUE",
            OpCode::False => "OP_FALSE",
            OpCode::Pop => "OP_POP",
            OpCode::GetLocal => "OP_GET_LOCAL",
            OpCode::SetLocal => "OP_SET_LOCAL",
            OpCode::GetGlobal => "OP_GET_GLOBAL",
            OpCode::DefineGlobal => "OP_DEFINE_GLOBAL",
            OpCode::SetGlobal => "OP_SET_GLOBAL",
            OpCode::GetUpvalue => "OP_GET_UPVALUE",
            OpCode::SetUpvalue => "OP_SET_UPVALUE",
            OpCode::GetProperty => "OP_GET_PROPERTY",
            OpCode::SetProperty => "OP_SET_PROPERTY",
            OpCode::GetSuper => "OP_GET_SUPER",
            OpCode::Equal => "OP_EQUAL",
            OpCode::Greater => "OP_GREATER",
            OpCode::Less => "OP_LESS",
            OpCode::Add => "OP_ADD",
            OpCode::Subtract => "OP_SUBTRACT",
            OpCode::Multiply => "OP_MULTIPLY",
            OpCode::Divide => "OP_DIVIDE",
            OpCode::Not => "OP_NOT",
            OpCode::Negate => "OP_NEGATE",
            OpCode::Print => "OP_PRINT",
            OpCode::Jump => "OP_JUMP",
            OpCode::JumpIfFalse => "OP_JUMP_IF_FALSE",
            OpCode::Loop => "OP_LOOP",
            OpCode::Call => "OP_CALL",
            OpCode::Invoke => "OP_INVOKE",
            OpCode::SuperInvoke => "OP_SUPER_INVOKE",
            OpCode::Closure => "OP_CLOSURE",
            OpCode::CloseUpvalue => "OP_CLOSE_UPVALUE",
            OpCode::Return => "OP_RETURN",
            OpCode::Class => "OP_CLASS",
            OpCode::Inherit => "OP_INHERIT",
            OpCode::Method => "OP_METHOD",
        }
    }
}

/// How a closure captures one upvalue: a local slot of the enclosing
/// function (`is_local`) or one of the enclosing function's own upvalues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpvalueDesc {
    pub is_local: bool,
    pub index: u8,
}

/// A constant in a function's constant table.
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    Number(f64),
    /// A string literal or a name (global, property, method, class), as bytes.
    String(Box<[u8]>),
    /// A nested function.
    Function(Rc<Proto>),
}

/// A compiled function: what clox's `ObjFunction` holds, on the Rust side.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Proto {
    /// `None` for the top-level script.
    pub name: Option<Box<[u8]>>,
    pub arity: u8,
    pub upvalues: Vec<UpvalueDesc>,
    pub code: Vec<u8>,
    /// The source line of each byte of `code`.
    pub lines: Vec<u32>,
    pub constants: Vec<Constant>,
}

impl Proto {
    /// The name as clox prints it in stack traces and `<fn name>`; `None` for the script.
    pub fn name_lossy(&self) -> Option<String> {
        self.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned())
    }
}
