//! Property tests for the marrow-runtime allocator.
//!
//! Random sequences of allocations (raw `mallocgc`, `newobject`, `newarray`,
//! typed `mallocgc`; 1 byte to 100 KiB; scan, NOSCAN and NOZERO; two caches
//! on one heap) and simulated collections (mark a random subset of the live
//! objects, `begin_sweep`, then sweep everything at once or leave it to lazy
//! sweeping) are run against a model of what must be live. After every step
//! the checks are: live objects never overlap; alignment (8, the size
//! class's natural alignment, the type's); fresh memory is zero; every live
//! object still holds its own byte pattern; `find_object` maps the bytes of
//! every live object to its base and answers None for freed slots, free
//! slots, tail waste and addresses outside the arena; the GC bitmap's
//! pointer bits equal the type's mask (repeated for arrays); `MemStats`
//! invariants and object/byte counts; and the heap's own invariants.

use marrow_runtime::sizeclass::{size_to_class, CLASSES, MAX_SMALL_SIZE, PAGE_SIZE};
use marrow_runtime::{AllocFlags, Heap, HeapConfig, MCache, Type, TINY_SIZE};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ptr::NonNull;
use std::sync::Arc;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// Largest object the tests ask for.
const MAX_SIZE: usize = 100 << 10;
/// Objects up to this size are checked byte by byte after every step;
/// larger ones are sampled (first, last, page edges and random bytes).
const EVERY_BYTE_MAX: usize = 4 << 10;
/// One allocation op repeats its request at most this many bytes' worth.
const BATCH_BYTES: usize = 512 << 10;
/// Number of caches allocating from the one heap.
const CACHES: usize = 2;

// ---------------------------------------------------------------------------
// Operations

/// A type descriptor to build with `Type::new`.
#[derive(Clone, Debug)]
struct TypeSpec {
    size: usize,
    align: usize,
    ptr_words: Vec<usize>,
}

impl TypeSpec {
    fn build(&self) -> Type {
        let offsets: Vec<usize> = self.ptr_words.iter().map(|w| w * 8).collect();
        Type::new("t", self.size, self.align, &offsets).expect("generated types are valid")
    }
}

/// How a typed object is allocated.
#[derive(Clone, Debug)]
enum How {
    /// `newobject(t)`.
    NewObject,
    /// `newarray(t, n)`.
    NewArray(usize),
    /// `mallocgc(n * t.size, Some(t), flags)`.
    Malloc(usize, u8),
}

#[derive(Clone, Debug)]
enum Op {
    /// `mallocgc(size, None, flags)`, `repeat` times.
    Raw {
        size: usize,
        flags: u8,
        cache: usize,
        repeat: usize,
    },
    /// A typed allocation, `repeat` times.
    Typed {
        ty: TypeSpec,
        how: How,
        cache: usize,
        repeat: usize,
    },
    /// A simulated collection: each live object survives with probability
    /// `keep / 256`; `lazy` leaves the sweeping to the allocation path.
    Collect { seed: u64, keep: u32, lazy: bool },
}

fn flags_of(f: u8) -> AllocFlags {
    let mut r = AllocFlags::NONE;
    if f & 1 != 0 {
        r = r | AllocFlags::NOSCAN;
    }
    if f & 2 != 0 {
        r = r | AllocFlags::NOZERO;
    }
    r
}

/// Sizes from 1 byte to 100 KiB, weighted towards small objects, with the
/// interesting edges: 16 (first non-tiny no-scan size), 32768 (largest small
/// object), 32769 (smallest large one), and every size class edge.
fn size_strategy() -> impl Strategy<Value = usize> {
    let class_edge = (1..CLASSES.len(), -1isize..=1).prop_map(|(c, d)| (CLASSES[c].size as isize + d).max(1) as usize);
    prop_oneof![
        3 => 1usize..16,
        1 => Just(16usize),
        1 => Just(32768usize),
        1 => Just(32769usize),
        4 => 1usize..=256,
        3 => 1usize..=1024,
        2 => class_edge,
        2 => 1025usize..=MAX_SMALL_SIZE,
        1 => (MAX_SMALL_SIZE + 1)..=MAX_SIZE,
    ]
}

fn type_strategy() -> impl Strategy<Value = TypeSpec> {
    let words = prop_oneof![4 => 1usize..=4, 3 => 1usize..=16, 2 => 17usize..=160];
    let align = prop::sample::select(vec![1usize, 2, 4, 8, 8, 8, 8, 16, 32, 64, 512, 4096, 8192]);
    (words, align)
        .prop_flat_map(|(words, align)| {
            (
                Just(words),
                Just(align),
                prop::collection::vec(0..words, 0..6),
                prop::bool::weighted(0.2),
                0usize..8,
            )
        })
        .prop_map(|(words, align, mut ptrs, dense, trim)| {
            if dense {
                ptrs = (0..words).collect();
            }
            ptrs.sort_unstable();
            ptrs.dedup();
            // Pointer-free types need not be a whole number of words.
            let size = if ptrs.is_empty() {
                words * 8 - trim.min(words * 8 - 1)
            } else {
                words * 8
            };
            TypeSpec {
                size,
                align,
                ptr_words: ptrs,
            }
        })
}

fn repeat_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(1usize), 2 => 1usize..=70, 1 => 1usize..=600]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let raw =
        (size_strategy(), 0u8..4, 0..CACHES, repeat_strategy()).prop_map(|(size, flags, cache, repeat)| Op::Raw {
            size,
            flags,
            cache,
            repeat,
        });
    let how = prop_oneof![
        2 => Just(How::NewObject),
        1 => (1usize..=64).prop_map(How::NewArray),
        1 => (1usize..=64, 0u8..4).prop_map(|(n, f)| How::Malloc(n, f)),
    ];
    let typed = (type_strategy(), how, 0..CACHES, repeat_strategy()).prop_map(|(ty, how, cache, repeat)| Op::Typed {
        ty,
        how,
        cache,
        repeat,
    });
    let keep = prop::sample::select(vec![0u32, 64, 128, 192, 250, 256]);
    let collect = (any::<u64>(), keep, any::<bool>()).prop_map(|(seed, keep, lazy)| Op::Collect { seed, keep, lazy });
    prop_oneof![5 => raw, 4 => typed, 1 => collect]
}

// ---------------------------------------------------------------------------
// The model

/// A live object.
#[derive(Clone, Debug)]
struct Obj {
    id: u64,
    addr: usize,
    /// Bytes the caller asked for.
    size: usize,
    /// The slot `find_object` reports: the object itself, or the 16-byte
    /// block holding a tiny object.
    slot: usize,
    tiny: bool,
    noscan: bool,
    /// For scan objects: the type and the number of elements.
    scan: Option<(Arc<Type>, usize)>,
}

/// An allocated slot of the heap (what `find_object` knows about).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    size: usize,
    noscan: bool,
    /// Live model objects in it (more than one only for tiny blocks).
    objects: usize,
}

/// One allocation request.
struct Req {
    size: usize,
    align: usize,
    noscan: bool,
    nozero: bool,
    scan: Option<(Arc<Type>, usize)>,
}

struct World {
    heap: Arc<Heap>,
    caches: Vec<MCache>,
    /// Live objects by address.
    live: BTreeMap<usize, Obj>,
    /// Allocated slots by base.
    slots: BTreeMap<usize, Slot>,
    /// Slots that died in a lazy collection: allocated until their span is
    /// swept. Removed when reallocated.
    limbo: BTreeMap<usize, usize>,
    /// Addresses in slots that were freed and have not been reallocated since.
    freed: BTreeSet<usize>,
    next_id: u64,
    rng: Rng,
}

/// The pattern byte `i` of object `id` holds.
#[inline]
fn pat(id: u64, i: usize) -> u8 {
    (id as u8).wrapping_mul(37) ^ (i as u8) ^ ((i >> 8) as u8).wrapping_mul(11) ^ 0x5a
}

fn bytes<'a>(addr: usize, len: usize) -> &'a [u8] {
    // SAFETY: callers pass live objects of the heap under test (or parts of
    // them), which stay mapped while the world holds the heap.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len) }
}

/// Natural alignment of a slot: the largest power of two dividing its size, capped at a page.
fn natural_align(slot_size: usize) -> usize {
    (1usize << slot_size.trailing_zeros()).min(PAGE_SIZE)
}

/// Alignment the tiny allocator gives a `size`-byte object (Go's rule).
fn tiny_align(size: usize) -> usize {
    if size & 7 == 0 {
        8
    } else if size & 3 == 0 {
        4
    } else if size & 1 == 0 {
        2
    } else {
        1
    }
}

/// The smallest size class that holds `size`, found by scanning the table
/// (independent of the lookup tables under test).
fn smallest_class(size: usize) -> usize {
    CLASSES[1..].iter().find(|c| c.size >= size).expect("small size").size
}

impl World {
    fn new(clobber: bool) -> World {
        let config = HeapConfig {
            clobber_free: clobber.then_some(0xAB),
            ..HeapConfig::default()
        };
        let heap = Heap::new(config).expect("heap");
        let caches = (0..CACHES).map(|_| heap.new_cache()).collect();
        World {
            heap,
            caches,
            live: BTreeMap::new(),
            slots: BTreeMap::new(),
            limbo: BTreeMap::new(),
            freed: BTreeSet::new(),
            next_id: 1,
            rng: Rng(0x2545_f491_4f6c_dd1d),
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Raw {
                size,
                flags,
                cache,
                repeat,
            } => {
                let f = flags_of(*flags);
                for _ in 0..batch(*repeat, *size) {
                    let p = self.caches[*cache]
                        .try_mallocgc(*size, None, f)
                        .unwrap_or_else(|e| panic!("mallocgc({size}, None, {f:?}): {e}"));
                    let req = Req {
                        size: *size,
                        align: 1,
                        noscan: true,
                        nozero: f.contains(AllocFlags::NOZERO),
                        scan: None,
                    };
                    self.record(p, req);
                }
            }
            Op::Typed { ty, how, cache, repeat } => {
                let t = Arc::new(ty.build());
                let (n, f) = match *how {
                    How::NewObject => (1, AllocFlags::NONE),
                    How::NewArray(n) | How::Malloc(n, _) => {
                        // Keep arrays within MAX_SIZE.
                        (1 + (n - 1) % (MAX_SIZE / t.size()).max(1), AllocFlags::NONE)
                    }
                };
                let f = match *how {
                    How::Malloc(_, fl) => flags_of(fl),
                    _ => f,
                };
                let size = n * t.size();
                let noscan = f.contains(AllocFlags::NOSCAN) || !t.has_pointers();
                for _ in 0..batch(*repeat, size) {
                    let c = &mut self.caches[*cache];
                    let r = match *how {
                        How::NewObject => c.try_newobject(&t),
                        How::NewArray(_) => c.try_newarray(&t, n),
                        How::Malloc(..) => c.try_mallocgc(size, Some(&t), f),
                    };
                    let p = r.unwrap_or_else(|e| panic!("{how:?} of {ty:?} x{n}: {e}"));
                    let req = Req {
                        size,
                        align: t.align(),
                        noscan,
                        nozero: f.contains(AllocFlags::NOZERO),
                        scan: (!noscan).then(|| (t.clone(), n)),
                    };
                    self.record(p, req);
                }
            }
            Op::Collect { seed, keep, lazy } => self.collect(*seed, *keep, *lazy),
        }
    }

    /// Checks a fresh allocation and adds it to the model.
    fn record(&mut self, p: NonNull<u8>, req: Req) {
        let addr = p.as_ptr() as usize;
        let size = req.size;
        let tiny = req.noscan && size < TINY_SIZE && req.align <= 8;
        let info = self
            .heap
            .find_object(addr)
            .unwrap_or_else(|| panic!("new object at {addr:#x} ({size} bytes) not found"));
        assert_eq!(info.noscan, req.noscan, "noscan of new {size}-byte object");
        if tiny {
            assert_eq!(info.size, TINY_SIZE, "tiny object's block");
            assert!(addr + size <= info.base + TINY_SIZE, "tiny object crosses its block");
            assert_eq!(addr % tiny_align(size), 0, "tiny object of {size} bytes at {addr:#x}");
        } else {
            assert_eq!(info.base, addr, "object does not start its slot");
            assert!(info.size >= size, "slot of {} bytes for {size}", info.size);
            if info.size > MAX_SMALL_SIZE {
                assert_eq!(info.size % PAGE_SIZE, 0, "large object slot");
                if req.align <= 8 {
                    assert_eq!(info.size, size.next_multiple_of(PAGE_SIZE), "large object of {size}");
                }
            } else if req.align <= 8 {
                assert_eq!(info.size, smallest_class(size), "size class of {size}");
            }
            assert_eq!(addr % 8, 0, "object of {size} bytes at {addr:#x}");
            assert_eq!(addr % natural_align(info.size), 0, "slot of {} at {addr:#x}", info.size);
        }
        assert_eq!(addr % req.align, 0, "type alignment {} at {addr:#x}", req.align);
        if !(req.noscan && req.nozero) {
            let b = bytes(addr, size);
            if let Some(i) = b.iter().position(|&x| x != 0) {
                panic!("fresh {size}-byte object at {addr:#x} has byte {i} = {:#x}", b[i]);
            }
        }
        // Its slot is no longer freed (or dying).
        let slot_end = info.base + info.size;
        let again: Vec<usize> = self.freed.range(info.base..slot_end).copied().collect();
        for a in again {
            self.freed.remove(&a);
        }
        let dying: Vec<usize> = self.limbo.range(info.base..slot_end).map(|(&b, _)| b).collect();
        for b in dying {
            self.limbo.remove(&b);
        }
        match self.slots.get_mut(&info.base) {
            Some(s) => {
                assert!(tiny, "slot at {:#x} handed out twice", info.base);
                assert_eq!(s.size, TINY_SIZE);
                s.objects += 1;
            }
            None => {
                self.slots.insert(
                    info.base,
                    Slot {
                        size: info.size,
                        noscan: info.noscan,
                        objects: 1,
                    },
                );
            }
        }
        // No overlap with the neighbours.
        if let Some((&pa, po)) = self.live.range(..addr).next_back() {
            assert!(pa + po.size <= addr, "{addr:#x} overlaps object at {pa:#x}");
        }
        if let Some((&na, _)) = self.live.range(addr..).next() {
            assert!(addr + size <= na, "{addr:#x}+{size} overlaps object at {na:#x}");
        }
        let id = self.next_id;
        self.next_id += 1;
        // SAFETY: the object was just allocated with `size` bytes.
        let dst = unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, size) };
        for (i, b) in dst.iter_mut().enumerate() {
            *b = pat(id, i);
        }
        let o = Obj {
            id,
            addr,
            size,
            slot: info.base,
            tiny,
            noscan: req.noscan,
            scan: req.scan,
        };
        // Every byte of a new object, up to the largest small object.
        self.check_lookup(&o, MAX_SMALL_SIZE);
        self.check_bits(&o);
        self.live.insert(addr, o);
    }

    /// A simulated collection.
    fn collect(&mut self, seed: u64, keep: u32, lazy: bool) {
        for c in &mut self.caches {
            c.release_all();
        }
        // The previous cycle must be finished before a new one starts.
        self.finish_sweep();
        let mut rng = Rng::new(seed);
        let ids: Vec<usize> = self.live.keys().copied().collect();
        for a in ids {
            if (rng.next() % 256) as u32 >= keep {
                let o = self.live.remove(&a).expect("live");
                let s = self.slots.get_mut(&o.slot).expect("slot of a live object");
                s.objects -= 1;
            }
        }
        let dead: Vec<(usize, Slot)> = self
            .slots
            .iter()
            .filter(|(_, s)| s.objects == 0)
            .map(|(&b, &s)| (b, s))
            .collect();
        for (b, _) in &dead {
            self.slots.remove(b);
        }
        let bm = self.heap.bitmap();
        for &b in self.slots.keys() {
            assert!(bm.try_mark(b), "slot {b:#x} already marked");
        }
        // SAFETY: every slot the model keeps is marked, and nothing is
        // allocated until the sweep starts.
        unsafe { self.heap.begin_sweep(0.0) };
        if lazy {
            self.limbo.extend(dead.iter().map(|&(b, s)| (b, s.size)));
        } else {
            let r = self.heap.sweep_all();
            assert_eq!(r.objects_freed, dead.len(), "objects freed by the sweep");
            assert_eq!(r.bytes_freed, dead.iter().map(|(_, s)| s.size).sum::<usize>());
            for (b, s) in dead {
                self.add_freed(b, s.size);
            }
            for &b in self.slots.keys() {
                assert!(
                    !self.heap.bitmap().is_marked(b),
                    "mark bit of {b:#x} survived the sweep"
                );
            }
        }
    }

    /// Sweeps whatever a lazy collection left; dead slots become freed.
    fn finish_sweep(&mut self) {
        let unswept = self.limbo.keys().filter(|&&b| self.unswept(b)).count();
        let r = self.heap.sweep_all();
        assert_eq!(r.objects_freed, unswept, "objects freed by finishing the sweep");
        let limbo = std::mem::take(&mut self.limbo);
        for (b, size) in limbo {
            self.add_freed(b, size);
        }
    }

    /// Records sample addresses of a freed slot, except those a live slot
    /// covers (a slot that died lazily may have been swept and reused).
    fn add_freed(&mut self, base: usize, size: usize) {
        let r = self.rng.next() as usize % size;
        for a in [base, base + size - 1, base + r] {
            let covered = self.slots.range(..=a).next_back().is_some_and(|(&b, s)| a < b + s.size);
            if !covered {
                self.freed.insert(a);
            }
        }
    }

    /// Whether the slot at `b` lies in a span not yet swept this cycle.
    fn unswept(&self, b: usize) -> bool {
        self.heap
            .span_of(b)
            .is_some_and(|s| s.sweepgen() == self.heap.sweepgen().wrapping_sub(2))
    }

    /// `find_object` for the bytes of `o`: every byte if the object has at
    /// most `every_max` bytes, else first, last, page edges and random ones.
    fn check_lookup(&mut self, o: &Obj, every_max: usize) {
        let slot = self.slots[&o.slot];
        let heap = self.heap.clone();
        let check = |a: usize| {
            let info = heap.find_object(a);
            match info {
                Some(i) if i.base == o.slot && i.size == slot.size && i.noscan == o.noscan => {}
                _ => panic!(
                    "find_object({a:#x}) = {info:?}; object {} at {:#x}+{} in slot {:#x}",
                    o.id, o.addr, o.size, o.slot
                ),
            }
        };
        if o.size <= every_max {
            (o.addr..o.addr + o.size).for_each(check);
        } else {
            check(o.addr);
            check(o.addr + o.size - 1);
            let mut p = (o.addr + PAGE_SIZE) & !(PAGE_SIZE - 1);
            while p < o.addr + o.size {
                check(p - 1);
                check(p);
                p += PAGE_SIZE;
            }
            for _ in 0..16 {
                check(o.addr + self.rng.next() as usize % o.size);
            }
        }
        // The whole slot, padding included, belongs to the object.
        check(o.slot + slot.size - 1);
    }

    /// The object still holds its pattern.
    fn check_pattern(&mut self, o: &Obj, every: bool) {
        let b = bytes(o.addr, o.size);
        let bad = |i: usize| {
            panic!(
                "object {} at {:#x} ({} bytes) corrupted: byte {i} is {:#x}, not {:#x}",
                o.id,
                o.addr,
                o.size,
                b[i],
                pat(o.id, i)
            )
        };
        let check = |from: usize, to: usize| {
            if let Some(i) = (from..to).find(|&i| b[i] != pat(o.id, i)) {
                bad(i);
            }
        };
        if o.size <= EVERY_BYTE_MAX || every {
            check(0, o.size);
        } else {
            // First and last 256 bytes, and 8 random windows of 256.
            check(0, 256);
            check(o.size - 256, o.size);
            for _ in 0..8 {
                let start = self.rng.next() as usize % (o.size - 256);
                check(start, start + 256);
            }
        }
    }

    /// The pointer bits of a scan object are its type's mask, repeated per
    /// element, and nothing else in its slot.
    fn check_bits(&self, o: &Obj) {
        let Some((t, n)) = &o.scan else { return };
        let info = self.heap.find_object(o.addr).expect("a live object is found");
        assert_eq!(info.size, self.slots[&o.slot].size);
        let mut got = Vec::new();
        self.heap.for_each_pointer_slot(&info, |a| got.push((a - o.addr) / 8));
        let ew = t.size() / 8;
        let want: Vec<usize> = (0..n * ew)
            .filter(|&w| {
                t.ptrmask()
                    .get((w % ew) / 64)
                    .is_some_and(|m| m >> ((w % ew) % 64) & 1 != 0)
            })
            .collect();
        assert_eq!(
            got,
            want,
            "pointer bits of object {} ({} x {:?}, slot {})",
            o.id,
            n,
            t.ptrmask(),
            info.size
        );
    }

    /// Everything the module docs promise, after every step.
    fn check(&mut self, thorough: bool) {
        let heap = self.heap.clone();
        // Live objects do not overlap; slots do not overlap.
        let mut end = 0;
        for (&a, o) in &self.live {
            assert!(a >= end, "object at {a:#x} overlaps the previous one");
            end = a + o.size;
        }
        let mut end = 0;
        for (&b, s) in &self.slots {
            assert!(b >= end, "slot at {b:#x} overlaps the previous one");
            end = b + s.size;
        }
        // Patterns, lookups and pointer bits of every live object.
        let objs: Vec<Obj> = self.live.values().cloned().collect();
        for o in &objs {
            if o.tiny {
                assert_eq!(
                    self.slots[&o.slot].size, TINY_SIZE,
                    "tiny object {} outside a tiny block",
                    o.id
                );
            }
            self.check_pattern(o, thorough);
            self.check_lookup(o, EVERY_BYTE_MAX);
            self.check_bits(o);
        }
        // Freed slots that were not reallocated are not objects.
        for &a in &self.freed {
            assert_eq!(heap.find_object(a), None, "freed address {a:#x}");
        }
        // Slots that died in a lazy collection are objects until swept.
        for &b in self.limbo.keys() {
            assert_eq!(
                heap.find_object(b).is_some(),
                self.unswept(b),
                "dying slot {b:#x}: found, yet swept (or the reverse)"
            );
        }
        // Every slot of every span holding objects, and its tail waste.
        let mut spans = BTreeMap::new();
        for &b in self.slots.keys() {
            let s = heap.span_of(b).expect("live slot has a span");
            spans.insert(s.base(), (s.elemsize(), s.nelems(), s.end()));
        }
        for (&base, &(elemsize, nelems, end)) in &spans {
            for i in 0..nelems {
                let a = base + i * elemsize;
                let want = self.slots.contains_key(&a) || (self.limbo.contains_key(&a) && self.unswept(a));
                let got = heap.find_object(a + elemsize - 1);
                assert_eq!(
                    got.is_some(),
                    want,
                    "slot {i} of span {base:#x} ({elemsize} bytes): {got:?}"
                );
            }
            let tail = base + nelems * elemsize;
            if tail < end {
                for a in [tail, tail + (end - tail) / 2, end - 1] {
                    assert_eq!(heap.find_object(a), None, "tail waste at {a:#x} of span {base:#x}");
                }
            }
        }
        // Outside the arena.
        let local = 0u64;
        let boxed = Box::new(0u64);
        let outside = [
            0,
            8,
            usize::MAX,
            heap.arena_base() - 1,
            heap.arena_base() - PAGE_SIZE,
            heap.arena_base() + heap.arena_size(),
            heap.arena_base() + heap.arena_mapped(),
            &local as *const u64 as usize,
            &*boxed as *const u64 as usize,
        ];
        for a in outside {
            assert_eq!(heap.find_object(a), None, "address {a:#x} outside the heap's objects");
        }
        // Stats: the counts the model predicts.
        for c in &mut self.caches {
            c.flush_stats();
        }
        let st = heap.mem_stats();
        st.check().unwrap_or_else(|e| panic!("MemStats: {e}\n{st:?}"));
        let unswept: Vec<usize> = self
            .limbo
            .iter()
            .filter(|(&b, _)| self.unswept(b))
            .map(|(_, &s)| s)
            .collect();
        let objects = self.slots.len() + unswept.len();
        let bytes_alloc: usize = self.slots.values().map(|s| s.size).sum::<usize>() + unswept.iter().sum::<usize>();
        assert_eq!(st.heap_objects, objects as u64, "HeapObjects\n{st:?}");
        assert_eq!(st.heap_alloc, bytes_alloc as u64, "HeapAlloc\n{st:?}");
        heap.check_invariants();
    }
}

/// How many times to repeat a request of `size` bytes.
fn batch(repeat: usize, size: usize) -> usize {
    repeat.min((BATCH_BYTES / size.max(1)).max(1))
}

fn run(ops: &[Op], clobber: bool) {
    let mut w = World::new(clobber);
    for op in ops {
        w.apply(op);
        w.check(false);
    }
    w.check(true);
    // Everything dies: the heap gives back every span.
    w.collect(1, 0, false);
    w.check(true);
    let st = w.heap.mem_stats();
    assert_eq!(st.heap_objects, 0);
    assert_eq!(st.heap_inuse, 0, "{st:?}");
}

/// `cases` per property (a few seconds in the dev profile), unless
/// PROPTEST_CASES asks for more or fewer.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        max_shrink_iters: 4000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Mixed sizes, types and flags, with collections in between.
    #[test]
    fn random_allocations_and_collections(
        ops in prop::collection::vec(op_strategy(), 1..60),
        clobber in prop::bool::weighted(0.25),
    ) {
        run(&ops, clobber);
    }

    /// Few sizes, many objects each: spans fill, refill at 64-object
    /// boundaries, and survive collections with nearly every object marked.
    #[test]
    fn dense_small_objects(
        sizes in prop::collection::vec(prop_oneof![1usize..=256, Just(8usize), Just(16), Just(128)], 1..4),
        steps in prop::collection::vec((0usize..4, 0u8..4, 0..CACHES, 1usize..1100, any::<u64>(), 0u32..8), 1..24),
    ) {
        let mut ops = Vec::new();
        for (k, flags, cache, repeat, seed, c) in steps {
            ops.push(Op::Raw { size: sizes[k % sizes.len()], flags, cache, repeat });
            if c < 3 {
                let keep = [255, 250, 128][c as usize];
                ops.push(Op::Collect { seed, keep, lazy: c == 2 });
            }
        }
        run(&ops, false);
    }
}

// ---------------------------------------------------------------------------
// Targeted cases (found by the properties above, kept as plain tests).

/// Allocates objects of type `t` until one span of its class is full;
/// returns the span's objects in order.
fn fill_one_span(c: &mut MCache, t: &Type) -> Vec<usize> {
    let heap = c.heap().clone();
    let first = c.newobject(t).as_ptr() as usize;
    let s = heap.span_of(first).expect("span");
    let (base, nelems, es) = (s.base(), s.nelems(), s.elemsize());
    assert_eq!(first, base, "a fresh heap starts the class at a span's first object");
    let mut objs = vec![first];
    for _ in 1..nelems {
        objs.push(c.newobject(t).as_ptr() as usize);
    }
    assert_eq!(objs, (0..nelems).map(|i| base + i * es).collect::<Vec<_>>());
    objs
}

/// A span whose only free object is the last of a 64-object word (here the
/// last object of the span) must hand it out, then report itself full.
/// (The fast path once shifted the alloc cache by 64 here.)
#[test]
fn last_free_object_of_an_alloc_cache_word() {
    for size in [8, 16, 32, 64, 128] {
        let heap = Heap::new(HeapConfig::default()).unwrap();
        let mut c = heap.new_cache();
        let t = Type::new("words", size, 8, &[0]).unwrap();
        let objs = fill_one_span(&mut c, &t);
        let n = objs.len();
        assert_eq!(n % 64, 0);
        c.release_all();
        for &a in &objs[..n - 1] {
            heap.bitmap().try_mark(a);
        }
        // SAFETY: every object the test still uses is marked.
        unsafe { heap.begin_sweep(0.0) };
        assert_eq!(heap.sweep_all().objects_freed, 1);
        let p = c.newobject(&t).as_ptr() as usize;
        assert_eq!(p, objs[n - 1], "size {size}: the one free object is reused");
        // The next one comes from a new span.
        let q = c.newobject(&t).as_ptr() as usize;
        assert!(!objs.contains(&q));
        assert_eq!(heap.find_object(p).map(|i| i.base), Some(p));
        assert_eq!(heap.find_object(q).map(|i| i.base), Some(q));
        heap.check_invariants();
    }
}

/// Over-aligned types: the pointer mask covers the elements asked for, not
/// the padding that alignment adds to the slot.
#[test]
fn over_aligned_types_get_pointer_bits_for_their_elements_only() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    let t = Type::new("aligned", 16, 32, &[0]).unwrap();
    let p = c.newobject(&t).as_ptr() as usize;
    assert_eq!(p % 32, 0);
    let mut got = vec![];
    heap.for_each_pointer_slot(&heap.find_object(p).unwrap(), |a| got.push((a - p) / 8));
    assert_eq!(got, vec![0], "one element: one pointer slot");
    let t = Type::new("page-aligned", 512, 512, &[0]).unwrap();
    let p = c.newarray(&t, 5).as_ptr() as usize;
    assert_eq!(p % 512, 0);
    let mut got = vec![];
    heap.for_each_pointer_slot(&heap.find_object(p).unwrap(), |a| got.push((a - p) / 8));
    assert_eq!(got, vec![0, 64, 128, 192, 256], "five elements: five pointer slots");
}

/// Tiny objects of a pointer-free type get the type's alignment, even when
/// the size alone would allow less (the tiny allocator aligns by size).
#[test]
fn tiny_objects_honour_the_type_alignment() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    let odd = Type::noscan("odd", 1, 1).unwrap();
    for (size, align) in [(7, 2), (7, 8), (5, 4), (3, 2), (12, 8), (1, 8)] {
        let t = Type::noscan("t", size, align).unwrap();
        c.newobject(&odd);
        let p = c.newobject(&t).as_ptr() as usize;
        assert_eq!(p % align, 0, "{size}-byte type aligned to {align} at {p:#x}");
        let info = heap.find_object(p).unwrap();
        assert_eq!(info.size, TINY_SIZE);
        assert!(p + size <= info.base + TINY_SIZE);
    }
}

/// Exactly 16, 32768 and 32769 bytes, scan and no-scan, land where they should.
#[test]
fn size_edges() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    let word = Type::new("word", 8, 8, &[0]).unwrap();
    for (size, slot) in [(16, 16), (32768, 32768), (32769, 40960)] {
        for typ in [None, Some(&word)] {
            let p = c.mallocgc(size, typ, AllocFlags::NONE).as_ptr() as usize;
            let info = heap.find_object(p + size - 1).unwrap();
            assert_eq!((info.base, info.size, info.noscan), (p, slot, typ.is_none()));
        }
    }
    assert_eq!(CLASSES[size_to_class(16) as usize].size, 16);
    // 15 no-scan bytes are tiny: they share a 16-byte block.
    let a = c.mallocgc(15, None, AllocFlags::NOSCAN).as_ptr() as usize;
    assert_eq!(heap.find_object(a).unwrap().size, TINY_SIZE);
    let b = c.mallocgc(1, None, AllocFlags::NOSCAN).as_ptr() as usize;
    assert_eq!(b, a + 15);
}

/// The pointer slots of the object at `p`, as word indexes.
fn pointer_words(heap: &Heap, p: usize) -> Vec<usize> {
    let info = heap.find_object(p).expect("a live object");
    let mut got = vec![];
    heap.for_each_pointer_slot(&info, |a| got.push((a - p) / 8));
    got
}

/// A span filled with one type keeps that type's mask on the span: its
/// objects report it, and the GC bitmap's pointer plane for the span is
/// never written (its pages are never touched).
#[test]
fn a_span_of_one_type_keeps_its_layout_off_the_bitmap() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    let node = Type::new("node", 16, 8, &[0, 8]).unwrap();
    let objs = fill_one_span(&mut c, &node);
    for &p in &objs {
        assert_eq!(heap.span_of(p).unwrap().ptr_layout(), 0b11);
        assert_eq!(pointer_words(&heap, p), vec![0, 1]);
        assert!(!heap.bitmap().is_pointer_slot(p) && !heap.bitmap().is_pointer_slot(p + 8));
    }
    // The next span of the class takes the layout too.
    let q = c.newobject(&node).as_ptr() as usize;
    assert_eq!(heap.span_of(q).unwrap().ptr_layout(), 0b11);
    heap.check_invariants();
}

/// Another type (or an array) in a span with a layout writes the layout
/// out into the bitmap for every slot first: old and new objects keep
/// their own pointer words, whichever path allocates them.
#[test]
fn a_second_type_writes_the_span_layout_out() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    let car = Type::new("car", 16, 8, &[0]).unwrap();
    let cdr = Type::new("cdr", 16, 8, &[8]).unwrap();
    let word = Type::new("word", 8, 8, &[0]).unwrap();
    let a: Vec<usize> = (0..100).map(|_| c.newobject(&car).as_ptr() as usize).collect();
    assert_eq!(heap.span_of(a[0]).unwrap().ptr_layout(), 0b01);
    let b: Vec<usize> = (0..100).map(|_| c.newobject(&cdr).as_ptr() as usize).collect();
    // Two 8-byte words: an array in the same 16-byte class.
    let arr = c.newarray(&word, 2).as_ptr() as usize;
    let a2: Vec<usize> = (0..100).map(|_| c.newobject(&car).as_ptr() as usize).collect();
    assert_eq!(
        heap.span_of(a[0]).map(|s| s.base()),
        heap.span_of(b[0]).map(|s| s.base())
    );
    assert_eq!(heap.span_of(b[0]).unwrap().ptr_layout(), 0, "the layout was dropped");
    for &p in a.iter().chain(&a2) {
        assert_eq!(pointer_words(&heap, p), vec![0], "car at {p:#x}");
    }
    for &p in &b {
        assert_eq!(pointer_words(&heap, p), vec![1], "cdr at {p:#x}");
    }
    assert_eq!(pointer_words(&heap, arr), vec![0, 1]);
    heap.check_invariants();
}

/// A span taken back from the central lists after a sweep keeps the
/// layout of its survivors; a cache that brings another type writes it out.
#[test]
fn survivors_keep_their_layout_across_a_sweep() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    let node = Type::new("node", 16, 8, &[0, 8]).unwrap();
    let car = Type::new("car", 16, 8, &[0]).unwrap();
    let objs = fill_one_span(&mut c, &node);
    c.release_all();
    let kept: Vec<usize> = objs.iter().copied().step_by(3).collect();
    for &p in &kept {
        heap.bitmap().try_mark(p);
    }
    // SAFETY: every object the test still uses is marked.
    unsafe { heap.begin_sweep(0.0) };
    heap.sweep_all();
    let p = c.newobject(&car).as_ptr() as usize;
    assert!(objs.contains(&p), "the swept span is reused");
    assert_eq!(pointer_words(&heap, p), vec![0]);
    for &k in &kept {
        assert_eq!(pointer_words(&heap, k), vec![0, 1], "survivor at {k:#x}");
    }
    heap.check_invariants();
}

/// A span whose first object is an array takes no layout; objects of one
/// type that follow get their bits prefilled when the alloc cache is
/// refilled, including the object that triggered the refill.
#[test]
fn a_span_started_by_an_array_prefills_later_objects() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    let word = Type::new("word", 8, 8, &[0]).unwrap();
    let car = Type::new("car", 16, 8, &[0]).unwrap();
    let arr = c.newarray(&word, 2).as_ptr() as usize;
    let cars: Vec<usize> = (0..300).map(|_| c.newobject(&car).as_ptr() as usize).collect();
    assert_eq!(heap.span_of(arr).unwrap().ptr_layout(), 0);
    assert_eq!(pointer_words(&heap, arr), vec![0, 1]);
    for &p in &cars {
        assert_eq!(pointer_words(&heap, p), vec![0], "car at {p:#x}");
    }
    heap.check_invariants();
}
