//! The builtin procedure table. A builtin receives the VM and the position
//! and count of its arguments on the value stack (where they stay rooted)
//! and returns a value or an error. A few control builtins (`apply`,
//! `%call/cc`, `values`) are executed by the VM's call path itself.
//!
//! This module and vm.rs import each other: builtins are functions over the
//! VM, and the VM's fast paths call the numeric tower here (see the
//! argument at the top of vm.rs).

pub mod data;
pub mod num;
pub mod system;

use crate::heap::R;
use crate::value::Value;
use crate::vm::Vm;
use std::sync::OnceLock;

/// A builtin's native function.
pub type PrimFn = fn(&mut Vm, usize, usize) -> R<Value>;

/// How the VM runs a builtin.
#[derive(Clone, Copy, Debug)]
pub enum PrimKind {
    Fn(PrimFn),
    Apply,
    CallCC,
    Values,
}

/// One builtin: name, arity range (`u16::MAX`: variadic) and behaviour.
#[derive(Clone, Copy, Debug)]
pub struct Prim {
    pub name: &'static str,
    pub min: u16,
    pub max: u16,
    pub kind: PrimKind,
}

impl Prim {
    pub const fn new(name: &'static str, min: u16, max: u16, kind: PrimKind) -> Prim {
        Prim { name, min, max, kind }
    }
}

/// Argument `i` of a builtin whose arguments start at stack index `a`.
#[inline(always)]
pub fn arg(vm: &Vm, a: usize, i: usize) -> Value {
    vm.r.stack[a + i]
}

const CONTROL: &[Prim] = &[
    Prim::new("apply", 2, u16::MAX, PrimKind::Apply),
    Prim::new("%call/cc", 1, 1, PrimKind::CallCC),
    Prim::new("values", 0, u16::MAX, PrimKind::Values),
];

static ALL: OnceLock<Vec<Prim>> = OnceLock::new();

/// Every builtin, in a fixed order (a primitive value is an index into it).
pub fn all() -> &'static [Prim] {
    ALL.get_or_init(|| {
        let mut v = Vec::new();
        v.extend_from_slice(CONTROL);
        v.extend_from_slice(num::PRIMS);
        v.extend_from_slice(data::PRIMS);
        v.extend_from_slice(system::PRIMS);
        v
    })
}
