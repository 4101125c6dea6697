//! The compiler: data -> core tree (macro expansion, scope resolution,
//! free-variable and mutation analysis) -> bytecode [`Proto`]s.
//!
//! Closure conversion uses flat closures: a lambda's closure object holds
//! the values of the variables it captures. A captured variable that is
//! ever assigned lives in a heap box; the variables of a `letrec` whose
//! initialisers are all lambdas (named let, internal procedure
//! definitions) are not boxed: their closures are created first and their
//! free slots patched afterwards. Non-captured locals live in frame slots on
//! the VM's value stack.

use crate::expand;
use crate::reader::{private, Datum, Pos, MAX_DEPTH, PRIVATE_PREFIX};
use crate::syntax_rules::{self, Macro};
use crate::value::*;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// A `let` form's variable names and their init expressions (None: none given).
type LetBindings = (Vec<Rc<str>>, Vec<Option<Datum>>);

/// A bytecode instruction. Operands are inline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Imm(Value),
    Const(u32),
    Local(u32),
    LocalBox(u32),
    SetLocal(u32),
    SetLocalBox(u32),
    BoxLocal(u32),
    Free(u32),
    FreeBox(u32),
    SetFreeBox(u32),
    Global(u32),
    SetGlobal(u32),
    DefGlobal(u32),
    Pop,
    Jump(u32),
    JumpIfFalse(u32),
    Call(u32),
    TailCall(u32),
    Return,
    Closure(u32, u32),
    /// Patch(closure slot, free index, variable slot)
    Patch(u32, u32, u32),
    Car,
    Cdr,
    Cons,
    NullP,
    PairP,
    Not,
    EqP,
    Add,
    Sub,
    Mul,
    Lt,
    Gt,
    Le,
    Ge,
    NumEq,
    ZeroP,
    VecRef,
    VecSet,
    SetCar,
    SetCdr,
    // Superinstructions (formed by `Gen::emit`'s peephole).
    /// `Local(i)` then `Car`.
    LocalCar(u32),
    /// `Local(i)` then `Cdr`.
    LocalCdr(u32),
    /// `NullP` then `JumpIfFalse(t)`: pops x, jumps unless x is `()`.
    JumpUnlessNull(u32),
    /// `PairP` then `JumpIfFalse(t)`.
    JumpUnlessPair(u32),
    /// `Imm(fixnum k)` then `Add`.
    AddImm(i32),
    /// `Imm(fixnum k)` then `Sub`.
    SubImm(i32),
    /// `Imm(fixnum k)` then a comparison: pops x, pushes `(cmp x k)`.
    CmpImm(Cmp, i32),
    /// A comparison then `JumpIfFalse(t)`: pops y, x, jumps unless `(cmp x y)`.
    JumpUnlessCmp(Cmp, u32),
    /// `CmpImm(c, k)` then `JumpIfFalse(t)`.
    JumpUnlessCmpImm(Cmp, i32, u32),
    /// `Local(a)` then `Local(b)`.
    Local2(u32, u32),
    /// `Local(i)` then `AddImm(k)`.
    LocalAddImm(u32, i32),
    /// `Local(i)` then `SubImm(k)`.
    LocalSubImm(u32, i32),
    /// `Local(i)` then `JumpUnlessCmpImm(c, k, t)`.
    LocalJumpUnlessCmpImm(u32, Cmp, i32, u32),
    /// `Imm(fixnum k)` then `VecRef`.
    VecRefImm(u32),
    /// `(vector x1 ... xn)`: pops n values, pushes a new vector.
    Vector(u32),
}

// Instructions stay two words (dispatch reads one 16-byte Op).
const _: () = assert!(std::mem::size_of::<Op>() == 16);

/// The numeric comparisons fused into superinstructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Cmp {
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
}

impl Cmp {
    fn of(op: Op) -> Option<Cmp> {
        Some(match op {
            Op::Lt => Cmp::Lt,
            Op::Gt => Cmp::Gt,
            Op::Le => Cmp::Le,
            Op::Ge => Cmp::Ge,
            Op::NumEq => Cmp::Eq,
            _ => return None,
        })
    }
    /// The Scheme procedure's name (for error messages).
    pub fn name(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Gt => ">",
            Cmp::Le => "<=",
            Cmp::Ge => ">=",
            Cmp::Eq => "=",
        }
    }
    /// Applies the comparison to two integers.
    #[inline(always)]
    pub fn test(self, x: i64, y: i64) -> bool {
        match self {
            Cmp::Lt => x < y,
            Cmp::Gt => x > y,
            Cmp::Le => x <= y,
            Cmp::Ge => x >= y,
            Cmp::Eq => x == y,
        }
    }
    /// Whether an ordering satisfies the comparison.
    pub fn holds(self, o: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Lt => o == Some(Less),
            Cmp::Gt => o == Some(Greater),
            Cmp::Le => matches!(o, Some(Less | Equal)),
            Cmp::Ge => matches!(o, Some(Greater | Equal)),
            Cmp::Eq => o == Some(Equal),
        }
    }
}

/// Stack effect of an op within its frame: (values popped, values pushed).
/// Control ops (jumps, returns) are handled by [`max_stack`].
fn effect(op: Op) -> (u32, u32) {
    use Op::*;
    match op {
        Imm(_) | Const(_) | Local(_) | LocalBox(_) | Free(_) | FreeBox(_) | Global(_) | LocalCar(_) | LocalCdr(_)
        | LocalAddImm(..) | LocalSubImm(..) => (0, 1),
        Local2(..) => (0, 2),
        LocalJumpUnlessCmpImm(..) => (0, 0),
        VecRefImm(_) => (1, 1),
        Vector(n) => (n, 1),
        SetLocal(_) | SetLocalBox(_) | SetFreeBox(_) | SetGlobal(_) | DefGlobal(_) | Pop => (1, 0),
        BoxLocal(_) | Patch(..) | Jump(_) => (0, 0),
        JumpIfFalse(_) | JumpUnlessNull(_) | JumpUnlessPair(_) | JumpUnlessCmpImm(..) | Return => (1, 0),
        JumpUnlessCmp(..) => (2, 0),
        Call(n) | TailCall(n) => (n + 1, 1),
        Closure(_, n) => (n, 1),
        Car | Cdr | NullP | PairP | Not | ZeroP | AddImm(_) | SubImm(_) | CmpImm(..) => (1, 1),
        Cons | EqP | Add | Sub | Mul | Lt | Gt | Le | Ge | NumEq | VecRef | SetCar | SetCdr => (2, 1),
        VecSet => (3, 1),
    }
}

/// Checks a proto's code and returns the most temporaries it keeps on the
/// stack above its locals. The VM's unchecked stack accesses rely on what
/// this proves: every path starts at depth 0, never pops below 0, reaches
/// each instruction at one depth, ends in `Return` (the last instruction,
/// or a jump), jumps stay inside the code, and local slots are below
/// `nlocals`. Panics (a compiler bug) when the code breaks a rule.
pub fn max_stack(code: &[Op], nlocals: u32) -> u32 {
    let n = code.len();
    assert!(matches!(code.last(), Some(Op::Return)), "code must end in Return");
    let mut depth: Vec<Option<u32>> = vec![None; n];
    let mut work = vec![(0usize, 0u32)];
    let mut max = 0;
    while let Some((pc, d)) = work.pop() {
        assert!(pc < n, "jump outside the code");
        match depth[pc] {
            Some(x) => {
                assert_eq!(x, d, "inconsistent stack depth at {pc}");
                continue;
            }
            None => depth[pc] = Some(d),
        }
        let op = code[pc];
        if let Op::Local(i)
        | Op::LocalBox(i)
        | Op::SetLocal(i)
        | Op::SetLocalBox(i)
        | Op::BoxLocal(i)
        | Op::LocalCar(i)
        | Op::LocalCdr(i)
        | Op::LocalAddImm(i, _)
        | Op::LocalSubImm(i, _)
        | Op::LocalJumpUnlessCmpImm(i, ..) = op
        {
            assert!(i < nlocals, "local slot out of range");
        }
        if let Op::Patch(a, _, b) | Op::Local2(a, b) = op {
            assert!(a < nlocals && b < nlocals, "local slot out of range");
        }
        let (pops, pushes) = effect(op);
        assert!(d >= pops, "stack underflow at {pc}: {op:?}");
        let nd = d - pops + pushes;
        max = max.max(nd).max(d);
        match op {
            Op::Return => {}
            Op::Jump(t) => work.push((t as usize, nd)),
            Op::JumpIfFalse(t)
            | Op::JumpUnlessNull(t)
            | Op::JumpUnlessPair(t)
            | Op::JumpUnlessCmp(_, t)
            | Op::JumpUnlessCmpImm(_, _, t)
            | Op::LocalJumpUnlessCmpImm(_, _, _, t) => {
                work.push((t as usize, nd));
                work.push((pc + 1, nd));
            }
            _ => work.push((pc + 1, nd)),
        }
    }
    max
}

/// A compiled procedure body.
#[derive(Debug, Default)]
pub struct Proto {
    pub name: Rc<str>,
    pub code: Vec<Op>,
    pub pos: Vec<Pos>,
    pub nparams: u32,
    pub rest: bool,
    pub nlocals: u32,
    pub consts: Vec<Datum>,
    /// Index of this proto's first constant in the VM's permanent roots.
    pub const_base: usize,
    /// Whether the proto comes from the built-in prelude (hidden in backtraces).
    pub prelude: bool,
    /// The most temporaries the code keeps above its locals (see [`max_stack`]).
    pub max_stack: u32,
}

type VarId = usize;

#[derive(Debug)]
struct Var {
    name: Rc<str>,
    owner: usize,
    captured: bool,
    mutated: bool,
    boxed: bool,
    slot: u32,
}

#[derive(Debug, Clone)]
enum Bnd {
    Var(VarId),
    Macro(Rc<Macro>),
}

#[derive(Debug)]
struct Lam {
    id: usize,
    name: Rc<str>,
    params: Vec<VarId>,
    rest: bool,
    free: Vec<VarId>,
    body: Node,
}

#[derive(Debug)]
enum Node {
    Imm(Value),
    Const(Datum),
    Local(VarId),
    Global(u32),
    SetLocal(VarId, Box<Node>),
    SetGlobal(u32, Box<Node>),
    DefGlobal(u32, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
    Lambda(Box<Lam>),
    Seq(Vec<Node>),
    Call(Box<Node>, Vec<Node>, Pos),
    Prim(Op, Vec<Node>, Pos),
    Let(Vec<VarId>, Vec<Node>, Box<Node>),
    /// Sequential bindings (None: evaluate for effect), then the body.
    Letrec(Vec<(Option<VarId>, Node)>, Box<Node>),
}

#[derive(Debug)]
struct LamBuild {
    id: usize,
    free: Vec<VarId>,
}

/// The compiler's persistent state (globals, macros) across top-level forms.
#[derive(Debug, Default)]
pub struct Compiler {
    pub global_index: HashMap<Rc<str>, u32>,
    pub global_names: Vec<Rc<str>>,
    macros: HashMap<Rc<str>, Rc<Macro>>,
    /// Builtin names the program redefined: calls to them are no longer inlined.
    redefined: HashSet<Rc<str>>,
    gensym: u64,
    vars: Vec<Var>,
    scopes: Vec<Vec<(Rc<str>, Bnd)>>,
    lams: Vec<LamBuild>,
    next_lam: usize,
    depth: usize,
    /// Protos produced; the VM takes them after each compilation.
    pub out: Vec<Proto>,
    /// Index the next proto will have in the VM.
    pub proto_base: usize,
    pub in_prelude: bool,
    /// Public names the prelude defined: (private global, public global);
    /// the interpreter copies each value across once the prelude has run.
    pub exports: Vec<(u32, u32)>,
}

/// A compile-time error with the position of the form.
#[derive(Debug, Clone)]
pub struct CompileError {
    pub pos: Pos,
    pub msg: String,
}

type C<T> = Result<T, CompileError>;

fn prim_op(name: &str, argc: usize) -> Option<Op> {
    Some(match (name, argc) {
        ("car", 1) => Op::Car,
        ("cdr", 1) => Op::Cdr,
        ("cons", 2) => Op::Cons,
        ("null?", 1) => Op::NullP,
        ("pair?", 1) => Op::PairP,
        ("not", 1) => Op::Not,
        ("eq?", 2) => Op::EqP,
        ("+", 2) => Op::Add,
        ("-", 2) => Op::Sub,
        ("*", 2) => Op::Mul,
        ("<", 2) => Op::Lt,
        (">", 2) => Op::Gt,
        ("<=", 2) => Op::Le,
        (">=", 2) => Op::Ge,
        ("=", 2) => Op::NumEq,
        ("zero?", 1) => Op::ZeroP,
        ("vector-ref", 2) => Op::VecRef,
        ("vector-set!", 3) => Op::VecSet,
        ("set-car!", 2) => Op::SetCar,
        ("set-cdr!", 2) => Op::SetCdr,
        ("vector", n) if n <= u32::MAX as usize => Op::Vector(n as u32),
        _ => return None,
    })
}

const SPECIAL: &[&str] = &[
    "quote",
    "quasiquote",
    "lambda",
    "define",
    "set!",
    "if",
    "begin",
    "let",
    "let*",
    "letrec",
    "letrec*",
    "cond",
    "case",
    "and",
    "or",
    "when",
    "unless",
    "do",
    "define-syntax",
    "let-syntax",
    "letrec-syntax",
    "define-record-type",
    "guard",
    "parameterize",
    "let-values",
    "let*-values",
    "define-values",
    "delay",
    "delay-force",
    "make-promise-lazy",
    "case-lambda",
    "import",
    "cond-expand",
    "receive",
    "assert",
];

impl Compiler {
    pub fn new() -> Compiler {
        Compiler::default()
    }

    /// The index of global `name`, creating it.
    pub fn global(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.global_index.get(name) {
            return i;
        }
        let i = self.global_names.len() as u32;
        let n: Rc<str> = Rc::from(name);
        self.global_names.push(n.clone());
        self.global_index.insert(n, i);
        i
    }

    /// The global a free identifier names. In the prelude every name is
    /// private (`reader::PRIVATE_PREFIX`): the library's procedures call one
    /// another through globals user code cannot reach, so a user definition
    /// of `map` or `length` cannot break `parameterize` or `call/cc`.
    /// Elsewhere a name is itself (user code cannot spell a private name).
    fn global_name(&self, s: &Rc<str>) -> Rc<str> {
        if self.in_prelude && !s.starts_with(PRIVATE_PREFIX) {
            Rc::from(private(s).as_str())
        } else {
            s.clone()
        }
    }

    fn gensym(&mut self, base: &str) -> Datum {
        self.gensym += 1;
        Datum::Sym(Rc::from(private(&format!("{}.{}", base, self.gensym)).as_str()))
    }

    /// Compiles one top-level form into a thunk proto; returns its index.
    pub fn compile_toplevel(&mut self, d: &Datum, name: &str) -> C<usize> {
        self.vars.clear();
        self.scopes.clear();
        self.lams.clear();
        self.depth = 0;
        let id = self.next_lam;
        self.next_lam += 1;
        self.lams.push(LamBuild { id, free: vec![] });
        let body = self.analyze(d, d.pos().unwrap_or_default())?;
        self.lams.pop();
        let lam = Lam {
            id,
            name: Rc::from(name),
            params: vec![],
            rest: false,
            free: vec![],
            body,
        };
        Ok(self.gen_lambda(&lam, d.pos().unwrap_or_default()))
    }

    /// The bindings of a `let` form: `((name init) ...)`, where a binding
    /// may also be `(name)` (init `None`: unspecified).
    fn let_bindings(&self, binds: Option<&Datum>, pos: Pos) -> C<LetBindings> {
        let binds = binds.and_then(|d| d.as_list()).ok_or(CompileError {
            pos,
            msg: "let: bad bindings".into(),
        })?;
        let mut names = Vec::new();
        let mut inits = Vec::new();
        for b in binds {
            match b.as_list() {
                Some([Datum::Sym(n), i]) => {
                    names.push(n.clone());
                    inits.push(Some(i.clone()));
                }
                Some([Datum::Sym(n)]) => {
                    names.push(n.clone());
                    inits.push(None);
                }
                _ => return self.err(pos, "let: bad binding"),
            }
        }
        Ok((names, inits))
    }

    fn err<T>(&self, pos: Pos, msg: impl Into<String>) -> C<T> {
        Err(CompileError { pos, msg: msg.into() })
    }

    fn lookup(&self, name: &str) -> Option<Bnd> {
        for s in self.scopes.iter().rev() {
            for (n, b) in s.iter().rev() {
                if &**n == name {
                    return Some(b.clone());
                }
            }
        }
        None
    }

    fn new_var(&mut self, name: Rc<str>) -> VarId {
        let owner = self.lams.last().map_or(0, |l| l.id);
        self.vars.push(Var {
            name,
            owner,
            captured: false,
            mutated: false,
            boxed: false,
            slot: 0,
        });
        self.vars.len() - 1
    }

    fn bind(&mut self, name: Rc<str>, v: VarId) {
        if let Some(s) = self.scopes.last_mut() {
            s.push((name, Bnd::Var(v)));
        }
    }

    /// Notes a reference to `v` from the current lambda (capture analysis).
    fn reference(&mut self, v: VarId) {
        let owner = self.vars[v].owner;
        let mut captured = false;
        for l in self.lams.iter_mut().rev() {
            if l.id == owner {
                break;
            }
            captured = true;
            if !l.free.contains(&v) {
                l.free.push(v);
            }
        }
        if captured {
            self.vars[v].captured = true;
        }
    }

    fn is_toplevel(&self) -> bool {
        self.scopes.is_empty()
    }

    fn head_special(&self, d: &Datum) -> Option<Rc<str>> {
        if let Datum::List(v, _, _) = d {
            if let Some(Datum::Sym(s)) = v.first() {
                if self.lookup(s).is_none() {
                    return Some(s.clone());
                }
            }
        }
        None
    }

    /// If `d` is a macro use, its expansion.
    fn try_macro(&mut self, d: &Datum, pos: Pos) -> C<Option<Datum>> {
        if let Datum::List(v, _, _) = d {
            if let Some(Datum::Sym(s)) = v.first() {
                let m = match self.lookup(s) {
                    Some(Bnd::Macro(m)) => Some(m),
                    Some(Bnd::Var(_)) => None,
                    None => self.macros.get(s).cloned(),
                };
                if let Some(m) = m {
                    let mut ctr = self.gensym;
                    let r = m.expand(d, &mut ctr);
                    self.gensym = ctr;
                    return match r {
                        Ok(x) => Ok(Some(with_pos(x, pos))),
                        Err(e) => self.err(pos, e),
                    };
                }
            }
        }
        Ok(None)
    }

    fn analyze(&mut self, d: &Datum, pos: Pos) -> C<Node> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return self.err(pos, format!("expression nested deeper than {MAX_DEPTH} levels"));
        }
        let r = self.analyze_inner(d, pos);
        self.depth -= 1;
        r
    }

    fn analyze_inner(&mut self, d: &Datum, pos: Pos) -> C<Node> {
        let pos = d.pos().unwrap_or(pos);
        match d {
            Datum::Sym(s) => self.analyze_ref(s, pos),
            Datum::List(v, tail, _) => {
                if v.is_empty() {
                    return self.err(pos, "empty combination ()");
                }
                if tail.is_some() {
                    return self.err(pos, "dotted list in code");
                }
                if let Some(x) = self.try_macro(d, pos)? {
                    return self.analyze(&x, pos);
                }
                if let Some(h) = self.head_special(d) {
                    if SPECIAL.contains(&&*h) {
                        return self.analyze_special(&h, v, pos);
                    }
                    if !self.redefined.contains(&h) && !self.in_prelude_shadow(&h) {
                        if let Some(op) = prim_op(&h, v.len() - 1) {
                            let args = self.analyze_list(&v[1..], pos)?;
                            return Ok(Node::Prim(op, args, pos));
                        }
                    }
                }
                let f = self.analyze(&v[0], pos)?;
                let args = self.analyze_list(&v[1..], pos)?;
                Ok(Node::Call(Box::new(f), args, pos))
            }
            Datum::Unspec => Ok(Node::Imm(UNSPEC)),
            Datum::Vector(_) | Datum::Str(_) | Datum::Bytes(_) | Datum::Big(_) | Datum::Flo(_) => {
                Ok(Node::Const(d.clone()))
            }
            other => Ok(match immediate(other) {
                Some(v) => Node::Imm(v),
                None => Node::Const(other.clone()),
            }),
        }
    }

    fn in_prelude_shadow(&self, _h: &str) -> bool {
        false
    }

    fn analyze_list(&mut self, v: &[Datum], pos: Pos) -> C<Vec<Node>> {
        v.iter().map(|x| self.analyze(x, pos)).collect()
    }

    fn analyze_ref(&mut self, s: &Rc<str>, pos: Pos) -> C<Node> {
        match self.lookup(s) {
            Some(Bnd::Var(v)) => {
                self.reference(v);
                Ok(Node::Local(v))
            }
            Some(Bnd::Macro(_)) => self.err(pos, format!("syntax keyword {s} used as a variable")),
            None => {
                if self.macros.contains_key(s) || (SPECIAL.contains(&&**s) && &**s != "assert") {
                    return self.err(pos, format!("syntax keyword {s} used as a variable"));
                }
                let g = self.global_name(s);
                Ok(Node::Global(self.global(&g)))
            }
        }
    }

    fn body(&mut self, forms: &[Datum], pos: Pos) -> C<Node> {
        if forms.is_empty() {
            return Ok(Node::Imm(UNSPEC));
        }
        self.scopes.push(vec![]);
        let r = self.body_inner(forms, pos);
        self.scopes.pop();
        r
    }

    /// Scans a body for internal definitions (after macro expansion and
    /// `begin` splicing); definitions become a `letrec*`.
    fn body_inner(&mut self, forms: &[Datum], pos: Pos) -> C<Node> {
        enum Item<'a> {
            Def(Rc<str>, Datum, Pos),
            Expr(Cow<'a, Datum>, Pos),
        }
        let mut items = Vec::new();
        // The body's forms are borrowed, not cloned (only macro expansions
        // are owned): cloning each body made compiling n nested lambdas
        // take O(n^2) copies.
        let mut queue: Vec<Cow<'_, Datum>> = forms.iter().rev().map(Cow::Borrowed).collect();
        while let Some(f) = queue.pop() {
            let fpos = f.pos().unwrap_or(pos);
            if let Some(x) = self.try_macro(&f, fpos)? {
                queue.push(Cow::Owned(x));
                continue;
            }
            let head = self.head_special(&f);
            if head.is_some() && f.as_list().is_none() {
                return self.err(fpos, "dotted list in code");
            }
            let v = f.as_list().unwrap_or(&[]);
            match head.as_deref() {
                Some("begin") => match &f {
                    Cow::Borrowed(d) => {
                        let d: &Datum = d;
                        for x in d.as_list().unwrap_or(&[])[1..].iter().rev() {
                            queue.push(Cow::Borrowed(x));
                        }
                    }
                    Cow::Owned(_) => {
                        for x in v[1..].iter().rev() {
                            queue.push(Cow::Owned(x.clone()));
                        }
                    }
                },
                Some("define") => {
                    let (name, val) = self.define_parts(v, fpos)?;
                    items.push(Item::Def(name, val, fpos));
                }
                Some("define-record-type") => queue.push(Cow::Owned(
                    expand::record_type(v, fpos).map_err(|m| CompileError { pos: fpos, msg: m })?,
                )),
                Some("define-values") => {
                    let mut g = |b: &str| self.gensym(b);
                    let x = expand::define_values(v, fpos, &mut g).map_err(|m| CompileError { pos: fpos, msg: m })?;
                    queue.push(Cow::Owned(x))
                }
                Some("define-syntax") => {
                    let (name, m) = self.parse_syntax_def(v, fpos)?;
                    if let Some(s) = self.scopes.last_mut() {
                        s.push((name, Bnd::Macro(Rc::new(m))));
                    }
                }
                _ => items.push(Item::Expr(f, fpos)),
            }
        }
        let has_defs = items.iter().any(|i| matches!(i, Item::Def(..)));
        if !has_defs {
            let mut nodes = Vec::new();
            for it in items {
                if let Item::Expr(d, p) = it {
                    nodes.push(self.analyze(&d, p)?);
                }
            }
            return Ok(seq(nodes));
        }
        // Bind every defined name first (letrec* scope).
        let mut ids = Vec::new();
        for it in &items {
            if let Item::Def(n, _, _) = it {
                let v = self.new_var(n.clone());
                self.bind(n.clone(), v);
                ids.push(v);
            }
        }
        let mut binds = Vec::new();
        let mut k = 0;
        let n = items.len();
        let mut last = Node::Imm(UNSPEC);
        for (i, it) in items.into_iter().enumerate() {
            match it {
                Item::Def(_, d, p) => {
                    let node = self.analyze_named(&d, p, ids[k])?;
                    binds.push((Some(ids[k]), node));
                    k += 1;
                }
                Item::Expr(d, p) => {
                    let node = self.analyze(&d, p)?;
                    if i + 1 == n {
                        last = node;
                    } else {
                        binds.push((None, node));
                    }
                }
            }
        }
        Ok(Node::Letrec(binds, Box::new(last)))
    }

    /// Analyzes an initialiser, naming a lambda after the variable.
    fn analyze_named(&mut self, d: &Datum, pos: Pos, v: VarId) -> C<Node> {
        let mut n = self.analyze(d, pos)?;
        if let Node::Lambda(l) = &mut n {
            if l.name.is_empty() {
                l.name = self.vars[v].name.clone();
            }
        }
        Ok(n)
    }

    fn define_parts(&mut self, v: &[Datum], pos: Pos) -> C<(Rc<str>, Datum)> {
        match v.get(1) {
            Some(Datum::Sym(s)) => Ok((s.clone(), v.get(2).cloned().unwrap_or(Datum::Unspec))),
            Some(Datum::List(sig, tail, _)) if !sig.is_empty() => {
                // (define (name . formals) body...) ; curried defines nest
                let formals = Datum::List(sig[1..].to_vec(), tail.clone(), pos);
                let mut lam = vec![Datum::sym("lambda"), formals];
                lam.extend(v[2..].iter().cloned());
                let lam = Datum::List(lam, None, pos);
                match &sig[0] {
                    Datum::Sym(s) => Ok((s.clone(), lam)),
                    inner @ Datum::List(..) => self.define_parts(&[Datum::sym("define"), inner.clone(), lam], pos),
                    _ => self.err(pos, "define: bad name"),
                }
            }
            _ => self.err(pos, "define: bad syntax"),
        }
    }

    fn parse_syntax_def(&mut self, v: &[Datum], pos: Pos) -> C<(Rc<str>, Macro)> {
        match v {
            [_, Datum::Sym(name), spec] => {
                let m = syntax_rules::parse(spec).map_err(|msg| CompileError { pos, msg })?;
                Ok((name.clone(), m))
            }
            _ => self.err(pos, "define-syntax: bad syntax"),
        }
    }

    fn lambda(&mut self, formals: &Datum, body: &[Datum], name: Rc<str>, pos: Pos) -> C<Node> {
        let id = self.next_lam;
        self.next_lam += 1;
        self.lams.push(LamBuild { id, free: vec![] });
        self.scopes.push(vec![]);
        let mut params = Vec::new();
        let mut rest = false;
        let (fixed, tail): (&[Datum], Option<&Datum>) = match formals {
            Datum::Sym(_) => (&[], Some(formals)),
            Datum::List(v, t, _) => (v, t.as_deref()),
            _ => return self.err(pos, "lambda: bad formals"),
        };
        for f in fixed.iter().chain(tail) {
            let s = match f {
                Datum::Sym(s) => s.clone(),
                _ => {
                    self.scopes.pop();
                    self.lams.pop();
                    return self.err(pos, "lambda: formals must be identifiers");
                }
            };
            let v = self.new_var(s.clone());
            self.bind(s, v);
            params.push(v);
        }
        if tail.is_some() {
            rest = true;
        }
        let b = self.body(body, pos);
        self.scopes.pop();
        let lb = self.lams.pop().map(|l| l.free).unwrap_or_default();
        let b = b?;
        Ok(Node::Lambda(Box::new(Lam {
            id,
            name,
            params,
            rest,
            free: lb,
            body: b,
        })))
    }

    fn analyze_special(&mut self, h: &str, v: &[Datum], pos: Pos) -> C<Node> {
        let ex = |r: Result<Datum, String>| r.map_err(|msg| CompileError { pos, msg });
        match h {
            "quote" => match v {
                [_, x] => Ok(match immediate(x) {
                    Some(i) => Node::Imm(i),
                    None => Node::Const(x.clone()),
                }),
                _ => self.err(pos, "quote: bad syntax"),
            },
            "quasiquote" => match v {
                [_, x] => {
                    let e = ex(expand::quasi(x, 1))?;
                    self.analyze(&e, pos)
                }
                _ => self.err(pos, "quasiquote: bad syntax"),
            },
            "lambda" => {
                if v.len() < 3 {
                    return self.err(pos, "lambda: missing body");
                }
                self.lambda(&v[1], &v[2..], Rc::from(""), pos)
            }
            "define" => {
                if !self.is_toplevel() {
                    return self.err(pos, "define: not allowed in an expression context");
                }
                let (name, val) = self.define_parts(v, pos)?;
                let g = self.global(&self.global_name(&name));
                if self.in_prelude && !name.starts_with('%') && !name.starts_with(PRIVATE_PREFIX) {
                    // A library procedure: the prelude's own references use
                    // the private global; users see this public copy.
                    let public = self.global(&name);
                    self.exports.push((g, public));
                }
                if (prim_op(&name, 1).is_some() || prim_op(&name, 2).is_some() || prim_op(&name, 3).is_some())
                    && !self.in_prelude
                {
                    self.redefined.insert(name.clone());
                }
                let mut n = self.analyze(&val, pos)?;
                match &mut n {
                    Node::Lambda(l) => l.name = name.clone(),
                    // A procedure closed over a private local (record
                    // procedures capture their type descriptor this way).
                    Node::Let(_, _, body) => {
                        if let Node::Lambda(l) = &mut **body {
                            l.name = name.clone();
                        }
                    }
                    _ => {}
                }
                Ok(Node::DefGlobal(g, Box::new(n)))
            }
            "set!" => match v {
                [_, Datum::Sym(s), e] => {
                    let val = self.analyze(e, pos)?;
                    match self.lookup(s) {
                        Some(Bnd::Var(var)) => {
                            self.reference(var);
                            self.vars[var].mutated = true;
                            Ok(Node::SetLocal(var, Box::new(val)))
                        }
                        Some(Bnd::Macro(_)) => self.err(pos, format!("set!: {s} is a syntax keyword")),
                        None => {
                            if prim_op(s, 1).is_some() || prim_op(s, 2).is_some() || prim_op(s, 3).is_some() {
                                self.redefined.insert(s.clone());
                            }
                            let g = self.global_name(s);
                            Ok(Node::SetGlobal(self.global(&g), Box::new(val)))
                        }
                    }
                }
                _ => self.err(pos, "set!: bad syntax"),
            },
            "if" => {
                if v.len() != 3 && v.len() != 4 {
                    return self.err(pos, "if: bad syntax");
                }
                let c = self.analyze(&v[1], pos)?;
                let t = self.analyze(&v[2], pos)?;
                let e = match v.get(3) {
                    Some(e) => self.analyze(e, pos)?,
                    None => Node::Imm(UNSPEC),
                };
                Ok(Node::If(Box::new(c), Box::new(t), Box::new(e)))
            }
            "begin" => {
                if self.is_toplevel() {
                    // Top-level begin: definitions inside stay global.
                    let nodes = self.analyze_list(&v[1..], pos)?;
                    Ok(seq(nodes))
                } else {
                    let nodes = self.analyze_list(&v[1..], pos)?;
                    Ok(seq(nodes))
                }
            }
            "let" => {
                if let Some(Datum::Sym(name)) = v.get(1) {
                    // named let
                    let (names, inits) = self.let_bindings(v.get(2), pos)?;
                    if inits.iter().any(Option::is_none) {
                        return self.err(pos, "let: bad binding");
                    }
                    let inits: Vec<Datum> = inits.into_iter().flatten().collect();
                    let names = names.into_iter().map(Datum::Sym).collect();
                    let mut lam = vec![Datum::sym("lambda"), Datum::list(names)];
                    lam.extend(v[3..].iter().cloned());
                    let inits = self.analyze_list(&inits, pos)?;
                    self.scopes.push(vec![]);
                    let var = self.new_var(name.clone());
                    self.bind(name.clone(), var);
                    let lamnode = self.analyze_named(&Datum::List(lam, None, pos), pos, var);
                    self.reference(var);
                    self.scopes.pop();
                    let lamnode = lamnode?;
                    let f = Node::Letrec(vec![(Some(var), lamnode)], Box::new(Node::Local(var)));
                    return Ok(Node::Call(Box::new(f), inits, pos));
                }
                let (names, init_data) = self.let_bindings(v.get(1), pos)?;
                let mut inits = Vec::new();
                for i in &init_data {
                    inits.push(match i {
                        Some(i) => self.analyze(i, pos)?,
                        None => Node::Imm(UNSPEC),
                    });
                }
                self.scopes.push(vec![]);
                let mut ids = Vec::new();
                for n in names {
                    let var = self.new_var(n.clone());
                    self.bind(n, var);
                    ids.push(var);
                }
                let b = self.body(&v[2..], pos);
                self.scopes.pop();
                Ok(Node::Let(ids, inits, Box::new(b?)))
            }
            "let*" => {
                let e = ex(expand::let_star(v, pos))?;
                self.analyze(&e, pos)
            }
            "letrec" | "letrec*" => {
                let binds = v.get(1).and_then(|d| d.as_list()).ok_or(CompileError {
                    pos,
                    msg: format!("{h}: bad bindings"),
                })?;
                self.scopes.push(vec![]);
                let mut ids = Vec::new();
                for b in binds {
                    match b.as_list() {
                        Some([Datum::Sym(n), _]) => {
                            let var = self.new_var(n.clone());
                            self.bind(n.clone(), var);
                            ids.push(var);
                        }
                        _ => {
                            self.scopes.pop();
                            return self.err(pos, format!("{h}: bad binding"));
                        }
                    }
                }
                let r = (|| {
                    let mut bs = Vec::new();
                    for (b, &id) in binds.iter().zip(&ids) {
                        let init = &b.as_list().unwrap_or(&[])[1];
                        bs.push((Some(id), self.analyze_named(init, pos, id)?));
                    }
                    let body = self.body(&v[2..], pos)?;
                    Ok(Node::Letrec(bs, Box::new(body)))
                })();
                self.scopes.pop();
                r
            }
            "cond" => self.cond(&v[1..], pos),
            "case" => {
                let mut g = |b: &str| self.gensym(b);
                let e = ex(expand::case(v, pos, &mut g))?;
                self.analyze(&e, pos)
            }
            "and" => {
                if v.len() == 1 {
                    return Ok(Node::Imm(TRUE));
                }
                let mut nodes = self.analyze_list(&v[1..], pos)?;
                let mut acc = nodes.pop().unwrap_or(Node::Imm(TRUE));
                while let Some(n) = nodes.pop() {
                    acc = Node::If(Box::new(n), Box::new(acc), Box::new(Node::Imm(FALSE)));
                }
                Ok(acc)
            }
            "or" => {
                if v.len() == 1 {
                    return Ok(Node::Imm(FALSE));
                }
                if v.len() == 2 {
                    return self.analyze(&v[1], pos);
                }
                let t = self.gensym("or");
                let mut rest = vec![Datum::sym("or")];
                rest.extend(v[2..].iter().cloned());
                let e = Datum::list_at(
                    vec![
                        Datum::sym("let"),
                        Datum::list(vec![Datum::list(vec![t.clone(), v[1].clone()])]),
                        Datum::list(vec![Datum::sym("if"), t.clone(), t, Datum::list_at(rest, pos)]),
                    ],
                    pos,
                );
                self.analyze(&e, pos)
            }
            "when" | "unless" => {
                if v.len() < 2 {
                    return self.err(pos, format!("{h}: bad syntax"));
                }
                let c = self.analyze(&v[1], pos)?;
                self.scopes.push(vec![]);
                let b = self.analyze_list(&v[2..], pos);
                self.scopes.pop();
                let b = seq(b?);
                Ok(if h == "when" {
                    Node::If(Box::new(c), Box::new(b), Box::new(Node::Imm(UNSPEC)))
                } else {
                    Node::If(Box::new(c), Box::new(Node::Imm(UNSPEC)), Box::new(b))
                })
            }
            "do" => {
                let mut g = |b: &str| self.gensym(b);
                let e = ex(expand::do_loop(v, pos, &mut g))?;
                self.analyze(&e, pos)
            }
            "define-syntax" => {
                let (name, m) = self.parse_syntax_def(v, pos)?;
                if self.is_toplevel() {
                    self.macros.insert(name, Rc::new(m));
                } else if let Some(s) = self.scopes.last_mut() {
                    s.push((name, Bnd::Macro(Rc::new(m))));
                }
                Ok(Node::Imm(UNSPEC))
            }
            "let-syntax" | "letrec-syntax" => {
                let binds = v.get(1).and_then(|d| d.as_list()).ok_or(CompileError {
                    pos,
                    msg: format!("{h}: bad bindings"),
                })?;
                let mut ms = Vec::new();
                for b in binds {
                    match b.as_list() {
                        Some([Datum::Sym(n), spec]) => {
                            let m = syntax_rules::parse(spec).map_err(|msg| CompileError { pos, msg })?;
                            ms.push((n.clone(), Bnd::Macro(Rc::new(m))));
                        }
                        _ => return self.err(pos, format!("{h}: bad binding")),
                    }
                }
                self.scopes.push(ms);
                let b = self.body(&v[2..], pos);
                self.scopes.pop();
                b
            }
            "define-record-type" => {
                let e = ex(expand::record_type(v, pos))?;
                self.analyze(&e, pos)
            }
            "define-values" => {
                let mut g = |b: &str| self.gensym(b);
                let e = ex(expand::define_values(v, pos, &mut g))?;
                self.analyze(&e, pos)
            }
            "guard" => {
                let mut g = |b: &str| self.gensym(b);
                let e = ex(expand::guard(v, pos, &mut g))?;
                self.analyze(&e, pos)
            }
            "parameterize" => {
                let e = ex(expand::parameterize(v, pos))?;
                self.analyze(&e, pos)
            }
            "let-values" => {
                let mut g = |b: &str| self.gensym(b);
                let e = ex(expand::let_values(v, pos, Some(&mut g)))?;
                self.analyze(&e, pos)
            }
            "let*-values" => {
                let e = ex(expand::let_values(v, pos, None))?;
                self.analyze(&e, pos)
            }
            "receive" => {
                if v.len() < 3 {
                    return self.err(pos, "receive: bad syntax");
                }
                let mut lam = vec![Datum::sym("lambda"), v[1].clone()];
                lam.extend(v[3..].iter().cloned());
                let e = Datum::list_at(
                    vec![
                        Datum::psym("%call-with-values"),
                        Datum::list(vec![Datum::sym("lambda"), Datum::nil(), v[2].clone()]),
                        Datum::list(lam),
                    ],
                    pos,
                );
                self.analyze(&e, pos)
            }
            "delay" | "delay-force" | "make-promise-lazy" => {
                let x = v.get(1).ok_or(CompileError {
                    pos,
                    msg: format!("{h}: bad syntax"),
                })?;
                let inner = if h == "delay" {
                    Datum::list(vec![Datum::psym("%make-eager"), x.clone()])
                } else {
                    x.clone()
                };
                let e = Datum::list_at(
                    vec![
                        Datum::psym("%make-lazy"),
                        Datum::list(vec![Datum::sym("lambda"), Datum::nil(), inner]),
                    ],
                    pos,
                );
                self.analyze(&e, pos)
            }
            "case-lambda" => {
                let mut out = vec![Datum::psym("%case-lambda")];
                for c in &v[1..] {
                    match c {
                        Datum::List(cv, None, _) if !cv.is_empty() => {
                            let mut lam = vec![Datum::sym("lambda")];
                            lam.extend(cv.iter().cloned());
                            out.push(Datum::list_at(lam, pos));
                        }
                        _ => return self.err(pos, "case-lambda: bad clause"),
                    }
                }
                self.analyze(&Datum::list_at(out, pos), pos)
            }
            "import" => Ok(Node::Imm(UNSPEC)),
            "cond-expand" => {
                let e = ex(expand::cond_expand(v, pos))?;
                self.analyze(&e, pos)
            }
            "assert" => {
                let x = v.get(1).ok_or(CompileError {
                    pos,
                    msg: "assert: bad syntax".into(),
                })?;
                let e = Datum::list_at(
                    vec![
                        Datum::sym("unless"),
                        x.clone(),
                        Datum::list_at(
                            vec![Datum::psym("error"), Datum::Str(Rc::from("assertion failed"))],
                            pos,
                        ),
                    ],
                    pos,
                );
                self.analyze(&e, pos)
            }
            _ => self.err(pos, format!("unknown special form {h}")),
        }
    }

    fn cond(&mut self, clauses: &[Datum], pos: Pos) -> C<Node> {
        let Some(first) = clauses.first() else {
            return Ok(Node::Imm(UNSPEC));
        };
        let c = first.as_list().ok_or(CompileError {
            pos,
            msg: "cond: bad clause".into(),
        })?;
        if c.is_empty() {
            return self.err(pos, "cond: empty clause");
        }
        if c[0].is_sym("else") && self.lookup("else").is_none() {
            self.scopes.push(vec![]);
            let b = self.analyze_list(&c[1..], pos);
            self.scopes.pop();
            return Ok(seq(b?));
        }
        let rest = self.cond(&clauses[1..], pos)?;
        if c.len() == 1 {
            // (cond (test) ...) = (or test (cond ...))
            let t = self.gensym("t");
            let test = self.analyze(&c[0], pos)?;
            self.scopes.push(vec![]);
            let var = self.new_var(match &t {
                Datum::Sym(s) => s.clone(),
                _ => Rc::from("t"),
            });
            self.scopes.pop();
            return Ok(Node::Let(
                vec![var],
                vec![test],
                Box::new(Node::If(
                    Box::new(Node::Local(var)),
                    Box::new(Node::Local(var)),
                    Box::new(rest),
                )),
            ));
        }
        if c.len() == 3 && c[1].is_sym("=>") {
            let test = self.analyze(&c[0], pos)?;
            let f = self.analyze(&c[2], pos)?;
            self.scopes.push(vec![]);
            let var = self.new_var(Rc::from("=>"));
            self.scopes.pop();
            let call = Node::Call(Box::new(f), vec![Node::Local(var)], pos);
            return Ok(Node::Let(
                vec![var],
                vec![test],
                Box::new(Node::If(Box::new(Node::Local(var)), Box::new(call), Box::new(rest))),
            ));
        }
        let test = self.analyze(&c[0], pos)?;
        self.scopes.push(vec![]);
        let b = self.analyze_list(&c[1..], pos);
        self.scopes.pop();
        Ok(Node::If(Box::new(test), Box::new(seq(b?)), Box::new(rest)))
    }

    // ---------------------------------------------------------------- codegen

    fn gen_lambda(&mut self, lam: &Lam, pos: Pos) -> usize {
        let mut g = Gen {
            code: Vec::new(),
            pos: Vec::new(),
            consts: Vec::new(),
            lam_id: lam.id,
            free: lam.free.clone(),
            next_slot: 0,
            max_slot: 0,
            cur: pos,
            barrier: 0,
        };
        for &p in &lam.params {
            let s = g.alloc_slot();
            self.vars[p].slot = s;
        }
        for &p in &lam.params {
            // Every assigned variable is boxed: continuations copy the
            // stack, and a copied slot would not share the assignment.
            if self.vars[p].mutated {
                self.vars[p].boxed = true;
                g.emit(Op::BoxLocal(self.vars[p].slot));
            }
        }
        self.gen(&mut g, &lam.body, true);
        let idx = self.proto_base + self.out.len();
        let nparams = lam.params.len() as u32 - lam.rest as u32;
        let max_stack = max_stack(&g.code, g.max_slot);
        self.out.push(Proto {
            name: lam.name.clone(),
            code: g.code,
            pos: g.pos,
            nparams,
            rest: lam.rest,
            nlocals: g.max_slot,
            consts: g.consts,
            const_base: 0,
            prelude: self.in_prelude,
            max_stack,
        });
        idx
    }

    fn var_ref(&self, g: &mut Gen, v: VarId, raw: bool) {
        let var = &self.vars[v];
        if var.owner == g.lam_id {
            g.emit(if var.boxed && !raw {
                Op::LocalBox(var.slot)
            } else {
                Op::Local(var.slot)
            });
        } else {
            let i = g.free.iter().position(|&f| f == v).unwrap_or(0) as u32;
            g.emit(if var.boxed && !raw { Op::FreeBox(i) } else { Op::Free(i) });
        }
    }

    fn finish(&self, g: &mut Gen, tail: bool) {
        if tail {
            g.emit(Op::Return);
        }
    }

    fn gen(&mut self, g: &mut Gen, n: &Node, tail: bool) {
        match n {
            Node::Imm(v) => {
                g.emit(Op::Imm(*v));
                self.finish(g, tail);
            }
            Node::Const(d) => {
                let k = g.consts.len() as u32;
                g.consts.push(d.clone());
                g.emit(Op::Const(k));
                self.finish(g, tail);
            }
            Node::Local(v) => {
                self.var_ref(g, *v, false);
                self.finish(g, tail);
            }
            Node::Global(i) => {
                g.emit(Op::Global(*i));
                self.finish(g, tail);
            }
            Node::SetLocal(v, e) => {
                self.gen(g, e, false);
                let var = &self.vars[*v];
                if var.owner == g.lam_id {
                    g.emit(if var.boxed {
                        Op::SetLocalBox(var.slot)
                    } else {
                        Op::SetLocal(var.slot)
                    });
                } else {
                    let i = g.free.iter().position(|f| f == v).unwrap_or(0) as u32;
                    g.emit(Op::SetFreeBox(i));
                }
                g.emit(Op::Imm(UNSPEC));
                self.finish(g, tail);
            }
            Node::SetGlobal(i, e) => {
                self.gen(g, e, false);
                g.emit(Op::SetGlobal(*i));
                g.emit(Op::Imm(UNSPEC));
                self.finish(g, tail);
            }
            Node::DefGlobal(i, e) => {
                self.gen(g, e, false);
                g.emit(Op::DefGlobal(*i));
                g.emit(Op::Imm(UNSPEC));
                self.finish(g, tail);
            }
            Node::If(c, t, e) => {
                self.gen(g, c, false);
                g.emit(Op::JumpIfFalse(0));
                let jf = g.code.len() - 1;
                self.gen(g, t, tail);
                if tail {
                    let here = g.code.len() as u32;
                    g.retarget(jf, here);
                    g.barrier = g.code.len();
                    self.gen(g, e, true);
                } else {
                    let j = g.code.len();
                    g.emit(Op::Jump(0));
                    let here = g.code.len() as u32;
                    g.retarget(jf, here);
                    g.barrier = g.code.len();
                    self.gen(g, e, false);
                    let end = g.code.len() as u32;
                    g.code[j] = Op::Jump(end);
                    g.barrier = g.code.len();
                }
            }
            Node::Lambda(l) => {
                self.gen_closure(g, l);
                self.finish(g, tail);
            }
            Node::Seq(v) => {
                if v.is_empty() {
                    g.emit(Op::Imm(UNSPEC));
                    self.finish(g, tail);
                    return;
                }
                for (i, x) in v.iter().enumerate() {
                    if i + 1 == v.len() {
                        self.gen(g, x, tail);
                    } else {
                        self.gen(g, x, false);
                        g.pop();
                    }
                }
            }
            Node::Call(f, args, pos) => {
                let saved = g.cur;
                g.cur = *pos;
                self.gen(g, f, false);
                for a in args {
                    self.gen(g, a, false);
                }
                g.cur = *pos;
                if tail {
                    g.emit(Op::TailCall(args.len() as u32));
                    g.emit(Op::Return);
                } else {
                    g.emit(Op::Call(args.len() as u32));
                }
                g.cur = saved;
            }
            Node::Prim(op, args, pos) => {
                let saved = g.cur;
                g.cur = *pos;
                for a in args {
                    self.gen(g, a, false);
                }
                g.cur = *pos;
                g.emit(*op);
                g.cur = saved;
                self.finish(g, tail);
            }
            Node::Let(ids, inits, body) => {
                for i in inits {
                    self.gen(g, i, false);
                }
                let saved = g.next_slot;
                for &v in ids {
                    let s = g.alloc_slot();
                    self.vars[v].slot = s;
                }
                for &v in ids.iter().rev() {
                    g.emit(Op::SetLocal(self.vars[v].slot));
                }
                for &v in ids {
                    if self.vars[v].mutated {
                        self.vars[v].boxed = true;
                        g.emit(Op::BoxLocal(self.vars[v].slot));
                    }
                }
                self.gen(g, body, tail);
                g.next_slot = saved;
            }
            Node::Letrec(binds, body) => {
                let saved = g.next_slot;
                let all_lambdas = binds
                    .iter()
                    .all(|(v, n)| v.is_some_and(|v| !self.vars[v].mutated) && matches!(n, Node::Lambda(_)));
                for (v, _) in binds {
                    if let Some(v) = v {
                        let s = g.alloc_slot();
                        self.vars[*v].slot = s;
                        self.vars[*v].boxed = !all_lambdas && (self.vars[*v].captured || self.vars[*v].mutated);
                        g.emit(Op::Imm(UNBOUND));
                        g.emit(Op::SetLocal(s));
                        if self.vars[*v].boxed {
                            g.emit(Op::BoxLocal(s));
                        }
                    }
                }
                if all_lambdas {
                    let ids: Vec<VarId> = binds.iter().filter_map(|(v, _)| *v).collect();
                    for (v, n) in binds {
                        if let (Some(v), Node::Lambda(l)) = (v, n) {
                            self.gen_closure(g, l);
                            g.emit(Op::SetLocal(self.vars[*v].slot));
                        }
                    }
                    for (v, n) in binds {
                        if let (Some(v), Node::Lambda(l)) = (v, n) {
                            for (fi, fv) in l.free.iter().enumerate() {
                                if ids.contains(fv) {
                                    g.emit(Op::Patch(self.vars[*v].slot, fi as u32, self.vars[*fv].slot));
                                }
                            }
                        }
                    }
                } else {
                    for (v, n) in binds {
                        self.gen(g, n, false);
                        match v {
                            Some(v) => {
                                let var = &self.vars[*v];
                                g.emit(if var.boxed {
                                    Op::SetLocalBox(var.slot)
                                } else {
                                    Op::SetLocal(var.slot)
                                });
                            }
                            None => g.pop(),
                        }
                    }
                }
                self.gen(g, body, tail);
                g.next_slot = saved;
            }
        }
    }

    fn gen_closure(&mut self, g: &mut Gen, l: &Lam) {
        for &fv in &l.free {
            self.var_ref(g, fv, true);
        }
        let idx = self.gen_lambda(l, g.cur);
        g.emit(Op::Closure(idx as u32, l.free.len() as u32));
    }
}

struct Gen {
    code: Vec<Op>,
    pos: Vec<Pos>,
    consts: Vec<Datum>,
    lam_id: usize,
    free: Vec<VarId>,
    next_slot: u32,
    max_slot: u32,
    cur: Pos,
    /// A jump target: the peephole must not remove code before it.
    barrier: usize,
}

/// A fixnum immediate that fits an i32 operand (and whose negation does).
fn small_fix(v: Value) -> Option<i32> {
    let n = v.as_fix()?;
    if n > i32::MIN as i64 && n <= i32::MAX as i64 {
        Some(n as i32)
    } else {
        None
    }
}

impl Gen {
    fn emit(&mut self, op: Op) {
        self.emit_at(op, self.cur);
    }
    /// Emits `op` (at source position `pos`), fusing it with the previous
    /// instruction when a superinstruction covers the pair (never across a
    /// jump target). A fused result is emitted again, so chains fuse too.
    fn emit_at(&mut self, op: Op, pos: Pos) {
        if self.code.len() > self.barrier {
            if let Some(&last) = self.code.last() {
                // Local2 is split again when its second half fuses better.
                if let Op::Local2(a, b) = last {
                    if matches!(
                        op,
                        Op::Car | Op::Cdr | Op::AddImm(_) | Op::SubImm(_) | Op::JumpUnlessCmpImm(..)
                    ) {
                        let lpos = self.pos[self.code.len() - 1];
                        self.code.pop();
                        self.pos.pop();
                        self.emit_at(Op::Local(a), lpos);
                        self.code.push(Op::Local(b));
                        self.pos.push(lpos);
                        self.emit_at(op, pos);
                        return;
                    }
                }
                let fused = match (last, op) {
                    (Op::Local(i), Op::Car) => Some(Op::LocalCar(i)),
                    (Op::Local(i), Op::Cdr) => Some(Op::LocalCdr(i)),
                    (Op::Local(a), Op::Local(b)) => Some(Op::Local2(a, b)),
                    (Op::Local(i), Op::AddImm(k)) => Some(Op::LocalAddImm(i, k)),
                    (Op::Local(i), Op::SubImm(k)) => Some(Op::LocalSubImm(i, k)),
                    (Op::Local(i), Op::JumpUnlessCmpImm(c, k, t)) => Some(Op::LocalJumpUnlessCmpImm(i, c, k, t)),
                    (Op::NullP, Op::JumpIfFalse(t)) => Some(Op::JumpUnlessNull(t)),
                    (Op::PairP, Op::JumpIfFalse(t)) => Some(Op::JumpUnlessPair(t)),
                    (Op::Imm(v), Op::Add) => small_fix(v).map(Op::AddImm),
                    (Op::Imm(v), Op::Sub) => small_fix(v).map(Op::SubImm),
                    (Op::Imm(v), Op::VecRef) => small_fix(v).filter(|k| *k >= 0).map(|k| Op::VecRefImm(k as u32)),
                    (Op::Imm(v), c) => match (small_fix(v), Cmp::of(c)) {
                        (Some(k), Some(c)) => Some(Op::CmpImm(c, k)),
                        _ => None,
                    },
                    (Op::CmpImm(c, k), Op::JumpIfFalse(t)) => Some(Op::JumpUnlessCmpImm(c, k, t)),
                    (c, Op::JumpIfFalse(t)) => Cmp::of(c).map(|c| Op::JumpUnlessCmp(c, t)),
                    _ => None,
                };
                if let Some(f) = fused {
                    // A fused branch reports errors at the test's position.
                    let fpos = if matches!(op, Op::JumpIfFalse(_)) {
                        self.pos[self.code.len() - 1]
                    } else {
                        pos
                    };
                    self.code.pop();
                    self.pos.pop();
                    self.emit_at(f, fpos);
                    return;
                }
            }
        }
        self.code.push(op);
        self.pos.push(pos);
    }
    /// Sets the target of the conditional jump at `at`.
    fn retarget(&mut self, at: usize, t: u32) {
        self.code[at] = match self.code[at] {
            Op::JumpIfFalse(_) => Op::JumpIfFalse(t),
            Op::JumpUnlessNull(_) => Op::JumpUnlessNull(t),
            Op::JumpUnlessPair(_) => Op::JumpUnlessPair(t),
            Op::JumpUnlessCmp(c, _) => Op::JumpUnlessCmp(c, t),
            Op::JumpUnlessCmpImm(c, k, _) => Op::JumpUnlessCmpImm(c, k, t),
            Op::LocalJumpUnlessCmpImm(i, c, k, _) => Op::LocalJumpUnlessCmpImm(i, c, k, t),
            op => unreachable!("retarget of {op:?}"),
        };
    }
    fn pop(&mut self) {
        // Peephole: a pushed constant or variable immediately dropped.
        if self.code.len() > self.barrier {
            if let Some(&Op::Local2(a, _)) = self.code.last() {
                let n = self.code.len() - 1;
                self.code[n] = Op::Local(a);
                return;
            }
        }
        if self.code.len() > self.barrier
            && matches!(
                self.code.last(),
                Some(Op::Imm(_) | Op::Local(_) | Op::Const(_) | Op::Free(_))
            )
        {
            self.code.pop();
            self.pos.pop();
        } else {
            self.emit(Op::Pop);
        }
    }
    fn alloc_slot(&mut self) -> u32 {
        let s = self.next_slot;
        self.next_slot += 1;
        self.max_slot = self.max_slot.max(self.next_slot);
        s
    }
}

fn seq(mut v: Vec<Node>) -> Node {
    if v.len() == 1 {
        v.pop().unwrap_or(Node::Imm(UNSPEC))
    } else {
        Node::Seq(v)
    }
}

/// The value of a self-evaluating datum that needs no heap object.
pub fn immediate(d: &Datum) -> Option<Value> {
    Some(match d {
        Datum::Bool(b) => Value::bool(*b),
        Datum::Int(n) if Value::fits_fix(*n) => Value::fix(*n),
        Datum::Char(c) => Value::chr(*c),
        Datum::List(v, None, _) if v.is_empty() => NIL,
        Datum::Unspec => UNSPEC,
        _ => return None,
    })
}

/// Gives an expansion the position of the form it replaced when it has none.
fn with_pos(d: Datum, pos: Pos) -> Datum {
    match d {
        Datum::List(v, t, p) if p.line == 0 => Datum::List(v, t, pos),
        d => d,
    }
}
