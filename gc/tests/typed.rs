//! The typed embedding API (marrow_gc::typed): layouts computed by the
//! derive, what survives a collection, deferral of collections to the end
//! of a scope, the containers, values, shared roots, and every GC mode
//! with checkmark on.

use marrow_gc::typed::{GcCell, GcVec, Mutation, Obj, Root, RootVec, SharedRoot, Str, Trace, Unpacked, Value};
use marrow_gc::{Gc, GcConfig, GcMode, Mutator};
use std::mem::offset_of;
use std::sync::Arc;

#[derive(Trace)]
struct Node<'gc> {
    value: i64,
    left: Option<Obj<'gc, Node<'gc>>>,
    flag: u8,
    right: GcCell<Option<Obj<'gc, Node<'gc>>>>,
}

#[derive(Trace)]
struct Pair<'gc>(f64, Value<'gc, Node<'gc>>);

#[derive(Trace)]
struct Plain {
    a: u32,
    b: [u16; 3],
}

#[derive(Trace)]
#[repr(u8)]
#[allow(dead_code)]
enum Shape<'gc> {
    Empty,
    Leaf(u8, Obj<'gc, Node<'gc>>),
    Branch {
        weight: f64,
        kids: [Option<Obj<'gc, Node<'gc>>>; 2],
    },
}

#[derive(Trace)]
struct Unit;

fn word(off: usize) -> u64 {
    1 << (off / 8)
}

#[test]
fn derived_masks_follow_the_fields() {
    assert_eq!(
        Node::POINTER_WORDS,
        word(offset_of!(Node, left)) | word(offset_of!(Node, right))
    );
    assert_eq!(Pair::POINTER_WORDS, word(offset_of!(Pair, 1)));
    assert_eq!(Plain::POINTER_WORDS, 0);
    assert_eq!(Unit::POINTER_WORDS, 0);
    // Each variant is the tag then its fields, laid out as a C struct:
    // Leaf's handle at 8; Branch's weight at 8, kids at 16 and 24.
    assert_eq!(Shape::POINTER_WORDS, 0b1 << 1 | 0b11 << 2);
    assert_eq!(size_of::<Shape>(), 32);
    let t = Node::heap_type();
    assert_eq!(t.size(), size_of::<Node>());
    assert_eq!(t.ptrmask(), &[Node::POINTER_WORDS]);
}

fn config(mode: GcMode) -> GcConfig {
    GcConfig {
        mode,
        workers: 1,
        gogc: Some(100),
        min_heap: 1 << 20,
        ..GcConfig::default()
    }
}

fn setup(c: GcConfig) -> (Arc<Gc>, Mutator) {
    let gc = Gc::new(c).unwrap();
    let m = Mutator::new(&gc).unwrap();
    (gc, m)
}

/// A list of `n` nodes holding 0..n, built in one scope.
fn list<'gc>(mc: &Mutation<'gc>, n: i64) -> Option<Obj<'gc, Node<'gc>>> {
    let mut l = None;
    for i in 0..n {
        l = Some(
            mc.alloc(Node {
                value: i,
                left: l,
                flag: 0,
                right: GcCell::new(None),
            })
            .unwrap(),
        );
    }
    l
}

fn sum<'gc>(mut l: Option<Obj<'gc, Node<'gc>>>) -> i64 {
    let mut s = 0;
    while let Some(n) = l {
        s += n.value;
        l = n.left;
    }
    s
}

#[test]
fn rooted_objects_survive_and_the_rest_is_freed() {
    let (_gc, mut m) = setup(config(GcMode::StopTheWorld));
    let root: Root<Node<'static>> = m.mutate(|mc| {
        list(mc, 50); // garbage once the scope ends
        mc.root(list(mc, 100).unwrap())
    });
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 100);
    assert_eq!(m.mutate(|mc| sum(Some(root.get(mc)))), 4950);
    drop(root);
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 0);
}

#[test]
fn stores_replace_what_is_reachable() {
    let (_gc, mut m) = setup(config(GcMode::StopTheWorld));
    let root = m.mutate(|mc| mc.root(list(mc, 10).unwrap()));
    m.mutate(|mc| {
        let head = root.get(mc);
        head.right.set(mc, list(mc, 5));
    });
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 15);
    m.mutate(|mc| root.get(mc).right.set(mc, None));
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 10);
}

#[test]
fn collections_wait_for_the_end_of_the_scope() {
    let mut c = config(GcMode::StopTheWorld);
    c.stress = 10; // a cycle every 10 allocations
    let (gc, mut m) = setup(c);
    let before = gc.last_cycle().n;
    let (during, yielded) = m.mutate(|mc| {
        let l = list(mc, 1000);
        // No cycle ran inside the scope, though 100 were due; all 1000
        // objects are intact.
        assert_eq!(sum(l), 999 * 1000 / 2);
        (gc.last_cycle().n, mc.should_yield())
    });
    assert_eq!(during, before);
    assert!(yielded, "the scope was told a collection is waiting");
    assert!(
        gc.last_cycle().n > before,
        "the deferred cycle ran when the scope ended"
    );
    // Unrooted, the list is gone after a full collection.
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 0);
}

#[test]
fn vectors_grow_pop_and_keep_their_elements() {
    let (_gc, mut m) = setup(config(GcMode::StopTheWorld));
    let root = m.mutate(|mc| mc.root(mc.alloc_vec::<Value<'_, Node<'_>>>().unwrap()));
    for round in 0..10 {
        m.mutate(|mc| {
            let v = root.get(mc);
            for i in 0..100 {
                let x = match i % 3 {
                    0 => Value::float(i as f64 + 0.5),
                    1 => Value::int(i).unwrap(),
                    _ => Value::obj(list(mc, 1).unwrap()),
                };
                v.push(mc, x).unwrap();
            }
            assert_eq!(v.len(), (round + 1) * 100);
        });
        m.gc(&());
    }
    m.mutate(|mc| {
        let v: Obj<'_, GcVec<Value<'_, Node<'_>>>> = root.get(mc);
        for i in 0..1000 {
            match (i % 100 % 3, v.get(i).unwrap().unpack()) {
                (0, Unpacked::Float(f)) => assert_eq!(f, (i % 100) as f64 + 0.5),
                (1, Unpacked::Int(n)) => assert_eq!(n, (i % 100) as i64),
                (2, Unpacked::Obj(o)) => assert_eq!(o.value, 0),
                (k, x) => panic!("element {i} (kind {k}) is {x:?}"),
            }
        }
        assert!(v.get(1000).is_none());
        assert!(v.set(mc, 1000, Value::NIL).is_err());
        v.truncate(mc, 10);
        assert_eq!(v.len(), 10);
    });
    m.gc(&());
    // The vector, its buffer and the 3 objects among the first 10 elements.
    assert_eq!(m.stats().heap_objects, 2 + 3);
}

#[test]
fn values_encode_every_kind() {
    let (_gc, mut m) = setup(config(GcMode::StopTheWorld));
    m.mutate(|mc| {
        type V<'gc> = Value<'gc, Node<'gc>>;
        for f in [
            0.0,
            -0.0,
            1.5,
            -2.25,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            5e-324,
        ] {
            let v = V::float(f);
            assert!(v.is_float() && !v.is_obj() && v.as_int().is_none());
            assert_eq!(v.as_float().unwrap().to_bits(), f.to_bits());
        }
        let nan = V::float(f64::NAN).as_float().unwrap();
        assert!(nan.is_nan() && nan.is_sign_positive());
        let neg = V::float(-f64::NAN).as_float().unwrap();
        assert!(neg.is_nan() && neg.is_sign_negative(), "a NaN keeps its sign");
        // Every NaN payload, of either sign, stays a float.
        for bits in [0xFFFF_FFFF_FFFF_FFFFu64, 0x7FFF_FFFF_FFFF_FFFF, 0xFFF0_0000_0000_0001] {
            let v = V::float(f64::from_bits(bits));
            assert!(v.is_float() && v.as_int().is_none() && !v.is_obj());
        }
        for i in [0, 1, -1, marrow_gc::typed::MAX_INT, marrow_gc::typed::MIN_INT] {
            let v = V::int(i).unwrap();
            assert_eq!(v.as_int(), Some(i));
            assert!(!v.is_float() && !v.is_obj());
        }
        assert!(V::int(marrow_gc::typed::MAX_INT + 1).is_none());
        assert!(V::NIL.is_nil() && !V::NIL.is_obj());
        assert_eq!(V::bool(true).as_bool(), Some(true));
        assert_eq!(V::bool(false).as_bool(), Some(false));
        assert!(V::bool(false).as_float().is_none());
        let o = list(mc, 1).unwrap();
        let v = V::obj(o);
        assert!(v.is_obj() && !v.is_float());
        assert!(Obj::ptr_eq(v.as_obj().unwrap(), o));
    });
}

#[test]
fn strings_and_bytes() {
    let (_gc, mut m) = setup(config(GcMode::StopTheWorld));
    let root: Root<Str> = m.mutate(|mc| mc.root(mc.alloc_str("hello, heap").unwrap()));
    m.gc(&());
    m.mutate(|mc| {
        assert_eq!(root.get(mc).as_str(), "hello, heap");
        let b = mc.alloc_bytes(&[1, 2, 3]).unwrap();
        assert_eq!(b.as_bytes(), &[1, 2, 3]);
        assert_eq!(mc.alloc_str("").unwrap().as_str(), "");
        let u = mc.alloc(Unit).unwrap();
        let u2 = mc.alloc(Unit).unwrap();
        assert_ne!(u.addr(), u2.addr());
    });
}

#[test]
fn root_vectors_are_roots() {
    let (_gc, mut m) = setup(config(GcMode::StopTheWorld));
    let mut stack: RootVec<Value<'static, Node<'static>>> = RootVec::new(&m);
    m.mutate(|mc| {
        let s = stack.as_mut_vec(mc);
        for i in 0..20 {
            s.push(Value::obj(list(mc, 2).unwrap()));
            s.push(Value::int(i).unwrap());
        }
    });
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 40);
    m.mutate(|mc| {
        let s = stack.as_mut_vec(mc);
        s.truncate(10);
        let total: i64 = s.iter().filter_map(|v| v.as_obj()).map(|o| sum(Some(o))).sum();
        assert_eq!(total, 5);
    });
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 10);
    drop(stack);
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 0);
}

#[test]
fn shared_roots_hand_objects_to_other_threads() {
    let (gc, mut m) = setup(config(GcMode::Concurrent));
    let shared: SharedRoot<Node<'static>> = m.mutate(|mc| SharedRoot::new(mc, list(mc, 1000).unwrap()));
    let gc2 = gc.clone();
    let t = std::thread::spawn(move || {
        let mut m2 = Mutator::new(&gc2).unwrap();
        let mut total = 0;
        for _ in 0..20 {
            total += m2.mutate(|mc| {
                list(mc, 500); // garbage, to make cycles run
                sum(Some(shared.get(mc)))
            });
        }
        total
    });
    // This thread collects meanwhile; the shared list must survive.
    let total = m.in_safe_region(&(), || t.join().unwrap());
    assert_eq!(total, 20 * 999 * 1000 / 2);
    m.gc(&());
    assert_eq!(
        m.stats().heap_objects,
        0,
        "the shared root was dropped with the thread's closure"
    );
}

#[test]
#[should_panic(expected = "another mutator")]
fn a_root_of_another_mutator_is_refused() {
    let (_g1, mut m1) = setup(config(GcMode::StopTheWorld));
    let (_g2, mut m2) = setup(config(GcMode::StopTheWorld));
    let r = m1.mutate(|mc| mc.root(list(mc, 1).unwrap()));
    m2.mutate(|mc| {
        r.get(mc);
    });
}

/// Random mutation of a graph over many scopes, in `mode`, with checkmark
/// on: a chain of cells reachable only from one root, each holding a
/// payload list in a `GcCell`; payloads are swapped between cells and
/// replaced. A swap is the case the write barrier exists for (a payload
/// moves from a cell the marker has not scanned to one it has), so a
/// store that skipped it would let the collector free a payload, and
/// checkmark would abort. The payloads read back equal a model kept in
/// Rust, and the mode's marking really ran.
fn graph_in_mode(mode: GcMode) {
    let mut c = config(mode);
    c.checkmark = true;
    c.min_heap = 256 << 10;
    let (gc, mut m) = setup(c);
    let mut rng = 0x9E3779B97F4A7C15u64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    // Enough live data (about 3 MB) that a mark spans many scopes.
    const CELLS: usize = 4096;
    // The model: the length of each cell's payload list.
    let mut model: Vec<i64> = (0..CELLS).map(|_| next(40) as i64).collect();
    let mut cells: RootVec<Obj<'static, Node<'static>>> = RootVec::new(&m);
    m.mutate(|mc| {
        let v = cells.as_mut_vec(mc);
        for (i, &len) in model.iter().enumerate() {
            let cell = Node {
                value: i as i64,
                left: None,
                flag: 0,
                right: GcCell::new(list(mc, len)),
            };
            v.push(mc.alloc(cell).unwrap());
        }
    });
    let mut cycles = std::collections::BTreeMap::new();
    for _ in 0..20_000 {
        let (a, b) = (next(CELLS), next(CELLS));
        let replace = next(8) == 0;
        let len = next(40) as i64;
        m.mutate(|mc| {
            let v = cells.as_mut_vec(mc);
            let (ca, cb) = (v[a], v[b]);
            if replace {
                ca.right.set(mc, list(mc, len));
            } else {
                let (x, y) = (ca.right.get(), cb.right.get());
                ca.right.set(mc, y);
                cb.right.set(mc, x);
            }
            list(mc, 20); // garbage, so that cycles start and assists run
        });
        if replace {
            model[a] = len;
        } else {
            model.swap(a, b);
        }
        let r = gc.last_cycle();
        cycles.insert(r.n, r.concurrent);
    }
    m.gc(&());
    m.mutate(|mc| {
        let v = cells.as_mut_vec(mc);
        for (i, &len) in model.iter().enumerate() {
            assert_eq!(sum(v[i].right.get()), len * (len - 1) / 2, "cell {i}");
        }
    });
    let concurrent = cycles.values().filter(|&&c| c).count();
    assert!(cycles.len() > 3, "collections ran: {cycles:?}");
    match mode {
        GcMode::StopTheWorld => assert_eq!(concurrent, 0),
        _ => assert!(concurrent > 0, "marking ran alongside the scopes in {mode:?}"),
    }
}

#[test]
fn graph_stop_the_world() {
    graph_in_mode(GcMode::StopTheWorld);
}

#[test]
fn graph_incremental() {
    graph_in_mode(GcMode::Incremental);
}

#[test]
fn graph_concurrent() {
    graph_in_mode(GcMode::Concurrent);
}
