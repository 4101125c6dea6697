//! Model-based test of the collector: random object graphs (scan and
//! no-scan, small and large, interior pointers, tagged immediates in pointer
//! slots) mutated at random with collections in between. A model of the graph
//! says what is reachable; after every explicit collection every reachable
//! object must be intact (its identity checksum and every slot as the model
//! says) and every unreachable one reclaimed (HeapObjects equals the model's
//! reachable count, and `find_object` no longer finds it).

use marrow_gc::runtime::{AllocFlags, TagRule, Type};
use marrow_gc::{Gc, GcConfig, GcMode, Mutator};
use std::collections::HashMap;
use std::ptr::NonNull;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// What a pointer slot holds, in the model.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Null,
    /// A pointer to object `id`, `offset` bytes in (an interior pointer when > 0).
    Ptr(usize, usize),
    /// A tagged immediate (low bit 1).
    Imm(u64),
}

#[derive(Debug)]
struct Obj {
    addr: usize,
    words: usize,
    scan: bool,
    /// Pointer slots (words 1..) of scan objects.
    slots: Vec<Slot>,
}

/// The identity word stored in word 0 of every object: odd, so the tag rule
/// makes it an immediate even in a pointer slot.
fn identity(id: usize) -> usize {
    ((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize) | 1
}

/// The fill of word `k` of a no-scan object: some words look exactly like
/// pointers to other objects, which must not keep them alive.
fn noscan_word(id: usize, k: usize, decoy: usize) -> usize {
    if k.is_multiple_of(3) {
        decoy
    } else {
        identity(id).rotate_left(k as u32)
    }
}

struct World {
    rng: Rng,
    m: Mutator,
    objs: HashMap<usize, Obj>,
    next_id: usize,
    /// Root words, as the VM would hold them (possibly interior or immediate).
    roots: Vec<usize>,
    /// The model's view of each root.
    root_model: Vec<Slot>,
    types: Vec<Type>,
    /// The last collector cycle seen by [`World::observe`].
    seen_cycle: u32,
    /// Cycles seen whose marking ran alongside this mutator (triggered by
    /// the pacer in incremental or concurrent mode), and all cycles seen.
    concurrent_cycles: u32,
    cycles: u32,
}

impl World {
    fn new(seed: u64, config: GcConfig) -> World {
        let gc = Gc::new(config).unwrap();
        let m = Mutator::new(&gc).unwrap();
        // Scan types: every word a pointer slot, of various sizes.
        let types = [16usize, 24, 48, 128, 512, 4096, 40 << 10, 200 << 10]
            .iter()
            .map(|&size| {
                let offs: Vec<usize> = (0..size / 8).map(|k| k * 8).collect();
                Type::new("node", size, 8, &offs).unwrap()
            })
            .collect();
        World {
            rng: Rng(seed * 0x1234_5678_9ABC + 1),
            m,
            objs: HashMap::new(),
            next_id: 0,
            roots: Vec::new(),
            root_model: Vec::new(),
            types,
            seen_cycle: 0,
            concurrent_cycles: 0,
            cycles: 0,
        }
    }

    /// Notes the collector's latest cycle, if it is new: whether its
    /// marking ran concurrently with the mutations.
    fn observe(&mut self) {
        let last = self.m.gc_handle().last_cycle();
        if last.n != self.seen_cycle {
            self.seen_cycle = last.n;
            self.cycles += 1;
            if last.concurrent {
                self.concurrent_cycles += 1;
            }
        }
    }

    fn encode(&self, s: Slot) -> usize {
        match s {
            Slot::Null => 0,
            Slot::Ptr(id, off) => self.objs[&id].addr + off,
            Slot::Imm(v) => (v as usize) << 1 | 1,
        }
    }

    fn random_target(&mut self) -> Slot {
        let reachable = self.reachable();
        if reachable.is_empty() || self.rng.chance(15) {
            return if self.rng.chance(50) {
                Slot::Null
            } else {
                Slot::Imm(self.rng.below(1 << 40))
            };
        }
        let id = reachable[self.rng.below(reachable.len() as u64) as usize];
        let words = self.objs[&id].words;
        // Interior pointers at any even offset inside the object.
        let off = if self.rng.chance(30) {
            (self.rng.below((words * 8) as u64) as usize) & !1
        } else {
            0
        };
        Slot::Ptr(id, off)
    }

    fn alloc(&mut self) {
        let scan = self.rng.chance(70);
        let big = self.rng.chance(3);
        let id = self.next_id;
        self.next_id += 1;
        let roots = self.roots.clone();
        let (p, words) = if scan {
            let t = if big {
                &self.types[6 + self.rng.below(2) as usize]
            } else {
                &self.types[self.rng.below(6) as usize]
            };
            let words = t.size() / 8;
            let t = t.clone();
            (self.m.alloc(&t, &roots).unwrap(), words)
        } else {
            let size = if big {
                (33 << 10) + self.rng.below(100 << 10) as usize
            } else {
                16 + self.rng.below(2000) as usize
            };
            let words = size / 8;
            (self.m.mallocgc(size, None, AllocFlags::NOSCAN, &roots).unwrap(), words)
        };
        let addr = p.as_ptr() as usize;
        // Fresh memory is zeroed.
        for k in 0..words.min(64) {
            // SAFETY: the object has `words` words.
            let w = unsafe { (addr as *const usize).add(k).read() };
            assert_eq!(w, 0, "fresh object not zeroed");
        }
        // SAFETY: word 0 of a fresh object.
        unsafe { (addr as *mut usize).write(identity(id)) };
        let mut obj = Obj {
            addr,
            words,
            scan,
            slots: Vec::new(),
        };
        if !scan {
            let decoy = self.roots.first().copied().unwrap_or(0);
            for k in 1..words {
                // SAFETY: inside the new object.
                unsafe { (addr as *mut usize).add(k).write(noscan_word(id, k, decoy)) };
            }
            obj.slots = vec![Slot::Imm(decoy as u64)]; // remember the decoy
        } else {
            obj.slots = vec![Slot::Null; words - 1];
        }
        self.objs.insert(id, obj);
        // Make it reachable at once: a root, or a slot of a reachable scan object.
        let holders: Vec<usize> = self
            .reachable()
            .into_iter()
            .filter(|i| self.objs[i].scan && *i != id)
            .collect();
        if holders.is_empty() || self.rng.chance(40) {
            let off = if self.rng.chance(20) { 8 } else { 0 };
            self.roots.push(addr + off);
            self.root_model.push(Slot::Ptr(id, off));
        } else {
            let h = holders[self.rng.below(holders.len() as u64) as usize];
            let k = self.rng.below((self.objs[&h].words - 1) as u64) as usize;
            self.set_slot(h, k, Slot::Ptr(id, 0));
        }
    }

    fn set_slot(&mut self, holder: usize, k: usize, s: Slot) {
        let word = self.encode(s);
        let addr = self.objs[&holder].addr;
        // SAFETY: `holder` is a live scan object with more than k+1 words.
        unsafe { self.m.write_ptr(NonNull::new(addr as *mut u8).unwrap(), k + 1, word) };
        self.objs.get_mut(&holder).unwrap().slots[k] = s;
    }

    fn mutate(&mut self) {
        let scans: Vec<usize> = self.reachable().into_iter().filter(|i| self.objs[i].scan).collect();
        if scans.is_empty() {
            return;
        }
        let h = scans[self.rng.below(scans.len() as u64) as usize];
        let k = self.rng.below((self.objs[&h].words - 1) as u64) as usize;
        let t = self.random_target();
        self.set_slot(h, k, t);
    }

    fn drop_root(&mut self) {
        if !self.roots.is_empty() {
            let i = self.rng.below(self.roots.len() as u64) as usize;
            self.roots.swap_remove(i);
            self.root_model.swap_remove(i);
        }
    }

    fn reachable(&self) -> Vec<usize> {
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<usize> = self
            .root_model
            .iter()
            .filter_map(|s| if let Slot::Ptr(id, _) = s { Some(*id) } else { None })
            .collect();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let o = &self.objs[&id];
            if o.scan {
                for s in &o.slots {
                    if let Slot::Ptr(t, _) = s {
                        stack.push(*t);
                    }
                }
            }
        }
        let mut v: Vec<usize> = seen.into_iter().collect();
        v.sort_unstable();
        v
    }

    /// Collects, then checks the heap against the model.
    fn collect_and_check(&mut self) {
        let roots = self.roots.clone();
        self.m.gc(&roots);
        let reachable = self.reachable();
        let gc = self.m.gc_handle().clone();
        let heap = gc.heap();
        for &id in &reachable {
            let o = &self.objs[&id];
            let w = |k: usize| {
                // SAFETY: a reachable object survives collection intact.
                unsafe { (o.addr as *const usize).add(k).read() }
            };
            assert_eq!(w(0), identity(id), "object {id} lost its identity");
            let info = heap
                .find_object(o.addr + o.words * 8 - 1)
                .expect("reachable object found");
            assert_eq!(info.base, o.addr);
            if o.scan {
                for (k, s) in o.slots.iter().enumerate() {
                    assert_eq!(w(k + 1), self.encode(*s), "object {id} slot {k} changed");
                }
            } else {
                let Slot::Imm(decoy) = o.slots[0] else { unreachable!() };
                for k in 1..o.words {
                    assert_eq!(
                        w(k),
                        noscan_word(id, k, decoy as usize),
                        "noscan object {id} word {k} changed"
                    );
                }
            }
        }
        // An unreachable object's address is free now, unless an automatic
        // collection freed it earlier and a newer, reachable object took it.
        let live_bases: std::collections::HashSet<usize> = reachable.iter().map(|id| self.objs[id].addr).collect();
        let dead: Vec<usize> = self
            .objs
            .keys()
            .filter(|i| reachable.binary_search(i).is_err())
            .copied()
            .collect();
        for id in dead {
            let o = self.objs.remove(&id).unwrap();
            if let Some(info) = heap.find_object(o.addr) {
                assert!(
                    live_bases.contains(&info.base),
                    "unreachable object {id} was not reclaimed"
                );
            }
        }
        let stats = self.m.stats();
        stats.check().unwrap();
        assert_eq!(stats.heap_objects as usize, reachable.len(), "HeapObjects vs model");
        heap.check_invariants();
    }
}

/// In incremental and concurrent mode some of the cycles the pacer started
/// must have marked while the model mutated the graph (the explicit
/// collections are stop-the-world, so without that the barrier would go
/// untested); in stop-the-world mode none may have.
fn assert_marked_as_configured(w: &World, mode: GcMode) {
    if mode == GcMode::StopTheWorld {
        assert_eq!(w.concurrent_cycles, 0, "a stop-the-world heap marked concurrently");
    } else {
        assert!(
            w.concurrent_cycles > 0,
            "{mode:?}: none of the {} cycles seen marked concurrently",
            w.cycles
        );
    }
}

fn run(seed: u64, steps: usize, config: GcConfig) {
    let mode = config.mode;
    let mut w = World::new(seed, config);
    for step in 0..steps {
        match w.rng.below(100) {
            0..=49 => w.alloc(),
            50..=79 => w.mutate(),
            80..=95 => w.drop_root(),
            _ => w.collect_and_check(),
        }
        w.observe();
        if step % 500 == 499 {
            w.collect_and_check();
        }
    }
    assert_marked_as_configured(&w, mode);
    w.collect_and_check();
    // Dropping every root reclaims everything.
    w.roots.clear();
    w.root_model.clear();
    w.collect_and_check();
    assert_eq!(w.m.stats().heap_objects, 0);
}

/// The modes every model test runs in: the mutations between explicit
/// collections run while triggered (incremental, concurrent) cycles mark,
/// through the write barrier.
const MODES: [GcMode; 3] = [GcMode::StopTheWorld, GcMode::Incremental, GcMode::Concurrent];

fn checked_config(mode: GcMode) -> GcConfig {
    let mut c = GcConfig {
        checkmark: true,
        clobber: true,
        mode,
        ..GcConfig::default()
    };
    c.heap.tag_rule = TagRule::low_bits(1, 0);
    c.heap.arena_size = 1 << 30;
    // A small heap goal, so the pacer starts cycles between the explicit
    // (stop-the-world) ones and the model's mutations run during their
    // marks in incremental and concurrent mode.
    c.min_heap = 64 << 10;
    c.gogc = Some(10);
    c
}

#[test]
fn model_with_checkmark_and_clobber() {
    for mode in MODES {
        for seed in 1..=8 {
            run(seed, 3000, checked_config(mode));
        }
    }
}

#[test]
fn model_under_gc_stress() {
    for mode in MODES {
        let mut c = checked_config(mode);
        c.stress = 7;
        for seed in 10..=12 {
            run(seed, 800, c.clone());
        }
    }
}

#[test]
fn model_with_tiny_heap_goal_triggers_collections() {
    // A small minimum heap makes the pacer trigger collections on its own
    // between the explicit ones, and mutations run during their marks.
    for mode in MODES {
        let c = checked_config(mode);
        let mut w = World::new(99, c);
        for _ in 0..3000 {
            w.alloc();
            w.mutate();
            if w.rng.chance(30) {
                w.drop_root();
            }
            w.observe();
        }
        assert!(w.m.stats().num_gc > 0, "the pacer never triggered");
        assert_marked_as_configured(&w, mode);
        w.collect_and_check();
    }
}
