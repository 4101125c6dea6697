//! marrow-lox: Lox, the language of Robert Nystrom's "Crafting
//! Interpreters", as a bytecode VM whose every value lives on the Marrow
//! heap through marrow-gc's typed API.
//!
//! The pipeline is clox's: [`scanner`] turns source bytes into tokens on
//! demand; [`compiler`] (a single-pass Pratt parser) turns them into a tree
//! of function prototypes ([`chunk::Proto`]: clox's opcodes, operands,
//! line table and constants) without touching the heap; [`disasm`] prints
//! that bytecode in clox's `debug.c` format. Observable behaviour (output,
//! error messages, exit codes, limits) is clox's; the corpus under
//! `tests/corpus/` was checked against clox built from the book's sources.
//!
//! [`object`] defines Lox's heap objects and hash tables as typed-API heap
//! types, and [`vm`] runs materialised code in slices, one scope each, with
//! its whole state in roots between slices.
#![forbid(unsafe_code)]

pub mod chunk;
pub mod compiler;
pub mod disasm;
pub mod number;
pub mod object;
pub mod scanner;
pub mod vm;
