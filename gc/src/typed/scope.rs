//! Scopes: [`Mutator::mutate`] and the [`Mutation`] context.
//!
//! The typed API's one rule: *the collector frees only between scopes*.
//!
//! A scope is a call `m.mutate(|mc| ...)`. Inside it the thread allocates
//! and reads and writes objects through unrooted [`Obj`] handles branded
//! with the scope's lifetime `'gc`, and none of them can be freed:
//!
//! - freeing needs a completed mark, and every mark ends (and starts) with
//!   the world stopped. A mutator parks for a stop only at a safepoint,
//!   and inside a scope it has none: its allocations never park, never
//!   start a cycle and never finish one. Other threads' stops wait for it
//!   to leave the scope, as they wait for any thread between safepoints;
//! - lazy sweeping frees only what the last completed mark left white, and
//!   every object a scope can hold was reachable at that mark or allocated
//!   since (allocation only uses swept spans, and allocates black while
//!   marking), so sweeping, here or on other threads, never frees it.
//!
//! What an allocation in a scope may do is *marking* work (an assist, when
//! a concurrent or incremental mark runs), which never frees. Everything
//! else it would have done is deferred to the scope's end: a cycle the
//! heap's trigger asks for, a stress-mode cycle, claiming mark termination,
//! finishing a mark that reached the heap goal. [`Mutation::should_yield`]
//! tells a VM that something is waiting, so it can end its scope soon (a
//! VM runs a slice of its program per scope, keeping its state in roots
//! between slices). An allocation that finds memory exhausted cannot
//! collect inside a scope: it returns the error, and the caller can leave
//! the scope, collect and retry.
//!
//! The brand does the rest. The closure is `for<'gc> FnOnce(&Mutation<'gc>)`,
//! so its result cannot mention `'gc`: no handle leaves the scope except
//! through a root ([`Mutation::root`], [`crate::typed::RootVec`]), which
//! the collector scans at every safepoint. `'gc` is invariant, so handles
//! of two scopes (of two heaps, say) never mix.

use crate::collector::{GcReason, PHASE_MARK, PHASE_OFF};
use crate::mutator::Mutator;
use crate::pacer::MIN_ASSIST_WORK;
use crate::typed::handle::{Invariant, Obj, ThreadBound};
use crate::typed::root::Root;
use crate::typed::trace::Trace;
use marrow_runtime::{AllocError, AllocFlags, POLL_ALWAYS, POLL_ASSIST};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize;

/// Work a scope put off until it ends (bits of `Mutator::deferred`).
pub(crate) mod deferred {
    /// The heap crossed the collector's trigger: start a cycle.
    pub const TRIGGER: u8 = 1;
    /// Stress mode's count ran out: collect (or help the mark).
    pub const STRESS: u8 = 2;
    /// Marking looked finished: claim termination.
    pub const TERMINATE: u8 = 4;
    /// The heap reached its goal while marking: finish the mark.
    pub const FINISH: u8 = 8;
}

/// The context of one scope: allocation, stores and roots for the
/// objects of brand `'gc`. Made only by [`Mutator::mutate`].
///
/// Invariant: `m` is the mutator whose `mutate` call made this context;
/// that call holds the mutator's `&mut` borrow for the context's whole
/// life and touches the mutator only through it.
pub struct Mutation<'gc> {
    m: NonNull<Mutator>,
    _brand: Invariant<'gc>,
    _local: ThreadBound,
}

impl fmt::Debug for Mutation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutation").finish_non_exhaustive()
    }
}

impl Mutator {
    /// Runs `f` in a scope of the typed API (see the module documentation
    /// of [`crate::typed`]): objects allocated and read in it stay alive
    /// until it returns. Collections that are due run when it returns.
    ///
    /// # Panics
    /// If the heap's tag rule ([`marrow_runtime::TagRule`]) would not take
    /// an 8-byte-aligned address for a pointer: the typed API stores
    /// handles as plain addresses. The default rule, and any
    /// `TagRule::low_bits(n, 0)` with `n <= 3`, take them.
    pub fn mutate<R>(&mut self, f: impl for<'gc> FnOnce(&Mutation<'gc>) -> R) -> R {
        let rule = self.core.heap.tag_rule();
        assert!(
            rule.mask & !7 == 0 && rule.value == 0,
            "marrow: the typed API needs a tag rule that takes aligned addresses for pointers, not {rule:?}"
        );
        // Entering: a safepoint (the roots are the registered ones).
        self.safepoint(&());
        /// Ends the scope even if `f` unwinds, so the mutator is usable.
        struct Leave<'a>(&'a mut Mutator);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.leave_scope();
            }
        }
        let leave = Leave(self);
        let mc = Mutation {
            m: NonNull::from(&mut *leave.0),
            _brand: PhantomData,
            _local: PhantomData,
        };
        f(&mc)
    }

    /// The end of a scope: a safepoint, then what the scope deferred.
    fn leave_scope(&mut self) {
        let pending = std::mem::take(&mut self.deferred);
        if pending == 0 && self.cache.poll() == 0 && !self.core.world.stop_requested() {
            return;
        }
        self.run_deferred(pending);
    }

    /// Allocates `size` bytes of type `t` inside a scope: the fast path
    /// of [`Mutator::mallocgc`] without the stop test (a scope never
    /// parks), and a slow poll that only marks. A zero-sized type takes
    /// one byte (every object has its own address).
    #[inline(always)]
    fn scope_alloc(&mut self, size: usize, t: &marrow_runtime::Type) -> Result<NonNull<u8>, AllocError> {
        if self.cache.poll() != 0 {
            self.scope_poll();
        }
        if size == 0 {
            return self.cache.try_mallocgc(1, None, AllocFlags::NOSCAN);
        }
        let flags = if t.has_pointers() {
            AllocFlags::NONE
        } else {
            AllocFlags::NOSCAN
        };
        self.cache.try_mallocgc(size, Some(t), flags)
    }
}

impl<'gc> Mutation<'gc> {
    /// The mutator.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    fn m(&self) -> &mut Mutator {
        // SAFETY: the mutator is exclusively borrowed by the `mutate` call
        // that made this context for the context's life (type invariant);
        // the context is neither `Send` nor `Sync`, and no method holds
        // this reference across a call that could make another (none
        // calls user code).
        unsafe { &mut *self.m.as_ptr() }
    }

    /// Allocates an object holding `v`. Never frees anything (it may do
    /// marking work); fails only if the heap is exhausted, which a scope
    /// cannot remedy (leave it, collect and retry).
    #[inline(always)]
    pub fn alloc<T: Trace + 'gc>(&self, v: T) -> Result<Obj<'gc, T>, AllocError> {
        const { crate::typed::trace::__derive::check_layout::<T>() };
        let p = self.m().scope_alloc(size_of::<T>(), T::heap_type())?.cast::<T>();
        // SAFETY: `p` is fresh, zeroed memory with `T`'s size and
        // alignment (its descriptor); unreachable by anyone else until
        // returned.
        unsafe { T::write_into(v, p.as_ptr()) };
        // SAFETY: the object is initialised, of this heap, and allocated
        // in this scope, so it lives at least as long as the scope.
        Ok(unsafe { Obj::from_ptr(p) })
    }

    /// Allocates `size` zeroed bytes of type `t`, for the typed containers.
    pub(crate) fn alloc_raw(&self, size: usize, t: &marrow_runtime::Type) -> Result<NonNull<u8>, AllocError> {
        self.m().scope_alloc(size, t)
    }

    /// Roots `obj`: the returned handle keeps it alive across scopes and
    /// gives it back in a later one ([`Root::get`]).
    pub fn root<T: Trace + 'gc>(&self, obj: Obj<'gc, T>) -> Root<T::Static> {
        Root::new(self.m(), obj.addr())
    }

    /// Whether the collector is waiting for this scope to end: a cycle is
    /// due, marking needs finishing, or another thread is stopping the
    /// world. A VM that runs its program in slices ends the slice.
    #[inline]
    pub fn should_yield(&self) -> bool {
        let m = self.m();
        m.deferred != 0 || m.cache.poll() & !POLL_ALWAYS != 0 || m.core.world.stop_requested()
    }

    /// Stores the word `w` into a heap word through the write barrier
    /// (gc/src/barrier.rs).
    #[inline(always)]
    pub(crate) fn write_word(&self, slot: &AtomicUsize, w: usize) {
        let m = self.m();
        crate::barrier::store(&m.core, &mut m.satb, slot, w);
    }

    /// The mutator, for the typed roots.
    pub(crate) fn mutator(&self) -> &Mutator {
        self.m()
    }

    /// Keeps the object `word` names alive through the mark under way, if
    /// any: for reads that hand out objects the mark may not find
    /// otherwise (weak referents; see gc/src/weak.rs).
    #[inline(always)]
    pub(crate) fn shade(&self, word: usize) {
        let m = self.m();
        if m.core.marking.load(std::sync::atomic::Ordering::Relaxed) {
            m.satb.shade(&m.core, word);
        }
    }
}

impl Mutator {
    /// An allocation in a scope found a poll bit: do what a scope may do
    /// (assist marking), defer the rest to the scope's end.
    #[cold]
    #[inline(never)]
    fn scope_poll(&mut self) {
        if self.cache.take_gc_request() {
            self.deferred |= deferred::TRIGGER;
        }
        if self.cache.poll() & POLL_ASSIST != 0 {
            let bytes = self.cache.take_charge();
            if self.core.phase() == PHASE_MARK {
                self.scope_assist(bytes);
            }
        }
        if self.allocs_until_stress != 0 {
            self.allocs_until_stress -= 1;
            if self.allocs_until_stress == 0 {
                self.allocs_until_stress = self.core.config.stress;
                self.deferred |= deferred::STRESS;
            }
        }
    }

    /// Pays for `bytes` allocated while marking, as `Mutator::assist`
    /// does, but without parking or terminating: marking only.
    fn scope_assist(&mut self, bytes: u64) {
        let goal_reached = self.pay_for_allocation(bytes, |m, words| {
            let (scanned, quiescent) = m.mark_slice(words);
            if quiescent {
                m.deferred |= deferred::TERMINATE;
            }
            scanned
        });
        if goal_reached {
            self.deferred |= deferred::FINISH;
        }
    }

    /// What a scope deferred, now that it has ended (the roots are the
    /// registered ones: handles, rooted vectors).
    #[cold]
    #[inline(never)]
    fn run_deferred(&mut self, pending: u8) {
        let roots = &();
        self.safepoint(roots);
        if pending & deferred::TRIGGER != 0 && self.core.phase() == PHASE_OFF {
            self.start_cycle(roots, GcReason::Heap, false);
        }
        if pending & deferred::STRESS != 0 {
            match self.core.phase() {
                PHASE_OFF => {
                    self.start_cycle(roots, GcReason::Stress, false);
                }
                PHASE_MARK => {
                    self.help_mark(roots, MIN_ASSIST_WORK);
                }
                _ => {}
            }
        }
        if pending & deferred::TERMINATE != 0 && self.core.phase() == PHASE_MARK {
            self.help_mark(roots, MIN_ASSIST_WORK);
        }
        if pending & deferred::FINISH != 0 && self.core.phase() == PHASE_MARK {
            self.finish_mark(roots);
        }
        if self.cache.poll() & !POLL_ALWAYS != 0 || self.core.world.stop_requested() {
            self.poll_slow(roots);
        }
        self.run_cleanups();
    }
}
