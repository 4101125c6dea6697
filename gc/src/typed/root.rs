//! Roots of the typed API: handles that outlive a scope.
//!
//! - [`Root`]: one object, kept alive until the handle drops; for native
//!   data structures (a map of globals, a compiled module). A slot in the
//!   mutator's handle table.
//! - [`RootVec`]: a vector of one-word values ([`Word`]: handles, `Value`s,
//!   numbers), scanned at every safepoint; a VM's value stack. Inside a
//!   scope it is borrowed as a plain `&mut Vec` of branded values, so
//!   pushes and pops cost what they cost on a `Vec`.
//! - [`SharedRoot`]: one object, rooted in the collector rather than a
//!   mutator; `Send + Sync`, the way to hand an object to another thread.
//!
//! Roots are scanned only at safepoints, which are outside scopes, so none
//! of them needs a write barrier: with snapshot-at-the-beginning marking,
//! an object a root gains during a mark was reachable when the mark began
//! or was allocated since, and is marked either way.
//!
//! A root belongs to one mutator (or, for a shared root, one collector).
//! Reading it through another's scope would hand out an object that
//! collector does not know; it panics instead, with the reason.

use crate::collector::Core;
use crate::mutator::Mutator;
use crate::roots::{HandleTable, RootVisitor};
use crate::typed::cell::Word;
use crate::typed::handle::Obj;
use crate::typed::scope::Mutation;
use crate::typed::trace::Rootable;
use std::cell::{RefCell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};

/// A rooted handle to an object of type `R` (named at `'static`, for
/// example `Root<Node<'static>>`): keeps it alive until dropped. Not
/// `Send`: it belongs to its mutator's thread.
pub struct Root<R: Rootable> {
    raw: crate::roots::Root,
    _r: PhantomData<R>,
}

impl<R: Rootable> Root<R> {
    pub(crate) fn new(m: &Mutator, addr: usize) -> Root<R> {
        Root {
            raw: m.handles.new_root(addr),
            _r: PhantomData,
        }
    }

    /// The object, in scope `mc`.
    ///
    /// # Panics
    /// If `mc` is a scope of another mutator than the one that made the root.
    #[inline]
    pub fn get<'gc>(&self, mc: &Mutation<'gc>) -> Obj<'gc, R::At<'gc>> {
        self.check(mc);
        // SAFETY: the slot holds the address of a live `R` object of this
        // mutator's heap (rooted by this handle since it was stored), and
        // `At<'gc>` is `R` at the scope's brand.
        unsafe { <Obj<'gc, R::At<'gc>> as Word<'gc>>::from_word(self.raw.get()) }
    }

    /// Roots `obj` instead.
    ///
    /// # Panics
    /// As [`Root::get`].
    pub fn set<'gc>(&self, mc: &Mutation<'gc>, obj: Obj<'gc, R::At<'gc>>) {
        self.check(mc);
        self.raw.set(obj.addr());
    }

    fn check(&self, mc: &Mutation<'_>) {
        assert!(
            self.raw.belongs_to(&mc.mutator().handles),
            "marrow: a Root was used in a scope of another mutator than the one that made it"
        );
    }
}

impl<R: Rootable> fmt::Debug for Root<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root<{}>({:?})", std::any::type_name::<R>(), self.raw)
    }
}

/// Something a mutator scans at its safepoints besides its handle table.
pub(crate) trait ScanRoots {
    fn scan(&self, v: &mut dyn RootVisitor);
}

/// The rooted vectors registered with one mutator.
#[derive(Default)]
pub(crate) struct RootRegistry {
    entries: RefCell<Vec<Weak<dyn ScanRoots>>>,
}

impl RootRegistry {
    /// Reports every registered vector's words; forgets dropped ones.
    pub(crate) fn visit(&self, v: &mut dyn RootVisitor) {
        self.entries.borrow_mut().retain(|e| match e.upgrade() {
            Some(r) => {
                r.scan(v);
                true
            }
            None => false,
        });
    }
}

impl fmt::Debug for RootRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootRegistry({} entries)", self.entries.borrow().len())
    }
}

/// A rooted vector's storage.
///
/// Invariant: `items` is borrowed only transiently by `RootVec`'s methods,
/// or for a scope by `RootVec::as_mut_vec` (which borrows the `RootVec`
/// mutably), and scanned only at safepoints, which are outside scopes.
struct RootVecItems<R> {
    items: UnsafeCell<Vec<R>>,
}

impl<R: Rootable + Word<'static>> ScanRoots for RootVecItems<R> {
    fn scan(&self, v: &mut dyn RootVisitor) {
        if R::POINTER_WORDS == 0 {
            return;
        }
        // SAFETY: scans run at safepoints, when no borrow of the items is
        // alive (type invariant).
        let items = unsafe { &*self.items.get() };
        for &item in items {
            v.visit(item.to_word());
        }
    }
}

/// A vector of rooted one-word values (handles, `Value`s, numbers) named
/// at `'static` (`RootVec<Value<'static, Object<'static>>>`): every
/// element is a root at every safepoint. Not `Send`.
pub struct RootVec<R: Rootable + Word<'static>> {
    items: Rc<RootVecItems<R>>,
    registry: Rc<RootRegistry>,
}

impl<R: Rootable + Word<'static>> RootVec<R> {
    /// An empty vector rooted by `m`.
    pub fn new(m: &Mutator) -> RootVec<R> {
        let items = Rc::new(RootVecItems {
            items: UnsafeCell::new(Vec::new()),
        });
        let scan: Rc<dyn ScanRoots> = items.clone();
        m.typed_roots.entries.borrow_mut().push(Rc::downgrade(&scan));
        RootVec {
            items,
            registry: m.typed_roots.clone(),
        }
    }

    fn check(&self, mc: &Mutation<'_>) {
        assert!(
            Rc::ptr_eq(&self.registry, &mc.mutator().typed_roots),
            "marrow: a RootVec was used in a scope of another mutator than the one that made it"
        );
    }

    /// The elements as a vector of values of the scope's brand, for the
    /// scope: push, pop, index, slice as on any `Vec`.
    ///
    /// # Panics
    /// If `mc` is a scope of another mutator than the one that made it.
    #[inline]
    pub fn as_mut_vec<'a, 'gc>(&'a mut self, mc: &'a Mutation<'gc>) -> &'a mut Vec<R::At<'gc>> {
        self.check(mc);
        // SAFETY: `R` and `R::At<'gc>` differ only in a lifetime, so the
        // vectors have one layout; the elements are rooted, so alive in
        // the scope; the borrow is unique (it holds `&mut self`) and ends
        // with the scope, before the next scan (invariant of the items).
        unsafe { &mut *(self.items.items.get() as *mut Vec<R::At<'gc>>) }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        // SAFETY: a transient shared borrow; no other borrow is alive
        // (`as_mut_vec` would hold `&mut self`).
        unsafe { (*self.items.items.get()).len() }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every element (their objects are no longer rooted by it).
    pub fn clear(&mut self) {
        // SAFETY: a transient unique borrow, under `&mut self`.
        unsafe { (*self.items.items.get()).clear() }
    }
}

impl<R: Rootable + Word<'static>> fmt::Debug for RootVec<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootVec<{}>(len {})", std::any::type_name::<R>(), self.len())
    }
}

/// The collector's table of shared roots, scanned with the mutators'
/// roots at every stop.
///
/// Invariant: `free` lists exactly the slots not held by a live
/// [`SharedRoot`]; free slots hold 0.
#[derive(Debug, Default)]
pub(crate) struct SharedRootTable {
    slots: Mutex<(Vec<usize>, Vec<usize>)>,
}

impl SharedRootTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<usize>, Vec<usize>)> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, word: usize) -> usize {
        let mut g = self.lock();
        let (slots, free) = &mut *g;
        match free.pop() {
            Some(i) => {
                slots[i] = word;
                i
            }
            None => {
                slots.push(word);
                slots.len() - 1
            }
        }
    }

    fn get(&self, idx: usize) -> usize {
        self.lock().0[idx]
    }

    fn remove(&self, idx: usize) {
        let mut g = self.lock();
        g.0[idx] = 0;
        g.1.push(idx);
    }

    /// Reports every shared root.
    pub(crate) fn visit(&self, v: &mut dyn RootVisitor) {
        v.visit_slice(&self.lock().0);
    }
}

/// A root held by the collector rather than a mutator: `Send + Sync`, the
/// way to hand an object to another thread (each thread reads it in its
/// own scope with [`SharedRoot::get`]). Keeps the object alive until
/// dropped, from any thread.
pub struct SharedRoot<R: Rootable> {
    core: Arc<Core>,
    idx: usize,
    _r: PhantomData<fn() -> R>,
}

// SAFETY: the handle is an index into the collector's table, behind a
// mutex; the object it names is only read through a scope of a mutator of
// the same collector, and heap objects are safe to read from several
// threads (the `Trace` contract: no interior mutability but atomics).
unsafe impl<R: Rootable> Send for SharedRoot<R> {}
// SAFETY: as above; `&SharedRoot` only reads the table under its mutex.
unsafe impl<R: Rootable> Sync for SharedRoot<R> {}

impl<R: Rootable> SharedRoot<R> {
    /// Roots `obj` in the collector.
    pub fn new<'gc>(mc: &Mutation<'gc>, obj: Obj<'gc, R::At<'gc>>) -> SharedRoot<R> {
        let core = mc.mutator().core.clone();
        let idx = core.shared_roots.add(obj.addr());
        SharedRoot {
            core,
            idx,
            _r: PhantomData,
        }
    }

    /// The object, in scope `mc` (of any thread).
    ///
    /// # Panics
    /// If `mc` is a scope of a mutator of another collector.
    pub fn get<'gc>(&self, mc: &Mutation<'gc>) -> Obj<'gc, R::At<'gc>> {
        assert!(
            Arc::ptr_eq(&self.core, &mc.mutator().core),
            "marrow: a SharedRoot was used in a scope of another collector's mutator"
        );
        // SAFETY: the slot holds the address of a live `R` object of this
        // collector's heap, rooted by this handle.
        unsafe { <Obj<'gc, R::At<'gc>> as Word<'gc>>::from_word(self.core.shared_roots.get(self.idx)) }
    }
}

impl<R: Rootable> Drop for SharedRoot<R> {
    fn drop(&mut self) {
        self.core.shared_roots.remove(self.idx);
    }
}

impl<R: Rootable> fmt::Debug for SharedRoot<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedRoot<{}>", std::any::type_name::<R>())
    }
}

/// For `Root::check`.
impl crate::roots::Root {
    pub(crate) fn belongs_to(&self, table: &Rc<HandleTable>) -> bool {
        Rc::ptr_eq(&self.table, table)
    }
}
