//! Roots: how an embedder tells the collector where its pointers live.
//!
//! Two mechanisms, as in MMTk's binding traits and in handle-based VMs:
//!
//! - [`RootSource`]: the VM implements it for its value stack, globals and
//!   registers, and passes it to every call that may collect (allocation,
//!   `gc()`). The collector asks for the roots only during a collection.
//! - [`Root`]: an RAII handle for native code that must hold a pointer across
//!   an allocation. Handles live in the mutator's handle table, which is
//!   always scanned; dropping a handle frees its slot.
//!
//! Root words are filtered like heap words: a word that fails the heap's tag
//! rule, or points outside any allocated object, is ignored, so a VM can
//! report tagged values without untagging them.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

/// Receives root words during a collection.
pub trait RootVisitor {
    /// Reports one word that may hold a pointer.
    fn visit(&mut self, word: usize);

    /// Reports every word of a slice.
    fn visit_slice(&mut self, words: &[usize]) {
        for &w in words {
            self.visit(w);
        }
    }
}

/// Something that holds roots: a VM's stack, globals, registers.
pub trait RootSource {
    /// Reports every root word to `v`.
    fn visit_roots(&self, v: &mut dyn RootVisitor);
}

impl RootSource for () {
    fn visit_roots(&self, _: &mut dyn RootVisitor) {}
}

impl RootSource for [usize] {
    fn visit_roots(&self, v: &mut dyn RootVisitor) {
        v.visit_slice(self);
    }
}

impl RootSource for Vec<usize> {
    fn visit_roots(&self, v: &mut dyn RootVisitor) {
        v.visit_slice(self);
    }
}

impl<const N: usize> RootSource for [usize; N] {
    fn visit_roots(&self, v: &mut dyn RootVisitor) {
        v.visit_slice(self);
    }
}

impl<A: RootSource + ?Sized, B: RootSource + ?Sized> RootSource for (&A, &B) {
    fn visit_roots(&self, v: &mut dyn RootVisitor) {
        self.0.visit_roots(v);
        self.1.visit_roots(v);
    }
}

/// The handle table of one mutator.
///
/// Invariant: `free` lists exactly the indexes of `slots` not held by a
/// live [`Root`]; free slots hold 0; `closed` is set when the mutator is
/// dropped, after which the table is never scanned again.
#[derive(Debug, Default)]
pub(crate) struct HandleTable {
    slots: RefCell<Vec<usize>>,
    free: RefCell<Vec<usize>>,
    closed: Cell<bool>,
}

impl HandleTable {
    pub(crate) fn new_root(self: &Rc<Self>, word: usize) -> Root {
        let idx = match self.free.borrow_mut().pop() {
            Some(i) => {
                self.slots.borrow_mut()[i] = word;
                i
            }
            None => {
                let mut s = self.slots.borrow_mut();
                s.push(word);
                s.len() - 1
            }
        };
        Root {
            table: self.clone(),
            idx,
        }
    }

    pub(crate) fn visit(&self, v: &mut dyn RootVisitor) {
        v.visit_slice(&self.slots.borrow());
    }

    /// The mutator is gone: its roots are no longer scanned.
    pub(crate) fn close(&self) {
        self.closed.set(true);
    }

    /// Handles currently held.
    pub(crate) fn live(&self) -> usize {
        self.slots.borrow().len() - self.free.borrow().len()
    }
}

/// An RAII root: keeps the object it holds alive until dropped. Not `Send`:
/// it belongs to its mutator's thread, and roots only while that mutator
/// lives.
pub struct Root {
    pub(crate) table: Rc<HandleTable>,
    idx: usize,
}

impl Root {
    /// The held word.
    ///
    /// # Panics
    /// If the mutator that made the root has been dropped (the root no
    /// longer keeps anything alive, so the word may name freed memory).
    pub fn get(&self) -> usize {
        self.check_open();
        self.table.slots.borrow()[self.idx]
    }

    /// Replaces the held word.
    ///
    /// # Panics
    /// As [`Root::get`].
    pub fn set(&self, word: usize) {
        self.check_open();
        self.table.slots.borrow_mut()[self.idx] = word;
    }

    fn check_open(&self) {
        assert!(
            !self.table.closed.get(),
            "marrow: a Root was used after its Mutator was dropped"
        );
    }
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root({:#x})", self.table.slots.borrow()[self.idx])
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        self.table.slots.borrow_mut()[self.idx] = 0;
        self.table.free.borrow_mut().push(self.idx);
    }
}
