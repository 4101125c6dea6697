//! Mark worker threads: helpers for the stop-the-world mark (parallel
//! marking) and background workers for concurrent marking.
//!
//! The threads start with the collector and sleep on a condition variable
//! until the collector posts a job: [`Job::HelpStw`] (drain the pool with
//! the coordinator until marking is quiescent) or [`Job::Background`] (mark
//! alongside the mutators, banking the work as assist credit, and when
//! marking is quiescent claim termination and stop the world to finish
//! the cycle). A job names how many threads take it; the rest sleep on.
//!
//! This file is the threads and their job board; what a job does is the
//! collector's ([`JobRunner`], implemented by the collector's `Core` in
//! collector.rs), so the threads know nothing of cycles and the collector
//! does not reach into the threads.
//!
//! Invariants: `epoch` grows by one per posted job; a thread takes each
//! epoch at most once; `stop` is final.

use crate::mark::Work;
use crate::sync::{lock, wait, Condvar, Mutex};
use crate::work::WorkPool;
use std::sync::Arc;
use std::thread::JoinHandle;

/// What the worker threads are asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Job {
    /// Help the stop-the-world mark.
    HelpStw,
    /// Mark in the background while mutators run.
    Background,
}

#[derive(Debug)]
struct Control {
    epoch: u64,
    job: Job,
    /// How many threads take the current job.
    takers: usize,
    stop: bool,
}

/// The job board the worker threads sleep on.
#[derive(Debug)]
pub(crate) struct WorkerControl {
    ctl: Mutex<Control>,
    cv: Condvar,
}

impl WorkerControl {
    pub(crate) fn new() -> WorkerControl {
        WorkerControl {
            ctl: Mutex::new(Control {
                epoch: 0,
                job: Job::HelpStw,
                takers: 0,
                stop: false,
            }),
            cv: Condvar::new(),
        }
    }

    /// Posts a job for `takers` threads.
    pub(crate) fn post(&self, job: Job, takers: usize) {
        let mut c = lock(&self.ctl);
        c.epoch += 1;
        c.job = job;
        c.takers = takers;
        drop(c);
        self.cv.notify_all();
    }

    /// Stops every thread (they finish the marking they are doing: the
    /// pool's waiters are woken).
    pub(crate) fn shut_down(&self, pool: &WorkPool<Work>) {
        lock(&self.ctl).stop = true;
        self.cv.notify_all();
        pool.wake_all();
    }

    /// Waits for a job newer than `seen` that thread `index` takes.
    fn next(&self, seen: &mut u64, index: usize) -> Option<Job> {
        let mut c = lock(&self.ctl);
        loop {
            if c.stop {
                return None;
            }
            if c.epoch != *seen {
                *seen = c.epoch;
                if index < c.takers {
                    return Some(c.job);
                }
            }
            c = wait(&self.cv, c);
        }
    }
}

/// What the worker threads serve: their job board, and the work of a job.
pub(crate) trait JobRunner: Send + Sync + 'static {
    /// The board the threads wait on for jobs.
    fn board(&self) -> &WorkerControl;
    /// Does one job (on a worker thread).
    fn run_job(&self, job: Job);
}

/// Starts `n` worker threads. A thread the OS refuses is simply not
/// there: the coordinator and assists do the work.
pub(crate) fn spawn<R: JobRunner>(runner: &Arc<R>, n: usize) -> Vec<JoinHandle<()>> {
    (0..n)
        .filter_map(|i| {
            let runner = runner.clone();
            std::thread::Builder::new()
                .name(format!("marrow-mark-{i}"))
                .spawn(move || run(&*runner, i))
                .ok()
        })
        .collect()
}

fn run(runner: &impl JobRunner, index: usize) {
    let mut seen = 0;
    while let Some(job) = runner.board().next(&mut seen, index) {
        runner.run_job(job);
    }
}
