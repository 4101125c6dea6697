//! Weak references, ephemerons, guardians and cleanups (gc/src/weak.rs):
//! their meaning one by one, a model-based test on random graphs in every
//! GC mode with checkmark on, and several threads reading weak references
//! while concurrent marks run.

use marrow_gc::typed::{Ephemeron, GcCell, Guardian, Mutation, Obj, Root, RootVec, Trace, WeakRef};
use marrow_gc::{Gc, GcConfig, GcMode, Mutator};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Trace)]
struct Node<'gc> {
    id: u64,
    kids: [GcCell<Option<Obj<'gc, Node<'gc>>>>; 2],
}

fn node<'gc>(mc: &Mutation<'gc>, id: u64) -> Obj<'gc, Node<'gc>> {
    mc.alloc(Node {
        id,
        kids: [GcCell::new(None), GcCell::new(None)],
    })
    .unwrap()
}

fn config(mode: GcMode) -> GcConfig {
    GcConfig {
        mode,
        workers: 1,
        checkmark: true,
        min_heap: 256 << 10,
        ..GcConfig::default()
    }
}

fn setup(mode: GcMode) -> (Arc<Gc>, Mutator) {
    let gc = Gc::new(config(mode)).unwrap();
    let m = Mutator::new(&gc).unwrap();
    (gc, m)
}

#[test]
fn a_weak_reference_is_cleared_when_its_referent_dies() {
    let (gc, mut m) = setup(GcMode::StopTheWorld);
    let (weak, strong): (Root<WeakRef<Node<'static>>>, Root<Node<'static>>) = m.mutate(|mc| {
        let n = node(mc, 7);
        (mc.root(mc.alloc_weak(n).unwrap()), mc.root(n))
    });
    m.gc(&());
    assert_eq!(m.mutate(|mc| weak.get(mc).get(mc).map(|n| n.id)), Some(7));
    drop(strong);
    m.gc(&());
    assert!(m.mutate(|mc| weak.get(mc).get(mc).is_none()));
    assert_eq!(gc.last_cycle().weak.weak_cleared, 1);
    // Only the weak reference itself is left.
    assert_eq!(m.stats().heap_objects, 1);
}

#[test]
fn an_ephemeron_keeps_its_value_exactly_while_its_key_lives() {
    let (gc, mut m) = setup(GcMode::StopTheWorld);
    type E = Ephemeron<Node<'static>, Obj<'static, Node<'static>>>;
    let (eph, key): (Root<E>, Root<Node<'static>>) = m.mutate(|mc| {
        let k = node(mc, 1);
        let v = node(mc, 2);
        // The value refers back to its key: a weak-key table would leak here.
        v.kids[0].set(mc, Some(k));
        (mc.root(mc.alloc_ephemeron(k, v).unwrap()), mc.root(k))
    });
    m.gc(&());
    assert_eq!(m.mutate(|mc| eph.get(mc).value(mc).map(|v| v.id)), Some(2));
    assert_eq!(m.stats().heap_objects, 3);
    drop(key);
    m.gc(&());
    assert!(m.mutate(|mc| eph.get(mc).key(mc).is_none() && eph.get(mc).value(mc).is_none()));
    assert_eq!(gc.last_cycle().weak.ephemerons_cleared, 1);
    assert_eq!(m.stats().heap_objects, 1, "key and value are freed despite the cycle");
}

#[test]
fn a_guardian_returns_each_registration_once() {
    let (_gc, mut m) = setup(GcMode::StopTheWorld);
    let guardian: Root<Guardian<Node<'static>>> = m.mutate(|mc| {
        let g = mc.alloc_guardian().unwrap();
        let a = node(mc, 10);
        a.kids[0].set(mc, Some(node(mc, 11)));
        g.register(mc, a);
        g.register(mc, a);
        mc.root(g)
    });
    m.gc(&());
    let ids = m.mutate(|mc| {
        let g = guardian.get(mc);
        let mut ids = vec![];
        while let Some(n) = g.poll(mc) {
            // Resurrected whole: its child is alive too.
            ids.push((n.id, n.kids[0].get().map(|k| k.id)));
        }
        ids
    });
    assert_eq!(ids, vec![(10, Some(11)), (10, Some(11))]);
    m.gc(&());
    assert!(m.mutate(|mc| guardian.get(mc).poll(mc).is_none()));
    assert_eq!(m.stats().heap_objects, 1, "polled and dropped, the objects are freed");
}

#[test]
fn cleanups_run_after_death_outside_the_pause() {
    let (_gc, mut m) = setup(GcMode::StopTheWorld);
    let ran = Arc::new(AtomicUsize::new(0));
    let keep: Root<Node<'static>> = m.mutate(|mc| {
        for i in 0..3 {
            let r = ran.clone();
            mc.add_cleanup(node(mc, i), move || {
                r.fetch_add(1, Ordering::SeqCst);
            });
        }
        let kept = node(mc, 99);
        let r = ran.clone();
        mc.add_cleanup(kept, move || {
            r.fetch_add(100, Ordering::SeqCst);
        });
        mc.root(kept)
    });
    m.gc(&());
    assert_eq!(
        ran.load(Ordering::SeqCst),
        3,
        "the three dead objects' cleanups ran, once"
    );
    m.gc(&());
    assert_eq!(ran.load(Ordering::SeqCst), 3);
    drop(keep);
    m.gc(&());
    assert_eq!(ran.load(Ordering::SeqCst), 103);
    assert_eq!(m.run_cleanups(), 0);
}

/// The model of one random graph: nodes by id with two edges each, roots,
/// weak references (target), ephemerons (key, value), guarded nodes and
/// the nodes a guardian returned and the program has not polled yet.
#[derive(Default)]
struct Model {
    kids: BTreeMap<u64, [Option<u64>; 2]>,
    roots: Vec<u64>,
    weak: Vec<Option<u64>>,
    ephemerons: Vec<Option<(u64, u64)>>,
    guarded: BTreeSet<u64>,
}

impl Model {
    /// Reachable from `from`, with ephemeron values of reachable keys.
    fn reach(&self, from: impl IntoIterator<Item = u64>) -> BTreeSet<u64> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<u64> = from.into_iter().collect();
        loop {
            while let Some(n) = todo.pop() {
                if seen.insert(n) {
                    todo.extend(self.kids[&n].iter().flatten());
                }
            }
            for &(k, v) in self.ephemerons.iter().flatten() {
                if seen.contains(&k) && !seen.contains(&v) {
                    todo.push(v);
                }
            }
            if todo.is_empty() {
                return seen;
            }
        }
    }
}

/// The heap's nodes reachable from the roots by strong edges, by id.
fn strong_nodes<'gc>(roots: &[Obj<'gc, Node<'gc>>]) -> BTreeMap<u64, Obj<'gc, Node<'gc>>> {
    let mut out = BTreeMap::new();
    let mut todo: Vec<_> = roots.to_vec();
    while let Some(n) = todo.pop() {
        if out.insert(n.id, n).is_none() {
            todo.extend(n.kids.iter().filter_map(|k| k.get()));
        }
    }
    out
}

/// Random graphs with weak references, ephemerons (chains and cycles
/// through values) and a guardian, mutated over many scopes while cycles
/// run in `mode` (checkmark on); after each forced collection the heap
/// must agree with the model exactly: a weak reference is cleared exactly
/// when its referent is unreachable, an ephemeron's value is kept exactly
/// when its key is, a guarded object is returned exactly once.
fn model_in_mode(mode: GcMode, seed: u64) {
    let (gc, mut m) = setup(mode);
    let mut rng = seed;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut model = Model::default();
    let mut roots: RootVec<Obj<'static, Node<'static>>> = RootVec::new(&m);
    let mut weaks: RootVec<Obj<'static, WeakRef<Node<'static>>>> = RootVec::new(&m);
    type E = Ephemeron<Node<'static>, Obj<'static, Node<'static>>>;
    let mut ephs: RootVec<Obj<'static, E>> = RootVec::new(&m);
    let guardian: Root<Guardian<Node<'static>>> = m.mutate(|mc| mc.root(mc.alloc_guardian::<Node<'_>>().unwrap()));
    let mut next_id = 0u64;
    let mut concurrent_cycles = BTreeSet::new();
    for round in 0..40 {
        for _ in 0..50 {
            let op = next(10);
            m.mutate(|mc| {
                let rs = roots.as_mut_vec(mc);
                let live = strong_nodes(rs);
                let ids: Vec<u64> = live.keys().copied().collect();
                let pick = |r: u64| ids.get(r as usize % ids.len().max(1)).copied();
                let (a, b) = (pick(next(1 << 20)), pick(next(1 << 20)));
                match (op, a, b) {
                    (0 | 1, _, _) => {
                        let n = node(mc, next_id);
                        model.kids.insert(next_id, [None, None]);
                        model.roots.push(next_id);
                        rs.push(n);
                        next_id += 1;
                    }
                    (2 | 3, Some(a), b) => {
                        let k = next(2) as usize;
                        let b = if next(4) == 0 { None } else { b };
                        live[&a].kids[k].set(mc, b.map(|b| live[&b]));
                        model.kids.get_mut(&a).unwrap()[k] = b;
                    }
                    (4, _, _) if !rs.is_empty() => {
                        let i = next(rs.len() as u64) as usize;
                        rs.swap_remove(i);
                        model.roots.swap_remove(i);
                    }
                    (5, Some(a), _) => {
                        rs.push(live[&a]);
                        model.roots.push(a);
                    }
                    (6, Some(a), _) => {
                        weaks.as_mut_vec(mc).push(mc.alloc_weak(live[&a]).unwrap());
                        model.weak.push(Some(a));
                    }
                    (7, Some(a), Some(b)) => {
                        ephs.as_mut_vec(mc)
                            .push(mc.alloc_ephemeron(live[&a], live[&b]).unwrap());
                        model.ephemerons.push(Some((a, b)));
                    }
                    (8, Some(a), _) if model.guarded.insert(a) => {
                        guardian.get(mc).register(mc, live[&a]);
                    }
                    _ => {}
                }
                // Garbage, so that cycles run in the middle of all this.
                for i in 0..200 {
                    node(mc, u64::MAX - i);
                }
            });
            let r = gc.last_cycle();
            if r.concurrent {
                concurrent_cycles.insert(r.n);
            }
        }
        // Checkpoint: what the collector must have concluded by now.
        m.gc(&());
        let mut reach = model.reach(model.roots.iter().copied());
        let returned: BTreeSet<u64> = model.guarded.iter().copied().filter(|g| !reach.contains(g)).collect();
        reach = model.reach(reach.iter().copied().chain(returned.iter().copied()));
        let polled: BTreeSet<u64> = m.mutate(|mc| {
            let g = guardian.get(mc);
            std::iter::from_fn(|| g.poll(mc)).map(|n| n.id).collect()
        });
        assert_eq!(polled, returned, "round {round}: guardian returns");
        for g in &returned {
            model.guarded.remove(g);
        }
        m.mutate(|mc| {
            for (i, w) in weaks.as_mut_vec(mc).iter().enumerate() {
                let expect = model.weak[i].filter(|t| reach.contains(t));
                assert_eq!(w.get(mc).map(|n| n.id), expect, "round {round}: weak reference {i}");
            }
            for (i, e) in ephs.as_mut_vec(mc).iter().enumerate() {
                let expect = model.ephemerons[i].filter(|(k, _)| reach.contains(k));
                let got = e.key(mc).map(|k| k.id).zip(e.value(mc).map(|v| v.id));
                assert_eq!(got, expect, "round {round}: ephemeron {i}");
            }
        });
        // What the heap dropped, the model drops (cleared holders stay
        // empty); the polled nodes are dropped by the program, so they are
        // unreachable again.
        for w in model.weak.iter_mut() {
            *w = w.filter(|t| reach.contains(t));
        }
        for e in model.ephemerons.iter_mut() {
            *e = e.filter(|(k, _)| reach.contains(k));
        }
        let unreachable: Vec<u64> = model.kids.keys().copied().filter(|n| !reach.contains(n)).collect();
        for n in unreachable {
            model.kids.remove(&n);
        }
    }
    if mode != GcMode::StopTheWorld {
        assert!(
            !concurrent_cycles.is_empty(),
            "marking ran alongside the program in {mode:?}"
        );
    }
}

#[test]
fn model_stop_the_world() {
    model_in_mode(GcMode::StopTheWorld, 0x9E3779B97F4A7C15);
}

#[test]
fn model_incremental() {
    model_in_mode(GcMode::Incremental, 0xD1B54A32D192ED03);
}

#[test]
fn model_concurrent() {
    model_in_mode(GcMode::Concurrent, 0xA0761D6478BD642F);
}

/// Several threads keep nodes alive, hold weak references and ephemerons
/// to them, and read them while concurrent marks run: a weak reference to
/// a node its thread still roots is never cleared, and an ephemeron with a
/// rooted key always has its value.
#[test]
fn threads_read_weak_references_during_concurrent_marks() {
    let gc = Gc::new(config(GcMode::Concurrent)).unwrap();
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let gc = gc.clone();
            std::thread::spawn(move || {
                let mut m = Mutator::new(&gc).unwrap();
                let mut keep: RootVec<Obj<'static, Node<'static>>> = RootVec::new(&m);
                let mut weaks: RootVec<Obj<'static, WeakRef<Node<'static>>>> = RootVec::new(&m);
                type E = Ephemeron<Node<'static>, Obj<'static, Node<'static>>>;
                let mut ephs: RootVec<Obj<'static, E>> = RootVec::new(&m);
                let mut concurrent = 0;
                for i in 0..2000u64 {
                    m.mutate(|mc| {
                        let id = t << 32 | i;
                        let n = node(mc, id);
                        let v = node(mc, id + (1 << 31));
                        keep.as_mut_vec(mc).push(n);
                        weaks.as_mut_vec(mc).push(mc.alloc_weak(n).unwrap());
                        ephs.as_mut_vec(mc).push(mc.alloc_ephemeron(n, v).unwrap());
                        // Drop the oldest half now and then: their weak
                        // references may be cleared, the rest never.
                        if i % 500 == 499 {
                            keep.as_mut_vec(mc).drain(..250);
                        }
                        let kept: BTreeSet<u64> = keep.as_mut_vec(mc).iter().map(|n| n.id).collect();
                        for (j, w) in weaks.as_mut_vec(mc).iter().enumerate().rev().take(64) {
                            let want = t << 32 | j as u64;
                            match w.get(mc) {
                                Some(n) => assert_eq!(n.id, want),
                                None => assert!(!kept.contains(&want), "a rooted referent was cleared"),
                            }
                            let e = ephs.as_mut_vec(mc)[j];
                            if kept.contains(&want) {
                                assert_eq!(e.value(mc).map(|v| v.id), Some(want + (1 << 31)));
                            }
                        }
                        for g in 0..20 {
                            node(mc, u64::MAX - g);
                        }
                    });
                    concurrent += usize::from(m.gc_handle().is_marking());
                }
                concurrent
            })
        })
        .collect();
    let seen_marking: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(gc.last_cycle().n > 3, "cycles ran");
    assert!(seen_marking > 0, "threads ran while concurrent marks were under way");
}

/// A read of a weak reference while a mark is under way hands the program
/// an object the mark has not found (it was only weakly reachable when the
/// mark began); storing it somewhere already scanned must not let the mark
/// clear or free it. The read shades it. With checkmark on, a miss aborts.
#[test]
fn a_weak_read_during_marking_keeps_the_object() {
    let gc = Gc::new(GcConfig {
        clobber: true,
        ..config(GcMode::Incremental)
    })
    .unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    // Enough live data that an incremental mark spans many scopes.
    let big: Root<Node<'static>> = m.mutate(|mc| {
        let mut l = node(mc, 0);
        for i in 1..40_000 {
            let n = node(mc, i);
            n.kids[0].set(mc, Some(l));
            l = n;
        }
        mc.root(l)
    });
    let holder: Root<Node<'static>> = m.mutate(|mc| mc.root(node(mc, 1 << 40)));
    let mut caught_mid_mark = 0;
    for round in 0..200u64 {
        // A weakly held object, and the mark started with it weak only.
        let weak: Root<WeakRef<Node<'static>>> =
            m.mutate(|mc| mc.root(mc.alloc_weak(node(mc, 1 << 50 | round)).unwrap()));
        let mut tries = 0;
        while !gc.is_marking() && tries < 10_000 {
            m.mutate(|mc| {
                for i in 0..50 {
                    node(mc, i);
                }
            });
            tries += 1;
        }
        // Let assists scan some of the mark (the holder, a root, among the
        // first), so the store below lands in a scanned object.
        for _ in 0..3 {
            m.mutate(|mc| {
                for i in 0..300 {
                    node(mc, i);
                }
            });
        }
        let got = m.mutate(|mc| {
            let marking = gc.is_marking();
            let x = weak.get(mc).get(mc);
            // Into an object the mark has scanned (or will not rescan).
            holder.get(mc).kids[1].set(mc, x);
            marking && x.is_some()
        });
        caught_mid_mark += usize::from(got);
        // Finish the cycle; the object is now strongly held and intact.
        m.gc(&());
        m.mutate(|mc| {
            if got {
                let x = holder.get(mc).kids[1].get().expect("kept");
                assert_eq!(x.id, 1 << 50 | round);
                assert_eq!(weak.get(mc).get(mc).map(|n| n.id), Some(x.id));
            }
        });
    }
    assert!(caught_mid_mark > 10, "reads happened during marks: {caught_mid_mark}");
    drop(big);
}
