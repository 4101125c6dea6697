//! The single-pass compiler: tokens to a tree of [`Proto`]s, as clox does it.
//!
//! A Pratt parser (one parse rule per token kind: prefix function, infix
//! function, precedence) drives code generation directly; there is no
//! syntax tree. Each function being compiled has a [`FunctionState`]
//! (its growing prototype, its locals, its upvalues, its scope depth);
//! the states form a stack, innermost last, so resolving a name walks
//! outwards through the enclosing functions exactly like clox's
//! `enclosing` chain. Classes being compiled form a second stack, for
//! `this` and `super`.
//!
//! Everything observable matches clox: the bytecode (same opcodes, same
//! operands, same line per byte, constants appended without
//! de-duplication so the 256-constant limit trips at the same point), the
//! error messages and where they are reported, panic mode and
//! resynchronisation at statement boundaries, and the limits: 256 locals
//! (slot 0 included), 256 upvalues, 256 constants per function, 255
//! parameters and arguments, 65535-byte jumps and loops.
//!
//! The compiler never touches the heap; [`compile`] returns the script's
//! prototype or every error in the order clox prints them.

use std::fmt;
use std::rc::Rc;

use crate::chunk::{Constant, OpCode, Proto, UpvalueDesc};
use crate::scanner::{Scanner, Token, TokenKind};

/// Where a compile error is reported, as clox words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorLocation {
    /// ` at end`
    AtEnd,
    /// ` at 'lexeme'`
    At(Box<[u8]>),
    /// Nothing: a scanner error, whose message says it all.
    Nowhere,
}

/// One compile error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    pub line: u32,
    pub location: ErrorLocation,
    pub message: String,
}

impl CompileError {
    /// The error line exactly as clox writes it to stderr, newline included:
    /// `[line N] Error at 'x': message`.
    pub fn render(&self) -> Vec<u8> {
        let mut out = format!("[line {}] Error", self.line).into_bytes();
        match &self.location {
            ErrorLocation::AtEnd => out.extend_from_slice(b" at end"),
            ErrorLocation::At(lexeme) => {
                out.extend_from_slice(b" at '");
                out.extend_from_slice(lexeme);
                out.push(b'\'');
            }
            ErrorLocation::Nowhere => {}
        }
        out.extend_from_slice(b": ");
        out.extend_from_slice(self.message.as_bytes());
        out.push(b'\n');
        out
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.render();
        f.write_str(String::from_utf8_lossy(&r[..r.len() - 1]).as_ref())
    }
}

/// Compiles a whole script. On success, the script's prototype (arity 0,
/// no name); on failure, every error reported, in order.
pub fn compile(source: &[u8]) -> Result<Proto, Vec<CompileError>> {
    let mut c = Compiler::new(source);
    c.advance();
    while !c.matches(TokenKind::Eof) {
        c.declaration();
    }
    let (proto, _) = c.end_function();
    if c.errors.is_empty() {
        Ok(proto)
    } else {
        Err(c.errors)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Precedence {
    None,
    Assignment,
    Or,
    And,
    Equality,
    Comparison,
    Term,
    Factor,
    Unary,
    Call,
    Primary,
}

impl Precedence {
    fn next(self) -> Precedence {
        match self {
            Precedence::None => Precedence::Assignment,
            Precedence::Assignment => Precedence::Or,
            Precedence::Or => Precedence::And,
            Precedence::And => Precedence::Equality,
            Precedence::Equality => Precedence::Comparison,
            Precedence::Comparison => Precedence::Term,
            Precedence::Term => Precedence::Factor,
            Precedence::Factor => Precedence::Unary,
            Precedence::Unary => Precedence::Call,
            Precedence::Call | Precedence::Primary => Precedence::Primary,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Prefix {
    Grouping,
    Unary,
    Variable,
    String,
    Number,
    Literal,
    Super,
    This,
}

#[derive(Clone, Copy, Debug)]
enum Infix {
    Call,
    Dot,
    Binary,
    And,
    Or,
}

/// clox's parse rule table.
fn rule(kind: TokenKind) -> (Option<Prefix>, Option<Infix>, Precedence) {
    use TokenKind as T;
    match kind {
        T::LeftParen => (Some(Prefix::Grouping), Some(Infix::Call), Precedence::Call),
        T::Dot => (None, Some(Infix::Dot), Precedence::Call),
        T::Minus => (Some(Prefix::Unary), Some(Infix::Binary), Precedence::Term),
        T::Plus => (None, Some(Infix::Binary), Precedence::Term),
        T::Slash | T::Star => (None, Some(Infix::Binary), Precedence::Factor),
        T::Bang => (Some(Prefix::Unary), None, Precedence::None),
        T::BangEqual | T::EqualEqual => (None, Some(Infix::Binary), Precedence::Equality),
        T::Greater | T::GreaterEqual | T::Less | T::LessEqual => (None, Some(Infix::Binary), Precedence::Comparison),
        T::Identifier => (Some(Prefix::Variable), None, Precedence::None),
        T::String => (Some(Prefix::String), None, Precedence::None),
        T::Number => (Some(Prefix::Number), None, Precedence::None),
        T::And => (None, Some(Infix::And), Precedence::And),
        T::Or => (None, Some(Infix::Or), Precedence::Or),
        T::False | T::Nil | T::True => (Some(Prefix::Literal), None, Precedence::None),
        T::Super => (Some(Prefix::Super), None, Precedence::None),
        T::This => (Some(Prefix::This), None, Precedence::None),
        _ => (None, None, Precedence::None),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FunctionKind {
    Function,
    Initializer,
    Method,
    Script,
}

#[derive(Debug)]
struct Local<'src> {
    name: &'src [u8],
    /// `None` while declared but not yet initialised (clox's depth -1).
    depth: Option<u32>,
    is_captured: bool,
}

/// clox's limit on locals, upvalues and constants per function.
const UINT8_COUNT: usize = 256;

#[derive(Debug)]
struct FunctionState<'src> {
    proto: Proto,
    /// clox's arity is an `int`; it may pass 255 in a script that fails to compile.
    arity: usize,
    kind: FunctionKind,
    locals: Vec<Local<'src>>,
    upvalues: Vec<UpvalueDesc>,
    scope_depth: u32,
}

#[derive(Debug)]
struct ClassState {
    has_superclass: bool,
}

#[derive(Debug)]
struct Compiler<'src> {
    scanner: Scanner<'src>,
    current: Token<'src>,
    previous: Token<'src>,
    panic_mode: bool,
    errors: Vec<CompileError>,
    functions: Vec<FunctionState<'src>>,
    classes: Vec<ClassState>,
}

impl<'src> Compiler<'src> {
    fn new(source: &'src [u8]) -> Compiler<'src> {
        let eof = Token {
            kind: TokenKind::Eof,
            lexeme: b"",
            line: 1,
        };
        let mut c = Compiler {
            scanner: Scanner::new(source),
            current: eof,
            previous: eof,
            panic_mode: false,
            errors: Vec::new(),
            functions: Vec::new(),
            classes: Vec::new(),
        };
        c.begin_function(FunctionKind::Script);
        c
    }

    // ----- errors -----

    fn error_at(&mut self, token: Token<'src>, message: &str) {
        if self.panic_mode {
            return;
        }
        self.panic_mode = true;
        let location = match token.kind {
            TokenKind::Eof => ErrorLocation::AtEnd,
            TokenKind::Error => ErrorLocation::Nowhere,
            _ => ErrorLocation::At(token.lexeme.into()),
        };
        self.errors.push(CompileError {
            line: token.line,
            location,
            message: message.to_owned(),
        });
    }

    fn error(&mut self, message: &str) {
        self.error_at(self.previous, message);
    }

    fn error_at_current(&mut self, message: &str) {
        self.error_at(self.current, message);
    }

    // ----- tokens -----

    fn advance(&mut self) {
        self.previous = self.current;
        loop {
            self.current = self.scanner.scan_token();
            if self.current.kind != TokenKind::Error {
                break;
            }
            let message = String::from_utf8_lossy(self.current.lexeme).into_owned();
            self.error_at_current(&message);
        }
    }

    fn consume(&mut self, kind: TokenKind, message: &str) {
        if self.current.kind == kind {
            self.advance();
            return;
        }
        self.error_at_current(message);
    }

    fn check(&self, kind: TokenKind) -> bool {
        self.current.kind == kind
    }

    fn matches(&mut self, kind: TokenKind) -> bool {
        if !self.check(kind) {
            return false;
        }
        self.advance();
        true
    }

    // ----- emitting -----

    fn func(&mut self) -> &mut FunctionState<'src> {
        self.functions.last_mut().expect("a function is always being compiled")
    }

    fn func_ref(&self) -> &FunctionState<'src> {
        self.functions.last().expect("a function is always being compiled")
    }

    fn code_len(&self) -> usize {
        self.func_ref().proto.code.len()
    }

    fn emit_byte(&mut self, byte: u8) {
        let line = self.previous.line;
        let proto = &mut self.func().proto;
        proto.code.push(byte);
        proto.lines.push(line);
    }

    fn emit_op(&mut self, op: OpCode) {
        self.emit_byte(op as u8);
    }

    fn emit_op_arg(&mut self, op: OpCode, arg: u8) {
        self.emit_byte(op as u8);
        self.emit_byte(arg);
    }

    fn emit_loop(&mut self, loop_start: usize) {
        self.emit_op(OpCode::Loop);
        let offset = self.code_len() - loop_start + 2;
        if offset > usize::from(u16::MAX) {
            self.error("Loop body too large.");
        }
        self.emit_byte(((offset >> 8) & 0xff) as u8);
        self.emit_byte((offset & 0xff) as u8);
    }

    fn emit_jump(&mut self, op: OpCode) -> usize {
        self.emit_op(op);
        self.emit_byte(0xff);
        self.emit_byte(0xff);
        self.code_len() - 2
    }

    fn emit_return(&mut self) {
        if self.func_ref().kind == FunctionKind::Initializer {
            self.emit_op_arg(OpCode::GetLocal, 0);
        } else {
            self.emit_op(OpCode::Nil);
        }
        self.emit_op(OpCode::Return);
    }

    fn make_constant(&mut self, value: Constant) -> u8 {
        let constants = &mut self.func().proto.constants;
        constants.push(value);
        let index = constants.len() - 1;
        match u8::try_from(index) {
            Ok(i) => i,
            Err(_) => {
                self.error("Too many constants in one chunk.");
                0
            }
        }
    }

    fn emit_constant(&mut self, value: Constant) {
        let index = self.make_constant(value);
        self.emit_op_arg(OpCode::Constant, index);
    }

    fn patch_jump(&mut self, offset: usize) {
        let jump = self.code_len() - offset - 2;
        if jump > usize::from(u16::MAX) {
            self.error("Too much code to jump over.");
        }
        let code = &mut self.func().proto.code;
        code[offset] = ((jump >> 8) & 0xff) as u8;
        code[offset + 1] = (jump & 0xff) as u8;
    }

    // ----- functions and scopes -----

    fn begin_function(&mut self, kind: FunctionKind) {
        let mut proto = Proto::default();
        if kind != FunctionKind::Script {
            proto.name = Some(self.previous.lexeme.into());
        }
        let slot0: &'static [u8] = if kind == FunctionKind::Function { b"" } else { b"this" };
        self.functions.push(FunctionState {
            proto,
            arity: 0,
            kind,
            locals: vec![Local {
                name: slot0,
                depth: Some(0),
                is_captured: false,
            }],
            upvalues: Vec::new(),
            scope_depth: 0,
        });
    }

    /// Ends the innermost function: emits its implicit return and pops it.
    fn end_function(&mut self) -> (Proto, Vec<UpvalueDesc>) {
        self.emit_return();
        let state = self.functions.pop().expect("a function is always being compiled");
        let mut proto = state.proto;
        proto.arity = u8::try_from(state.arity).unwrap_or(u8::MAX);
        proto.upvalues = state.upvalues.clone();
        (proto, state.upvalues)
    }

    fn begin_scope(&mut self) {
        self.func().scope_depth += 1;
    }

    fn end_scope(&mut self) {
        self.func().scope_depth -= 1;
        loop {
            let f = self.func_ref();
            // clox pops while the last local's depth exceeds the scope depth;
            // an uninitialised local (its depth -1) never does, so it stops there.
            let Some(&Local {
                depth: Some(depth),
                is_captured,
                ..
            }) = f.locals.last()
            else {
                break;
            };
            if depth <= f.scope_depth {
                break;
            }
            self.emit_op(if is_captured { OpCode::CloseUpvalue } else { OpCode::Pop });
            self.func().locals.pop();
        }
    }

    // ----- variables -----

    fn identifier_constant(&mut self, name: &[u8]) -> u8 {
        self.make_constant(Constant::String(name.into()))
    }

    fn resolve_local(&mut self, level: usize, name: &[u8]) -> Option<u8> {
        let found = self.functions[level].locals.iter().rposition(|l| l.name == name)?;
        if self.functions[level].locals[found].depth.is_none() {
            self.error("Can't read local variable in its own initializer.");
        }
        Some(found as u8)
    }

    fn add_upvalue(&mut self, level: usize, index: u8, is_local: bool) -> u8 {
        let upvalues = &self.functions[level].upvalues;
        if let Some(i) = upvalues.iter().position(|u| u.index == index && u.is_local == is_local) {
            return i as u8;
        }
        if upvalues.len() == UINT8_COUNT {
            self.error("Too many closure variables in function.");
            return 0;
        }
        let upvalues = &mut self.functions[level].upvalues;
        upvalues.push(UpvalueDesc { is_local, index });
        (upvalues.len() - 1) as u8
    }

    fn resolve_upvalue(&mut self, level: usize, name: &[u8]) -> Option<u8> {
        if level == 0 {
            return None;
        }
        if let Some(local) = self.resolve_local(level - 1, name) {
            self.functions[level - 1].locals[usize::from(local)].is_captured = true;
            return Some(self.add_upvalue(level, local, true));
        }
        let upvalue = self.resolve_upvalue(level - 1, name)?;
        Some(self.add_upvalue(level, upvalue, false))
    }

    fn add_local(&mut self, name: &'src [u8]) {
        if self.func_ref().locals.len() == UINT8_COUNT {
            self.error("Too many local variables in function.");
            return;
        }
        self.func().locals.push(Local {
            name,
            depth: None,
            is_captured: false,
        });
    }

    fn declare_variable(&mut self) {
        let f = self.func_ref();
        if f.scope_depth == 0 {
            return;
        }
        let name = self.previous.lexeme;
        let mut duplicate = false;
        for local in f.locals.iter().rev() {
            if let Some(depth) = local.depth {
                if depth < f.scope_depth {
                    break;
                }
            }
            if local.name == name {
                duplicate = true;
            }
        }
        if duplicate {
            self.error("Already a variable with this name in this scope.");
        }
        self.add_local(name);
    }

    fn parse_variable(&mut self, message: &str) -> u8 {
        self.consume(TokenKind::Identifier, message);
        self.declare_variable();
        if self.func_ref().scope_depth > 0 {
            return 0;
        }
        let name = self.previous.lexeme;
        self.identifier_constant(name)
    }

    fn mark_initialized(&mut self) {
        let f = self.func();
        if f.scope_depth == 0 {
            return;
        }
        let depth = f.scope_depth;
        if let Some(last) = f.locals.last_mut() {
            last.depth = Some(depth);
        }
    }

    fn define_variable(&mut self, global: u8) {
        if self.func_ref().scope_depth > 0 {
            self.mark_initialized();
            return;
        }
        self.emit_op_arg(OpCode::DefineGlobal, global);
    }

    fn argument_list(&mut self) -> u8 {
        let mut count: u8 = 0;
        if !self.check(TokenKind::RightParen) {
            loop {
                self.expression();
                if count == 255 {
                    self.error("Can't have more than 255 arguments.");
                }
                count = count.wrapping_add(1);
                if !self.matches(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.consume(TokenKind::RightParen, "Expect ')' after arguments.");
        count
    }

    fn named_variable(&mut self, name: &'src [u8], can_assign: bool) {
        let level = self.functions.len() - 1;
        let (get, set, arg) = if let Some(slot) = self.resolve_local(level, name) {
            (OpCode::GetLocal, OpCode::SetLocal, slot)
        } else if let Some(index) = self.resolve_upvalue(level, name) {
            (OpCode::GetUpvalue, OpCode::SetUpvalue, index)
        } else {
            let index = self.identifier_constant(name);
            (OpCode::GetGlobal, OpCode::SetGlobal, index)
        };
        if can_assign && self.matches(TokenKind::Equal) {
            self.expression();
            self.emit_op_arg(set, arg);
        } else {
            self.emit_op_arg(get, arg);
        }
    }

    // ----- expressions -----

    fn prefix(&mut self, p: Prefix, can_assign: bool) {
        match p {
            Prefix::Grouping => {
                self.expression();
                self.consume(TokenKind::RightParen, "Expect ')' after expression.");
            }
            Prefix::Unary => {
                let op = self.previous.kind;
                self.parse_precedence(Precedence::Unary);
                match op {
                    TokenKind::Bang => self.emit_op(OpCode::Not),
                    TokenKind::Minus => self.emit_op(OpCode::Negate),
                    _ => {}
                }
            }
            Prefix::Variable => self.named_variable(self.previous.lexeme, can_assign),
            Prefix::String => {
                let lexeme = self.previous.lexeme;
                let text = &lexeme[1..lexeme.len() - 1];
                self.emit_constant(Constant::String(text.into()));
            }
            Prefix::Number => {
                // The lexeme is digits with an optional fraction: ASCII, and
                // always a valid float literal for Rust's correctly rounded
                // parser, which agrees with strtod.
                let text = std::str::from_utf8(self.previous.lexeme).unwrap_or("0");
                let value = text.parse::<f64>().unwrap_or(0.0);
                self.emit_constant(Constant::Number(value));
            }
            Prefix::Literal => match self.previous.kind {
                TokenKind::False => self.emit_op(OpCode::False),
                TokenKind::Nil => self.emit_op(OpCode::Nil),
                TokenKind::True => self.emit_op(OpCode::True),
                _ => {}
            },
            Prefix::Super => self.super_(),
            Prefix::This => {
                if self.classes.is_empty() {
                    self.error("Can't use 'this' outside of a class.");
                    return;
                }
                self.named_variable(self.previous.lexeme, false);
            }
        }
    }

    fn super_(&mut self) {
        match self.classes.last() {
            None => self.error("Can't use 'super' outside of a class."),
            Some(c) if !c.has_superclass => self.error("Can't use 'super' in a class with no superclass."),
            Some(_) => {}
        }
        self.consume(TokenKind::Dot, "Expect '.' after 'super'.");
        self.consume(TokenKind::Identifier, "Expect superclass method name.");
        let name = self.identifier_constant(self.previous.lexeme);
        self.named_variable(b"this", false);
        if self.matches(TokenKind::LeftParen) {
            let argc = self.argument_list();
            self.named_variable(b"super", false);
            self.emit_op_arg(OpCode::SuperInvoke, name);
            self.emit_byte(argc);
        } else {
            self.named_variable(b"super", false);
            self.emit_op_arg(OpCode::GetSuper, name);
        }
    }

    fn infix(&mut self, i: Infix, can_assign: bool) {
        match i {
            Infix::Call => {
                let argc = self.argument_list();
                self.emit_op_arg(OpCode::Call, argc);
            }
            Infix::Dot => {
                self.consume(TokenKind::Identifier, "Expect property name after '.'.");
                let name = self.identifier_constant(self.previous.lexeme);
                if can_assign && self.matches(TokenKind::Equal) {
                    self.expression();
                    self.emit_op_arg(OpCode::SetProperty, name);
                } else if self.matches(TokenKind::LeftParen) {
                    let argc = self.argument_list();
                    self.emit_op_arg(OpCode::Invoke, name);
                    self.emit_byte(argc);
                } else {
                    self.emit_op_arg(OpCode::GetProperty, name);
                }
            }
            Infix::Binary => {
                let op = self.previous.kind;
                let (_, _, prec) = rule(op);
                self.parse_precedence(prec.next());
                match op {
                    TokenKind::BangEqual => {
                        self.emit_op(OpCode::Equal);
                        self.emit_op(OpCode::Not);
                    }
                    TokenKind::EqualEqual => self.emit_op(OpCode::Equal),
                    TokenKind::Greater => self.emit_op(OpCode::Greater),
                    TokenKind::GreaterEqual => {
                        self.emit_op(OpCode::Less);
                        self.emit_op(OpCode::Not);
                    }
                    TokenKind::Less => self.emit_op(OpCode::Less),
                    TokenKind::LessEqual => {
                        self.emit_op(OpCode::Greater);
                        self.emit_op(OpCode::Not);
                    }
                    TokenKind::Plus => self.emit_op(OpCode::Add),
                    TokenKind::Minus => self.emit_op(OpCode::Subtract),
                    TokenKind::Star => self.emit_op(OpCode::Multiply),
                    TokenKind::Slash => self.emit_op(OpCode::Divide),
                    _ => {}
                }
            }
            Infix::And => {
                let end_jump = self.emit_jump(OpCode::JumpIfFalse);
                self.emit_op(OpCode::Pop);
                self.parse_precedence(Precedence::And);
                self.patch_jump(end_jump);
            }
            Infix::Or => {
                let else_jump = self.emit_jump(OpCode::JumpIfFalse);
                let end_jump = self.emit_jump(OpCode::Jump);
                self.patch_jump(else_jump);
                self.emit_op(OpCode::Pop);
                self.parse_precedence(Precedence::Or);
                self.patch_jump(end_jump);
            }
        }
    }

    fn parse_precedence(&mut self, precedence: Precedence) {
        self.advance();
        let Some(prefix) = rule(self.previous.kind).0 else {
            self.error("Expect expression.");
            return;
        };
        let can_assign = precedence <= Precedence::Assignment;
        self.prefix(prefix, can_assign);
        while precedence <= rule(self.current.kind).2 {
            self.advance();
            if let Some(infix) = rule(self.previous.kind).1 {
                self.infix(infix, can_assign);
            }
        }
        if can_assign && self.matches(TokenKind::Equal) {
            self.error("Invalid assignment target.");
        }
    }

    fn expression(&mut self) {
        self.parse_precedence(Precedence::Assignment);
    }

    // ----- declarations and statements -----

    fn block(&mut self) {
        while !self.check(TokenKind::RightBrace) && !self.check(TokenKind::Eof) {
            self.declaration();
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after block.");
    }

    fn function(&mut self, kind: FunctionKind) {
        self.begin_function(kind);
        self.begin_scope();
        self.consume(TokenKind::LeftParen, "Expect '(' after function name.");
        if !self.check(TokenKind::RightParen) {
            loop {
                self.func().arity += 1;
                if self.func_ref().arity > 255 {
                    self.error_at_current("Can't have more than 255 parameters.");
                }
                let constant = self.parse_variable("Expect parameter name.");
                self.define_variable(constant);
                if !self.matches(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.consume(TokenKind::RightParen, "Expect ')' after parameters.");
        self.consume(TokenKind::LeftBrace, "Expect '{' before function body.");
        self.block();
        let (proto, upvalues) = self.end_function();
        let index = self.make_constant(Constant::Function(Rc::new(proto)));
        self.emit_op_arg(OpCode::Closure, index);
        for u in upvalues {
            self.emit_byte(u8::from(u.is_local));
            self.emit_byte(u.index);
        }
    }

    fn method(&mut self) {
        self.consume(TokenKind::Identifier, "Expect method name.");
        let constant = self.identifier_constant(self.previous.lexeme);
        let kind = if self.previous.lexeme == b"init" {
            FunctionKind::Initializer
        } else {
            FunctionKind::Method
        };
        self.function(kind);
        self.emit_op_arg(OpCode::Method, constant);
    }

    fn class_declaration(&mut self) {
        self.consume(TokenKind::Identifier, "Expect class name.");
        let class_name = self.previous.lexeme;
        let name_constant = self.identifier_constant(class_name);
        self.declare_variable();
        self.emit_op_arg(OpCode::Class, name_constant);
        self.define_variable(name_constant);

        self.classes.push(ClassState { has_superclass: false });
        if self.matches(TokenKind::Less) {
            self.consume(TokenKind::Identifier, "Expect superclass name.");
            self.named_variable(self.previous.lexeme, false);
            if class_name == self.previous.lexeme {
                self.error("A class can't inherit from itself.");
            }
            self.begin_scope();
            self.add_local(b"super");
            self.define_variable(0);
            self.named_variable(class_name, false);
            self.emit_op(OpCode::Inherit);
            if let Some(c) = self.classes.last_mut() {
                c.has_superclass = true;
            }
        }
        self.named_variable(class_name, false);
        self.consume(TokenKind::LeftBrace, "Expect '{' before class body.");
        while !self.check(TokenKind::RightBrace) && !self.check(TokenKind::Eof) {
            self.method();
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after class body.");
        self.emit_op(OpCode::Pop);
        if self.classes.last().is_some_and(|c| c.has_superclass) {
            self.end_scope();
        }
        self.classes.pop();
    }

    fn fun_declaration(&mut self) {
        let global = self.parse_variable("Expect function name.");
        self.mark_initialized();
        self.function(FunctionKind::Function);
        self.define_variable(global);
    }

    fn var_declaration(&mut self) {
        let global = self.parse_variable("Expect variable name.");
        if self.matches(TokenKind::Equal) {
            self.expression();
        } else {
            self.emit_op(OpCode::Nil);
        }
        self.consume(TokenKind::Semicolon, "Expect ';' after variable declaration.");
        self.define_variable(global);
    }

    fn expression_statement(&mut self) {
        self.expression();
        self.consume(TokenKind::Semicolon, "Expect ';' after expression.");
        self.emit_op(OpCode::Pop);
    }

    fn for_statement(&mut self) {
        self.begin_scope();
        self.consume(TokenKind::LeftParen, "Expect '(' after 'for'.");
        if self.matches(TokenKind::Semicolon) {
            // No initializer.
        } else if self.matches(TokenKind::Var) {
            self.var_declaration();
        } else {
            self.expression_statement();
        }

        let mut loop_start = self.code_len();
        let mut exit_jump = None;
        if !self.matches(TokenKind::Semicolon) {
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after loop condition.");
            exit_jump = Some(self.emit_jump(OpCode::JumpIfFalse));
            self.emit_op(OpCode::Pop);
        }

        if !self.matches(TokenKind::RightParen) {
            let body_jump = self.emit_jump(OpCode::Jump);
            let increment_start = self.code_len();
            self.expression();
            self.emit_op(OpCode::Pop);
            self.consume(TokenKind::RightParen, "Expect ')' after for clauses.");
            self.emit_loop(loop_start);
            loop_start = increment_start;
            self.patch_jump(body_jump);
        }

        self.statement();
        self.emit_loop(loop_start);
        if let Some(exit) = exit_jump {
            self.patch_jump(exit);
            self.emit_op(OpCode::Pop);
        }
        self.end_scope();
    }

    fn if_statement(&mut self) {
        self.consume(TokenKind::LeftParen, "Expect '(' after 'if'.");
        self.expression();
        self.consume(TokenKind::RightParen, "Expect ')' after condition.");
        let then_jump = self.emit_jump(OpCode::JumpIfFalse);
        self.emit_op(OpCode::Pop);
        self.statement();
        let else_jump = self.emit_jump(OpCode::Jump);
        self.patch_jump(then_jump);
        self.emit_op(OpCode::Pop);
        if self.matches(TokenKind::Else) {
            self.statement();
        }
        self.patch_jump(else_jump);
    }

    fn print_statement(&mut self) {
        self.expression();
        self.consume(TokenKind::Semicolon, "Expect ';' after value.");
        self.emit_op(OpCode::Print);
    }

    fn return_statement(&mut self) {
        if self.func_ref().kind == FunctionKind::Script {
            self.error("Can't return from top-level code.");
        }
        if self.matches(TokenKind::Semicolon) {
            self.emit_return();
        } else {
            if self.func_ref().kind == FunctionKind::Initializer {
                self.error("Can't return a value from an initializer.");
            }
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after return value.");
            self.emit_op(OpCode::Return);
        }
    }

    fn while_statement(&mut self) {
        let loop_start = self.code_len();
        self.consume(TokenKind::LeftParen, "Expect '(' after 'while'.");
        self.expression();
        self.consume(TokenKind::RightParen, "Expect ')' after condition.");
        let exit_jump = self.emit_jump(OpCode::JumpIfFalse);
        self.emit_op(OpCode::Pop);
        self.statement();
        self.emit_loop(loop_start);
        self.patch_jump(exit_jump);
        self.emit_op(OpCode::Pop);
    }

    fn synchronize(&mut self) {
        self.panic_mode = false;
        while self.current.kind != TokenKind::Eof {
            if self.previous.kind == TokenKind::Semicolon {
                return;
            }
            match self.current.kind {
                TokenKind::Class
                | TokenKind::Fun
                | TokenKind::Var
                | TokenKind::For
                | TokenKind::If
                | TokenKind::While
                | TokenKind::Print
                | TokenKind::Return => return,
                _ => {}
            }
            self.advance();
        }
    }

    fn declaration(&mut self) {
        if self.matches(TokenKind::Class) {
            self.class_declaration();
        } else if self.matches(TokenKind::Fun) {
            self.fun_declaration();
        } else if self.matches(TokenKind::Var) {
            self.var_declaration();
        } else {
            self.statement();
        }
        if self.panic_mode {
            self.synchronize();
        }
    }

    fn statement(&mut self) {
        if self.matches(TokenKind::Print) {
            self.print_statement();
        } else if self.matches(TokenKind::For) {
            self.for_statement();
        } else if self.matches(TokenKind::If) {
            self.if_statement();
        } else if self.matches(TokenKind::Return) {
            self.return_statement();
        } else if self.matches(TokenKind::While) {
            self.while_statement();
        } else if self.matches(TokenKind::LeftBrace) {
            self.begin_scope();
            self.block();
            self.end_scope();
        } else {
            self.expression_statement();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> Vec<String> {
        match compile(src.as_bytes()) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn ops(proto: &Proto) -> Vec<OpCode> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < proto.code.len() {
            let op = OpCode::from_byte(proto.code[i]).expect("valid opcode");
            out.push(op);
            i += match op {
                OpCode::Invoke | OpCode::SuperInvoke | OpCode::Jump | OpCode::JumpIfFalse | OpCode::Loop => 3,
                OpCode::Closure => {
                    let n = match &proto.constants[usize::from(proto.code[i + 1])] {
                        Constant::Function(f) => f.upvalues.len(),
                        _ => panic!("OP_CLOSURE names a function"),
                    };
                    2 + 2 * n
                }
                OpCode::Constant
                | OpCode::GetLocal
                | OpCode::SetLocal
                | OpCode::GetGlobal
                | OpCode::DefineGlobal
                | OpCode::SetGlobal
                | OpCode::GetUpvalue
                | OpCode::SetUpvalue
                | OpCode::GetProperty
                | OpCode::SetProperty
                | OpCode::GetSuper
                | OpCode::Call
                | OpCode::Class
                | OpCode::Method => 2,
                _ => 1,
            };
        }
        out
    }

    #[test]
    fn expression_statement_bytecode() {
        let p = compile(b"print 1 + 2 * 3;").expect("compiles");
        use OpCode::*;
        assert_eq!(
            ops(&p),
            vec![Constant, Constant, Constant, Multiply, Add, Print, Nil, Return]
        );
        assert_eq!(
            p.constants,
            vec![
                super::Constant::Number(1.0),
                super::Constant::Number(2.0),
                super::Constant::Number(3.0)
            ]
        );
        assert!(p.lines.iter().all(|&l| l == 1));
        assert_eq!(p.code.len(), p.lines.len());
        assert_eq!(p.name, None);
    }

    #[test]
    fn functions_nest_as_constants_with_upvalues() {
        let p = compile(b"fun outer(a, b) {\n var c = a;\n fun inner() { return b + c; }\n return inner;\n}")
            .expect("compiles");
        let Constant::Function(outer) = &p.constants[1] else {
            panic!("outer is a constant")
        };
        assert_eq!(outer.name.as_deref(), Some(&b"outer"[..]));
        assert_eq!(outer.arity, 2);
        assert!(outer.upvalues.is_empty());
        let Constant::Function(inner) = &outer.constants[0] else {
            panic!("inner is outer's constant")
        };
        assert_eq!(inner.arity, 0);
        assert_eq!(
            inner.upvalues,
            vec![
                UpvalueDesc {
                    is_local: true,
                    index: 2
                },
                UpvalueDesc {
                    is_local: true,
                    index: 3
                }
            ]
        );
        // A function body is never closed by end_scope: its OP_RETURN closes
        // the captured locals (`b`, `c`) at run time.
        assert_eq!(*ops(outer).last().expect("code"), OpCode::Return);
    }

    #[test]
    fn captured_block_locals_are_closed() {
        let p = compile(b"{ var a = 1; fun f() { return a; } var b = 2; }").expect("compiles");
        let o = ops(&p);
        let tail: Vec<OpCode> = o[o.len() - 5..].to_vec();
        use OpCode::*;
        assert_eq!(tail, vec![Pop, Pop, CloseUpvalue, Nil, Return]);
    }

    #[test]
    fn methods_initializers_and_super() {
        let p = compile(b"class A { init() {} m() {} } class B < A { m() { return super.m(); } }").expect("compiles");
        let o = ops(&p);
        assert!(o.contains(&OpCode::Inherit));
        assert_eq!(o.iter().filter(|&&op| op == OpCode::Method).count(), 3);
        let init = p
            .constants
            .iter()
            .find_map(|c| match c {
                Constant::Function(f) if f.name.as_deref() == Some(&b"init"[..]) => Some(f.clone()),
                _ => None,
            })
            .expect("init is compiled");
        // An initializer returns `this` (slot 0).
        assert_eq!(init.code, vec![OpCode::GetLocal as u8, 0, OpCode::Return as u8]);
    }

    #[test]
    fn error_messages_and_locations() {
        assert_eq!(
            errors("print 1"),
            vec!["[line 1] Error at end: Expect ';' after value."]
        );
        assert_eq!(errors("var 1;"), vec!["[line 1] Error at '1': Expect variable name."]);
        assert_eq!(errors("@"), vec!["[line 1] Error: Unexpected character."]);
        assert_eq!(
            errors("\n\nreturn;"),
            vec!["[line 3] Error at 'return': Can't return from top-level code."]
        );
        assert_eq!(
            errors("a = ;\nb = ;"),
            vec![
                "[line 1] Error at ';': Expect expression.",
                "[line 2] Error at ';': Expect expression."
            ]
        );
        assert!(errors("var a = 1; { var b = 2; print a + b; }").is_empty());
    }

    #[test]
    fn limits() {
        let params: Vec<String> = (0..256).map(|i| format!("p{i}")).collect();
        assert_eq!(
            errors(&format!("fun f({}) {{}}", params.join(","))),
            vec!["[line 1] Error at 'p255': Can't have more than 255 parameters."]
        );
        let ok: Vec<String> = (0..255).map(|i| format!("p{i}")).collect();
        let p = compile(format!("fun f({}) {{}}", ok.join(",")).as_bytes()).expect("255 parameters compile");
        let Constant::Function(f) = &p.constants[1] else {
            panic!("f")
        };
        assert_eq!(f.arity, 255);
        let consts: String = (0..256).map(|i| format!("{i};")).collect();
        assert!(errors(&consts).is_empty());
        let consts: String = (0..257).map(|i| format!("{i};")).collect();
        assert_eq!(
            errors(&consts),
            vec!["[line 1] Error at '256': Too many constants in one chunk."]
        );
    }

    #[test]
    fn render_is_bytes_exact() {
        let e = compile(b"print \xff;").expect_err("bad byte");
        assert_eq!(e[0].render(), b"[line 1] Error: Unexpected character.\n".to_vec());
        let e = compile(b"var \xc3\xa9 = 1;").expect_err("non-ASCII identifier");
        assert_eq!(e[0].render(), b"[line 1] Error: Unexpected character.\n".to_vec());
    }
}
