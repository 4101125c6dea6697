//! The runtime's concurrency primitives, in one place so that its lock-free
//! protocols can be model-checked: under `--cfg loom` every type here is
//! loom's (and crossbeam-epoch, built with `--cfg crossbeam_loom` and its
//! `loom` feature, runs on loom too), so `tests/loom.rs` explores the
//! interleavings of the very code the runtime runs.
//!
//! Code that should be checked takes its atomics, locks, cells and spin
//! hints from here, never from `std` directly. Build for loom with
//! `RUSTFLAGS="--cfg loom --cfg crossbeam_loom"`; only the modules that
//! compile against these types ([`crate::spanset`], [`crate::sweep`] (its claim protocol) and
//! this one) are built then.
//!
//! span.rs and bitmap.rs take their atomics from here too, so nothing in
//! the allocator's metadata names `std`'s atomics directly; they are not
//! built under loom (the alloc bits are a `bitvec` array over std atomics,
//! and the GC bitmap overlays atomics on mapped memory), which is why the
//! models reach the span and the bitmap only through the pieces above.

#[cfg(loom)]
pub use loom::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub use std::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

/// Epoch-based memory reclamation (loom-instrumented under `--cfg loom`
/// when built with `--cfg crossbeam_loom`).
pub use crossbeam_epoch as epoch;

/// Locks `m`, recovering from poisoning: the structures guarded here are
/// left consistent before any call that can panic.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One iteration of a busy-wait loop: a spin hint to the processor (under
/// loom, a yield, which loom requires in every spin loop).
#[inline]
pub fn spin() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Gives up the processor: for spin loops that have waited long (the thread
/// they wait for may have been preempted).
#[inline]
pub fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

#[cfg(loom)]
pub use loom::cell::UnsafeCell;

/// `std::cell::UnsafeCell` with loom's API: access goes through closures
/// that receive a raw pointer, so that under loom every access is checked
/// for data races (as tokio and crossbeam do).
#[cfg(not(loom))]
#[derive(Debug, Default)]
#[repr(transparent)]
pub struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// A cell holding `v`.
    #[inline(always)]
    pub const fn new(v: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }

    /// The value, consuming the cell.
    #[inline(always)]
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

#[cfg(not(loom))]
impl<T: ?Sized> UnsafeCell<T> {
    /// Calls `f` with a pointer for reading. Dereferencing it is the
    /// caller's responsibility: no write may race with the read.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer for writing. Dereferencing it is the
    /// caller's responsibility: no other access may race with the write.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
