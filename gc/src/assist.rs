//! GC assists: while marking runs, mutators that allocate pay for it in
//! mark work, so marking finishes before the heap outgrows its goal.
//!
//! Go's scheme. Every byte a mutator allocates during marking (charged when
//! its cache takes a span, so the allocation fast path is untouched) puts
//! it in debt; the exchange rate is the *assist ratio*: scan work still
//! expected this cycle over heap runway left before the goal (the
//! arithmetic is the pacer's, [`crate::pacer::assist_work_per_byte`]; this
//! file keeps the cycle's inputs to it and the accounts). A mutator in
//! debt first steals credit that background workers banked (their scan
//! work beyond what assists needed), then scans grey objects itself until
//! the debt is paid, at least [`MIN_ASSIST_WORK`] at a time so assists are
//! not too frequent. Assists are bounded: a mutator that finds no work it
//! can take (others hold it) goes on allocating rather than waiting, so no
//! thread starves; the heap goal is then protected by the final rule that
//! a mutator whose allocation reaches the goal while marking finishes the
//! mark itself.
//!
//! Credit is counted in scan work (words scanned), as in Go.
//!
//! Invariant: work credited is never created or lost: every unit added by
//! [`AssistCredit::deposit`] is either still in `bg_credit` or returned by
//! exactly one [`AssistCredit::steal`] (checked by the loom model).

use crate::pacer::{assist_work_per_byte, MIN_ASSIST_WORK};
use crate::sync::{AtomicI64, AtomicU64, Ordering};

/// Shared assist state of one cycle.
#[derive(Debug)]
pub struct AssistCredit {
    /// Scan work banked by background workers, not yet stolen.
    bg_credit: AtomicI64,
    /// Scan work the cycle is expected to need.
    work_expected: AtomicU64,
    /// The heap goal of this cycle.
    goal: AtomicU64,
}

impl AssistCredit {
    pub fn new() -> AssistCredit {
        AssistCredit {
            bg_credit: AtomicI64::new(0),
            work_expected: AtomicU64::new(0),
            goal: AtomicU64::new(u64::MAX),
        }
    }

    /// Starts a cycle expecting `work_expected` words of scanning before
    /// heapLive reaches `goal`.
    pub(crate) fn start_cycle(&self, work_expected: u64, goal: u64) {
        self.bg_credit.store(0, Ordering::Relaxed);
        self.work_expected.store(work_expected.max(1), Ordering::Relaxed);
        self.goal.store(goal, Ordering::Relaxed);
    }

    /// The cycle's heap goal.
    pub(crate) fn goal(&self) -> u64 {
        self.goal.load(Ordering::Relaxed)
    }

    /// A background worker banks `words` of scan work for assists to steal.
    pub fn deposit(&self, words: u64) {
        self.bg_credit.fetch_add(words as i64, Ordering::AcqRel);
    }

    /// Takes up to `want` words of banked credit; returns what was taken.
    pub fn steal(&self, want: u64) -> u64 {
        let mut cur = self.bg_credit.load(Ordering::Acquire);
        loop {
            if cur <= 0 {
                return 0;
            }
            let take = (want as i64).min(cur);
            match self
                .bg_credit
                .compare_exchange_weak(cur, cur - take, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return take as u64,
                Err(v) => cur = v,
            }
        }
    }

    /// Credit banked and not stolen.
    #[cfg(any(test, loom))]
    pub fn banked(&self) -> i64 {
        self.bg_credit.load(Ordering::Acquire)
    }

    /// Scan work owed per byte allocated when heapLive is `heap_live` and
    /// `work_done` words were scanned this cycle (the pacer's assist ratio
    /// over this cycle's expected work and goal).
    pub(crate) fn work_per_byte(&self, heap_live: u64, work_done: u64) -> f64 {
        assist_work_per_byte(
            self.work_expected.load(Ordering::Relaxed),
            work_done,
            self.goal(),
            heap_live,
        )
    }
}

/// A mutator's side of the accounting: positive is credit (work done
/// ahead), negative is debt, in bytes of allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct MutatorCredit {
    pub(crate) bytes: f64,
}

impl MutatorCredit {
    /// Charges `bytes` of allocation; returns the scan work owed now (0 if
    /// in credit), at least [`MIN_ASSIST_WORK`] once in debt.
    pub(crate) fn charge(&mut self, bytes: u64, work_per_byte: f64) -> u64 {
        self.bytes -= bytes as f64;
        if self.bytes >= 0.0 {
            return 0;
        }
        ((-self.bytes * work_per_byte).ceil() as u64).max(MIN_ASSIST_WORK)
    }

    /// Pays with `words` of scan work (done or stolen).
    pub(crate) fn pay(&mut self, words: u64, work_per_byte: f64) {
        self.bytes += words as f64 / work_per_byte.max(f64::MIN_POSITIVE);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_remaining_work_over_runway() {
        let a = AssistCredit::new();
        a.start_cycle(1 << 20, 100 << 20);
        assert!((a.work_per_byte(36 << 20, 0) - (1 << 20) as f64 / (64 << 20) as f64).abs() < 1e-12);
        // Half the work done with the same runway: half the ratio.
        assert!((a.work_per_byte(36 << 20, 1 << 19) - (1 << 19) as f64 / (64 << 20) as f64).abs() < 1e-12);
        // Past the goal the runway is floored: a finite, steep ratio.
        assert!(a.work_per_byte(200 << 20, 0).is_finite());
    }

    #[test]
    fn steal_takes_at_most_what_is_banked() {
        let a = AssistCredit::new();
        assert_eq!(a.steal(10), 0);
        a.deposit(100);
        assert_eq!(a.steal(30), 30);
        assert_eq!(a.steal(100), 70);
        assert_eq!(a.steal(1), 0);
        assert_eq!(a.banked(), 0);
    }

    #[test]
    fn debt_becomes_work_and_work_pays_it() {
        let mut c = MutatorCredit::default();
        let owed = c.charge(1 << 20, 0.5);
        assert_eq!(owed, 1 << 19);
        c.pay(owed, 0.5);
        assert!(c.bytes.abs() < 1e-6);
        // Small debts still buy a minimum of work, which leaves credit.
        let owed = c.charge(8, 0.5);
        assert_eq!(owed, MIN_ASSIST_WORK);
        c.pay(owed, 0.5);
        assert!(c.bytes > 0.0);
        assert_eq!(c.charge(8, 0.5), 0, "in credit: nothing owed");
    }
}
