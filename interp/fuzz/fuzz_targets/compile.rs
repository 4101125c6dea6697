//! The compiler (macro expansion, closure conversion, code generation and
//! the stack-depth verifier) on forms generated from the fuzz input: every
//! form compiles or is refused with a compile error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marrow_interp::compile::Compiler;
use marrow_interp::reader::Datum;
use std::rc::Rc;

/// Heads and symbols the generator draws from: every special form, some
/// builtins, syntax-rules keywords and a few variables.
const SYMS: &[&str] = &[
    "quote",
    "quasiquote",
    "unquote",
    "unquote-splicing",
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
    "syntax-rules",
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
    "else",
    "=>",
    "...",
    "_",
    "x",
    "y",
    "z",
    "f",
    "g",
    "car",
    "cdr",
    "cons",
    "+",
    "-",
    "*",
    "<",
    "=",
    "vector",
    "vector-ref",
    "vector-set!",
    "set-car!",
    "null?",
    "pair?",
    "not",
    "eq?",
    "zero?",
    "list",
    "apply",
    "values",
    "call/cc",
    "%record-ref",
    "#%%record-ref",
];

/// Builds data from the input bytes.
struct Gen<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Gen<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn more(&self) -> bool {
        self.pos < self.data.len()
    }

    fn datum(&mut self, depth: usize) -> Datum {
        let b = self.byte();
        if depth > 24 || !self.more() {
            return self.atom(b);
        }
        match b % 8 {
            0..=3 => {
                let n = (self.byte() % 6) as usize;
                let mut v = vec![Datum::sym(SYMS[self.byte() as usize % SYMS.len()])];
                for _ in 0..n {
                    v.push(self.datum(depth + 1));
                }
                let tail = (self.byte() % 16 == 0).then(|| Box::new(self.datum(depth + 1)));
                Datum::List(v, tail, Default::default())
            }
            4 => {
                let n = (self.byte() % 5) as usize;
                Datum::List(
                    (0..n).map(|_| self.datum(depth + 1)).collect(),
                    None,
                    Default::default(),
                )
            }
            5 => Datum::Vector((0..self.byte() % 3).map(|_| self.datum(depth + 1)).collect()),
            _ => self.atom(b),
        }
    }

    fn atom(&mut self, b: u8) -> Datum {
        match b % 7 {
            0 => Datum::Int(i64::from(self.byte() as i8)),
            1 => Datum::Bool(b & 8 != 0),
            2 => Datum::Str(Rc::from("s")),
            3 => Datum::Char('c'),
            4 => Datum::Flo(f64::from(self.byte()) / 4.0),
            _ => Datum::sym(SYMS[self.byte() as usize % SYMS.len()]),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let mut g = Gen { data: &data, pos: 0 };
            let mut c = Compiler::new();
            // Several top-level forms through one compiler, so macros one
            // form defines are used by the next.
            while g.more() {
                let d = g.datum(0);
                c.proto_base = 0;
                let _ = c.compile_toplevel(&d, "");
                c.out.clear();
            }
        })
        .expect("thread")
        .join()
        .expect("the compiler panicked");
});
