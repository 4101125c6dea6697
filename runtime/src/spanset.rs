//! A lock-free set of span pointers (Go's `spanSet`, runtime/mspanset.go):
//! the storage under the central lists. Push and pop are lock-free on the
//! common path; a lock is taken once per [`BLOCK_ENTRIES`] operations, to add
//! a block (and rarely grow the spine) or to retire one.
//!
//! Shape, as in Go: a *spine*, an array of pointers to *blocks* of
//! [`BLOCK_ENTRIES`] atomic slots, and one 64-bit word packing a 32-bit
//! `head` and `tail`. Entry `i` lives in slot `i % BLOCK_ENTRIES` of block
//! `i / BLOCK_ENTRIES`. A push claims entry `tail` with a fetch-add, finds
//! (or adds) its block, and stores the pointer; a pop claims entry `head`
//! with a compare-and-swap and waits, if it must, for the claimed entry's
//! pusher to store. The set is a queue in index order, but callers may only
//! rely on set semantics (`pop` returns some pushed item, or nothing).
//!
//! Differences from Go: blocks are added for every index up to the one a
//! push needs (Go adds only the one asked for, which leaves a hole if a
//! later block's pusher wins the spine lock first); a retired block goes to
//! a per-set pool and is only freed by [`SpanSet::reset`] or drop, so block
//! memory is type-stable and [`SpanSet::for_each`] is memory-safe even when
//! it races; and old spines are reclaimed through crossbeam-epoch instead of
//! leaked.

use crate::sync::epoch::{self, Atomic, Guard, Owned, Shared};
use crate::sync::{lock, spin, yield_now, AtomicPtr, AtomicU64, AtomicUsize, Mutex, Ordering};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// Slots per block (Go: 512). Tiny under loom so that models cross block
/// boundaries, retire blocks and grow the spine within a few operations.
#[cfg(not(loom))]
pub const BLOCK_ENTRIES: usize = 512;
/// Slots per block (Go: 512). Tiny under loom so that models cross block
/// boundaries, retire blocks and grow the spine within a few operations.
#[cfg(loom)]
pub const BLOCK_ENTRIES: usize = 2;

/// Block pointers in the first spine (doubled as needed).
#[cfg(not(loom))]
const INIT_SPINE_CAP: usize = 32;
#[cfg(loom)]
const INIT_SPINE_CAP: usize = 1;

/// Busy-wait iterations on a claimed but unfilled slot before yielding the
/// processor to the (perhaps preempted) pusher.
const SPINS_BEFORE_YIELD: u32 = 64;

/// A block of slots. Null slots are unfilled (claimed or not).
struct Block<T> {
    slots: [AtomicPtr<T>; BLOCK_ENTRIES],
    /// Slots of this block popped since it was placed in the spine. The pop
    /// that brings it to `BLOCK_ENTRIES` retires the block.
    popped: AtomicUsize,
}

impl<T> Block<T> {
    /// A new block with every slot null.
    fn alloc() -> NonNull<Block<T>> {
        let b = Box::new(Block {
            slots: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            popped: AtomicUsize::new(0),
        });
        #[cfg(all(test, not(loom)))]
        tests::LIVE_BLOCKS.with(|n| n.set(n.get() + 1));
        NonNull::from(Box::leak(b))
    }

    /// Frees a block.
    ///
    /// # Safety
    /// `b` came from [`Block::alloc`], is not freed yet, and no reference
    /// to it is used again.
    unsafe fn free(b: NonNull<Block<T>>) {
        #[cfg(all(test, not(loom)))]
        tests::LIVE_BLOCKS.with(|n| n.set(n.get() - 1));
        // SAFETY: allocated as a Box by `alloc` and not yet freed (caller).
        drop(unsafe { Box::from_raw(b.as_ptr()) });
    }
}

/// The spine: pointers to the blocks for indices `0..spine_len`, reached
/// through an epoch-protected pointer.
struct Spine<T> {
    blocks: Box<[AtomicPtr<Block<T>>]>,
}

impl<T> Spine<T> {
    fn new(cap: usize) -> Spine<T> {
        Spine {
            blocks: (0..cap).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
        }
    }
}

/// State behind the spine lock.
struct Grow<T> {
    /// Length of the current spine (0: none allocated yet).
    cap: usize,
    /// Retired blocks, all slots null and `popped` 0, ready for reuse.
    pool: Vec<NonNull<Block<T>>>,
}

// SAFETY: the pool's blocks are owned by the set (no push or pop will touch
// them before they are handed out again under this lock), and a block is
// only atomics, which any thread may use.
unsafe impl<T> Send for Grow<T> {}

/// A concurrent set of `&'static T` (the runtime uses `SpanSet<MSpan>`).
///
/// Invariants (`E` = [`BLOCK_ENTRIES`]; `head`, `tail` are the two halves
/// of `index`, and only grow between resets):
///
/// 1. `head <= tail`. Entries `head..tail` are claimed by pushes and not
///    yet by pops; entry `i` is filled once its pusher has stored it.
/// 2. `spine_len` only grows between resets and only under the spine lock.
///    For `k < spine_len`, entry `k` of every spine published since the
///    last reset (from the first one holding it) points to a block, written
///    before `spine_len` passed `k` (Release/Acquire). The current spine
///    holds at least `spine_len` entries.
/// 3. Blocks `head / E .. spine_len` are live: distinct, not in the pool,
///    their `popped` counts every popped slot. A block below `head / E`
///    may be retired; its spine entries are stale and never used.
/// 4. Every block ever placed in the spine is, until [`SpanSet::reset`] or
///    drop frees it, either live or in the pool: block memory stays valid
///    while the set is shared, and every non-null slot ever read holds a
///    pointer that was pushed, so a valid `&'static T`.
/// 5. A spine replaced by growth is handed to crossbeam-epoch after the new
///    one is published; readers pin before they load the spine pointer.
/// 6. At most `u32::MAX` pushes happen between resets (the process aborts
///    on index overflow rather than corrupt the set).
pub struct SpanSet<T: 'static> {
    /// `head << 32 | tail`.
    index: AtomicU64,
    spine_len: AtomicUsize,
    spine: Atomic<Spine<T>>,
    /// The spine lock: adding blocks, growing the spine, the block pool.
    grow: Mutex<Grow<T>>,
    /// The set hands `&'static T` between threads: Send and Sync need `T: Sync`.
    _items: PhantomData<&'static T>,
}

fn split(ht: u64) -> (u32, u32) {
    ((ht >> 32) as u32, ht as u32)
}

/// One more pop: adds 1 to the head half.
const HEAD_ONE: u64 = 1 << 32;

#[cold]
#[inline(never)]
fn index_overflow() -> ! {
    eprintln!("marrow: span set index overflow (more than 2^32 pushes without a reset)");
    std::process::abort()
}

impl<T: 'static> Default for SpanSet<T> {
    fn default() -> Self {
        SpanSet::new()
    }
}

impl<T: 'static> fmt::Debug for SpanSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (head, tail) = split(self.index.load(Ordering::Relaxed));
        f.debug_struct("SpanSet")
            .field("head", &head)
            .field("tail", &tail)
            .field("spine_len", &self.spine_len.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: 'static> SpanSet<T> {
    /// An empty set. Allocates nothing until the first push.
    pub fn new() -> SpanSet<T> {
        SpanSet {
            index: AtomicU64::new(0),
            spine_len: AtomicUsize::new(0),
            spine: Atomic::null(),
            grow: Mutex::new(Grow {
                cap: 0,
                pool: Vec::new(),
            }),
            _items: PhantomData,
        }
    }

    /// Adds `item` to the set.
    pub fn push(&self, item: &'static T) {
        let ht = self.index.fetch_add(1, Ordering::Relaxed);
        let i = ht as u32;
        if i == u32::MAX {
            index_overflow();
        }
        let (top, bottom) = (i as usize / BLOCK_ENTRIES, i as usize % BLOCK_ENTRIES);
        let guard = epoch::pin();
        let block = loop {
            if top < self.spine_len.load(Ordering::Acquire) {
                // SAFETY: we saw spine_len > top, and entry `i` of block
                // `top` is ours and unfilled, so no pop can retire it.
                break unsafe { self.block(top, &guard) };
            }
            self.add_blocks(top, &guard);
        };
        drop(guard);
        // SAFETY: block memory stays valid while the set is shared (invariant 4).
        let slot = unsafe { &block.as_ref().slots[bottom] };
        // Release: whoever pops the item sees everything done before the push.
        slot.store((item as *const T).cast_mut(), Ordering::Release);
    }

    /// Removes and returns some item, or None if the set is empty, or if
    /// the only items left are still being pushed (a push's index is
    /// claimed before its item is stored).
    pub fn pop(&self) -> Option<&'static T> {
        let i = self.claim_head()?;
        let (top, bottom) = (i as usize / BLOCK_ENTRIES, i as usize % BLOCK_ENTRIES);
        let guard = epoch::pin();
        // SAFETY: claim_head saw spine_len > top, and we hold entry `i` of
        // block `top` unpopped, so the block cannot be retired.
        let bp = unsafe { self.block(top, &guard) };
        drop(guard);
        // SAFETY: block memory stays valid while the set is shared (invariant 4).
        let block = unsafe { bp.as_ref() };
        let slot = &block.slots[bottom];
        let mut spins = 0;
        let p = loop {
            // Acquire: pairs with the pusher's Release store.
            let p = slot.load(Ordering::Acquire);
            if !p.is_null() {
                break p;
            }
            // Our pusher has claimed the entry but not stored yet: the window
            // is a few instructions, unless it was preempted.
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                spin();
            } else {
                yield_now();
            }
        };
        // AcqRel: the last popper sees every other popper's (and so every
        // pusher's) accesses to the block before it retires it.
        if block.popped.fetch_add(1, Ordering::AcqRel) == BLOCK_ENTRIES - 1 {
            // SAFETY: we brought `popped` to BLOCK_ENTRIES: every slot has
            // been pushed and popped, and no other pop is left in the block.
            unsafe { self.retire(bp) };
        }
        // SAFETY: every non-null slot holds a pointer pushed as `&'static T`.
        Some(unsafe { &*p })
    }

    /// Claims entry `head`: returns it, or None if the set looks empty or
    /// the head's block is not in the spine yet (its pusher is adding it).
    fn claim_head(&self) -> Option<u32> {
        let mut ht = self.index.load(Ordering::Relaxed);
        loop {
            let (head, tail) = split(ht);
            if head >= tail {
                return None;
            }
            // Acquire: the block for `head` is in the spine if this says so.
            if self.spine_len.load(Ordering::Acquire) <= head as usize / BLOCK_ENTRIES {
                return None;
            }
            match self
                .index
                .compare_exchange_weak(ht, ht + HEAD_ONE, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(head),
                Err(now) => ht = now,
            }
        }
    }

    /// The block at spine index `top` (non-null, live).
    ///
    /// # Safety
    /// This thread has seen `spine_len > top` (Acquire) since the last
    /// reset, and holds an unfilled or unpopped entry of block `top` (so it
    /// is live: invariant 3).
    unsafe fn block(&self, top: usize, guard: &Guard) -> NonNull<Block<T>> {
        let spine = self.spine.load(Ordering::Acquire, guard);
        // SAFETY: spine_len > 0, so a spine has been published (invariant
        // 2), and we are pinned, so it is not reclaimed while we read it.
        let spine = unsafe { spine.deref() };
        let b = spine.blocks[top].load(Ordering::Relaxed);
        // SAFETY: entry `top` < spine_len points to a block (invariant 2).
        unsafe { NonNull::new_unchecked(b) }
    }

    /// Places blocks in the spine for every index up to `top`, growing the
    /// spine if needed. Returns without doing anything if another push has
    /// done it meanwhile.
    #[cold]
    fn add_blocks(&self, top: usize, guard: &Guard) {
        let mut g = lock(&self.grow);
        // Changed only under the lock (or by an exclusive reset).
        let len = self.spine_len.load(Ordering::Relaxed);
        if top < len {
            return;
        }
        let mut spine = self.spine.load(Ordering::Relaxed, guard);
        if top >= g.cap {
            let cap = (top + 1).next_power_of_two().max(2 * g.cap).max(INIT_SPINE_CAP);
            let new = Spine::new(cap);
            // SAFETY: we are pinned; a non-null spine is a published one.
            if let Some(old) = unsafe { spine.as_ref() } {
                for (to, from) in new.blocks.iter().zip(&old.blocks[..len]) {
                    // Entries change only under the lock we hold.
                    to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
                }
            }
            let new = Owned::new(new).into_shared(guard);
            // Release: a reader that loads the new spine sees its entries.
            self.spine.store(new, Ordering::Release);
            if !spine.is_null() {
                // SAFETY: the old spine is unreachable for new readers; the
                // ones pinned now keep it alive until they unpin.
                unsafe { guard.defer_destroy(spine) };
            }
            g.cap = cap;
            spine = new;
        }
        // SAFETY: non-null (published above or before), and pinned.
        let blocks = unsafe { &spine.deref().blocks };
        for entry in &blocks[len..=top] {
            let b = g.pool.pop().unwrap_or_else(Block::alloc);
            // Published by the Release store of spine_len below.
            entry.store(b.as_ptr(), Ordering::Relaxed);
        }
        self.spine_len.store(top + 1, Ordering::Release);
    }

    /// Puts a fully popped block back in the pool, cleared.
    ///
    /// # Safety
    /// The caller's AcqRel increment brought the block's `popped` count to
    /// [`BLOCK_ENTRIES`]: every slot was pushed and popped, and those
    /// accesses happen before this, so no push or pop will touch the block
    /// until it is handed out again under the lock.
    #[cold]
    unsafe fn retire(&self, b: NonNull<Block<T>>) {
        // SAFETY: block memory stays valid while the set is shared (invariant 4).
        let block = unsafe { b.as_ref() };
        for s in &block.slots {
            s.store(ptr::null_mut(), Ordering::Relaxed);
        }
        block.popped.store(0, Ordering::Relaxed);
        // The lock orders the clearing before the block's next use.
        lock(&self.grow).pool.push(b);
    }

    /// Number of items: exact when no push or pop is running, otherwise a
    /// snapshot that counts claimed entries (pushes in progress included,
    /// pops in progress excluded).
    pub fn len(&self) -> usize {
        let (head, tail) = split(self.index.load(Ordering::Relaxed));
        tail.wrapping_sub(head) as usize
    }

    /// Whether [`SpanSet::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` on every item, in index order. Exact only when no push or
    /// pop runs meanwhile; racing, it is still memory-safe but may skip
    /// items, visit items popped meanwhile, or visit one twice.
    pub fn for_each(&self, mut f: impl FnMut(&'static T)) {
        let guard = epoch::pin();
        let (head, tail) = split(self.index.load(Ordering::Acquire));
        let len = self.spine_len.load(Ordering::Acquire);
        let end = (tail as usize).min(len * BLOCK_ENTRIES);
        let head = head as usize;
        if head >= end {
            return;
        }
        let spine = self.spine.load(Ordering::Acquire, &guard);
        // SAFETY: len > 0, so a spine is published and holds at least `len`
        // entries (invariant 2); we are pinned.
        let spine = unsafe { spine.deref() };
        for i in head..end {
            let b = spine.blocks[i / BLOCK_ENTRIES].load(Ordering::Relaxed);
            // SAFETY: entries below spine_len point to blocks, which stay
            // valid while the set is shared (invariants 2 and 4), even if
            // retired meanwhile.
            let p = unsafe { &*b }.slots[i % BLOCK_ENTRIES].load(Ordering::Acquire);
            // SAFETY: a non-null slot holds a pushed `&'static T` (invariant 4).
            if let Some(item) = unsafe { p.as_ref() } {
                f(item);
            }
        }
    }

    /// Empties the bookkeeping of an empty set: frees its blocks (the
    /// partly used one and the pool) and restarts the indices at 0, so the
    /// index space and the spine do not grow without bound. The spine
    /// itself is kept for reuse.
    ///
    /// # Safety
    /// No other operation on this set (push, pop, len, for_each, reset)
    /// runs during the call, and the caller's synchronisation orders every
    /// earlier operation on it before the call and every later one after
    /// it (a stop-the-world handshake, a lock, a join).
    ///
    /// # Panics
    /// If the set is not empty.
    pub unsafe fn reset(&self) {
        let (head, tail) = split(self.index.load(Ordering::Relaxed));
        assert_eq!(
            head,
            tail,
            "marrow: reset of a span set holding {} items",
            tail.wrapping_sub(head)
        );
        // SAFETY: no concurrent operation (caller).
        unsafe { self.free_blocks(head) };
        self.index.store(0, Ordering::Relaxed);
        self.spine_len.store(0, Ordering::Relaxed);
    }

    /// [`SpanSet::reset`] through an exclusive borrow, which guarantees its
    /// contract.
    ///
    /// # Panics
    /// If the set is not empty.
    pub fn reset_mut(&mut self) {
        // SAFETY: `&mut self` excludes every other operation.
        unsafe { self.reset() }
    }

    /// Frees every block: the live ones (`head / E .. spine_len`) and the
    /// pool. Leaves `spine_len` stale: the caller resets or drops the set.
    ///
    /// # Safety
    /// No other operation on this set runs during the call or uses a block
    /// afterwards, and `head` is the current head.
    unsafe fn free_blocks(&self, head: u32) {
        let len = self.spine_len.load(Ordering::Relaxed);
        let first = head as usize / BLOCK_ENTRIES;
        if first < len {
            // SAFETY: no concurrent operation, so nothing is reclaimed or
            // replaced under us.
            let spine = self.spine.load(Ordering::Relaxed, unsafe { epoch::unprotected() });
            // SAFETY: len > 0, so a spine is published with >= len entries.
            let spine = unsafe { spine.deref() };
            for entry in &spine.blocks[first..len] {
                let b = entry.swap(ptr::null_mut(), Ordering::Relaxed);
                // SAFETY: blocks first..len are live and distinct
                // (invariant 3), so each is freed once, and not in the pool.
                unsafe { Block::free(NonNull::new_unchecked(b)) };
            }
        }
        for b in lock(&self.grow).pool.drain(..) {
            // SAFETY: pooled blocks are owned by the set, each pooled once.
            unsafe { Block::free(b) };
        }
    }
}

impl<T: 'static> Drop for SpanSet<T> {
    fn drop(&mut self) {
        let (head, _) = split(self.index.load(Ordering::Relaxed));
        // SAFETY: `&mut self`: no other operation, and none afterwards.
        unsafe { self.free_blocks(head) };
        // SAFETY: no other thread can reach the set any more.
        let guard = unsafe { epoch::unprotected() };
        let spine = self.spine.swap(Shared::null(), Ordering::Relaxed, guard);
        if !spine.is_null() {
            // SAFETY: the current spine is owned by the set and unshared now.
            drop(unsafe { spine.into_owned() });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    thread_local! {
        /// Blocks this thread allocated minus those it freed.
        pub(super) static LIVE_BLOCKS: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    }
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    /// `n` distinct leaked items, valued 0..n.
    fn items(n: u32) -> &'static [u32] {
        Box::leak((0..n).collect::<Vec<_>>().into_boxed_slice())
    }

    /// Item addresses, for multiset comparison.
    fn addrs<'a>(v: impl IntoIterator<Item = &'a u32>) -> Vec<usize> {
        let mut a: Vec<usize> = v.into_iter().map(|x| x as *const u32 as usize).collect();
        a.sort_unstable();
        a
    }

    fn drain(s: &SpanSet<u32>) -> Vec<&'static u32> {
        std::iter::from_fn(|| s.pop()).collect()
    }

    #[test]
    fn empty_set() {
        let s = SpanSet::<u32>::new();
        assert_eq!(s.pop(), None);
        assert_eq!(s.len(), 0);
        assert!(s.is_empty());
        s.for_each(|_| panic!("visited an item of an empty set"));
    }

    proptest! {
        /// Any interleaving of pushes and pops: each pop returns an item
        /// pushed and not yet popped; what is left is exactly the rest.
        #[test]
        fn pops_what_was_pushed(ops in proptest::collection::vec(0u8..3, 0..3000)) {
            let its = items(ops.len() as u32);
            let s = SpanSet::new();
            let mut model: HashMap<usize, usize> = HashMap::new();
            let mut next = 0;
            for op in ops {
                if op < 2 {
                    s.push(&its[next]);
                    *model.entry(&its[next] as *const u32 as usize).or_default() += 1;
                    next += 1;
                } else if let Some(x) = s.pop() {
                    let n = model.get_mut(&(x as *const u32 as usize)).expect("popped an item not in the set");
                    *n -= 1;
                    if *n == 0 {
                        model.remove(&(x as *const u32 as usize));
                    }
                } else {
                    prop_assert!(model.is_empty(), "pop found nothing in a non-empty set");
                }
                prop_assert_eq!(s.len(), model.values().sum::<usize>());
            }
            let mut seen = vec![];
            s.for_each(|x| seen.push(x));
            let mut want: Vec<usize> = model.iter().flat_map(|(&a, &n)| std::iter::repeat_n(a, n)).collect();
            want.sort_unstable();
            prop_assert_eq!(addrs(seen), want.clone());
            prop_assert_eq!(addrs(drain(&s)), want);
            prop_assert!(s.is_empty());
        }
    }

    #[test]
    fn the_same_item_twice_is_two_entries() {
        let its = items(1);
        let s = SpanSet::new();
        s.push(&its[0]);
        s.push(&its[0]);
        assert_eq!(s.len(), 2);
        assert_eq!(drain(&s).len(), 2);
    }

    #[test]
    fn grows_over_many_blocks() {
        // Enough blocks to grow the spine twice past its first capacity.
        let n = (BLOCK_ENTRIES * INIT_SPINE_CAP * 3 + 7) as u32;
        let its = items(n);
        let s = SpanSet::new();
        for x in its {
            s.push(x);
        }
        assert_eq!(s.len(), n as usize);
        assert!(lock(&s.grow).cap >= s.spine_len.load(Ordering::Relaxed));
        let mut seen = vec![];
        s.for_each(|x| seen.push(x));
        assert_eq!(addrs(seen), addrs(its));
        // Half out, half again in (reusing retired blocks), then all out.
        let first: Vec<_> = (0..n / 2).map(|_| s.pop().unwrap()).collect();
        assert!(!lock(&s.grow).pool.is_empty(), "no block retired");
        for x in &first {
            s.push(x);
        }
        assert_eq!(addrs(drain(&s)), addrs(its));
        assert!(s.is_empty());
    }

    #[test]
    fn reset_restarts_the_indices_and_frees_blocks() {
        let its = items(3 * BLOCK_ENTRIES as u32);
        let mut s = SpanSet::new();
        for x in its {
            s.push(x);
        }
        for _ in 0..(BLOCK_ENTRIES * 3 / 2) {
            s.pop().unwrap();
        }
        let rest = drain(&s);
        assert_eq!(rest.len(), BLOCK_ENTRIES * 3 / 2);
        s.reset_mut();
        assert_eq!(s.index.load(Ordering::Relaxed), 0);
        assert_eq!(s.spine_len.load(Ordering::Relaxed), 0);
        assert!(lock(&s.grow).pool.is_empty());
        assert_eq!(s.pop(), None);
        for x in &its[..10] {
            s.push(x);
        }
        assert_eq!(s.len(), 10);
        assert_eq!(addrs(drain(&s)), addrs(&its[..10]));
        // A reset set that was never used, and one reset twice.
        s.reset_mut();
        s.reset_mut();
        SpanSet::<u32>::new().reset_mut();
    }

    #[test]
    #[should_panic(expected = "reset of a span set holding 1 items")]
    fn reset_refuses_a_non_empty_set() {
        let its = items(1);
        let mut s = SpanSet::new();
        s.push(&its[0]);
        s.reset_mut();
    }

    #[test]
    fn drop_frees_a_non_empty_set() {
        let before = LIVE_BLOCKS.with(|n| n.get());
        let its = items(5 * BLOCK_ENTRIES as u32 + 3);
        let s = SpanSet::new();
        for x in its {
            s.push(x);
        }
        for _ in 0..2 * BLOCK_ENTRIES + 1 {
            s.pop().unwrap();
        }
        // Every block this thread made is either live in the spine or
        // retired to the pool; dropping the set frees them all.
        assert!(LIVE_BLOCKS.with(|n| n.get()) >= before + 6, "the pushes made no blocks");
        drop(s);
        assert_eq!(LIVE_BLOCKS.with(|n| n.get()), before, "blocks leaked by drop");
    }

    /// 4 threads push and pop 100k items in all; each is popped exactly once.
    #[test]
    fn concurrent_push_pop_pops_each_item_once() {
        const THREADS: u32 = 4;
        const PER_THREAD: u32 = 25_000;
        let its = items(THREADS * PER_THREAD);
        let counts: &'static [AtomicU32] = Box::leak(
            (0..THREADS * PER_THREAD)
                .map(|_| AtomicU32::new(0))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let s = Arc::new(SpanSet::<u32>::new());
        let start = Arc::new(std::sync::Barrier::new(THREADS as usize));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (s, start) = (s.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mine = &its[(t * PER_THREAD) as usize..((t + 1) * PER_THREAD) as usize];
                    for (k, x) in mine.iter().enumerate() {
                        s.push(x);
                        // Pop about two for every three pushed, so the set
                        // both grows and shrinks across blocks.
                        if k % 3 != 0 {
                            if let Some(y) = s.pop() {
                                counts[*y as usize].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        // Meanwhile, walk the set: racing, this must stay memory-safe.
        let mut walks = 0;
        while !handles.iter().all(|h| h.is_finished()) && walks < 10_000 {
            s.for_each(|x| assert!((*x as usize) < counts.len()));
            walks += 1;
        }
        for h in handles {
            h.join().unwrap();
        }
        for y in drain(&s) {
            counts[*y as usize].fetch_add(1, Ordering::Relaxed);
        }
        for (i, c) in counts.iter().enumerate() {
            assert_eq!(
                c.load(Ordering::Relaxed),
                1,
                "item {i} popped {} times",
                c.load(Ordering::Relaxed)
            );
        }
        assert!(s.is_empty());
    }
}
