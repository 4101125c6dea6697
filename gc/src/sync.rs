//! The collector's synchronisation primitives, in one place so that the
//! concurrent protocols (the mark work pool and its termination, assist
//! credit) can be model-checked: under `--cfg loom` every type here is
//! loom's, and `tests/loom.rs` explores the interleavings of the very code
//! the collector runs.
//!
//! Locks here never poison in practice: [`lock`] and [`wait`] recover from
//! poisoning, because every structure they guard is left consistent before
//! any call that can panic.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

/// Locks `m`, recovering from poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cv`, recovering from poisoning.
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(g).unwrap_or_else(|e| e.into_inner())
}
