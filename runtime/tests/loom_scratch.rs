#![cfg(loom)]
use loom::thread;
use marrow_runtime::spanset::SpanSet;
use marrow_runtime::sync::Arc;

fn leak<T>(v: T) -> &'static T { Box::leak(Box::new(v)) }

#[test]
fn s1_push_vs_pop() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        let a = { let set = set.clone(); thread::spawn(move || set.push(&items[0])) };
        let got = set.pop().map(|x| *x);
        a.join().unwrap();
        let mut all: Vec<u32> = got.into_iter().collect();
        while let Some(x) = set.pop() { all.push(*x) }
        assert_eq!(all, [1]);
    });
}

#[test]
fn s2_push_vs_push() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        let a = { let set = set.clone(); thread::spawn(move || set.push(&items[0])) };
        set.push(&items[1]);
        a.join().unwrap();
        let mut all = vec![];
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2]);
    });
}

#[test]
fn s3_retire_vs_grow() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        set.push(&items[0]);
        set.push(&items[1]);
        let a = { let set = set.clone(); thread::spawn(move || set.push(&items[2])) };
        let mut all = vec![];
        for _ in 0..2 { if let Some(x) = set.pop() { all.push(*x) } }
        a.join().unwrap();
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2, 3]);
    });
}

#[test]
fn s4_two_pushers_main_pops() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        let a = { let set = set.clone(); thread::spawn(move || { set.push(&items[0]); set.push(&items[1]); }) };
        let b = { let set = set.clone(); thread::spawn(move || set.push(&items[2])) };
        let mut all = vec![];
        for _ in 0..2 { if let Some(x) = set.pop() { all.push(*x) } }
        a.join().unwrap();
        b.join().unwrap();
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2, 3]);
    });
}

#[test]
fn s5_prepush_grow_vs_retire() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        set.push(&items[0]);
        let a = { let set = set.clone(); thread::spawn(move || { set.push(&items[1]); set.push(&items[2]); }) };
        let mut all = vec![];
        for _ in 0..2 { if let Some(x) = set.pop() { all.push(*x) } }
        a.join().unwrap();
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2, 3]);
    });
}

#[test]
fn s6_one_pusher_one_popper_three() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        let a = { let set = set.clone(); thread::spawn(move || { for x in items { set.push(x) } }) };
        let mut all = vec![];
        for _ in 0..2 { if let Some(x) = set.pop() { all.push(*x) } }
        a.join().unwrap();
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2, 3]);
    });
}

#[test]
fn s7_prepush_two_pushers_main_pops_two() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        set.push(&items[0]);
        let a = { let set = set.clone(); thread::spawn(move || set.push(&items[1])) };
        let b = { let set = set.clone(); thread::spawn(move || set.push(&items[2])) };
        let mut all = vec![];
        for _ in 0..2 { if let Some(x) = set.pop() { all.push(*x) } }
        a.join().unwrap();
        b.join().unwrap();
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2, 3]);
    });
}

#[test]
fn s8_prepush_two_pushers_main_pops_one() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        set.push(&items[0]);
        let a = { let set = set.clone(); thread::spawn(move || set.push(&items[1])) };
        let b = { let set = set.clone(); thread::spawn(move || set.push(&items[2])) };
        let mut all = vec![];
        if let Some(x) = set.pop() { all.push(*x) }
        a.join().unwrap();
        b.join().unwrap();
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2, 3]);
    });
}

#[test]
fn s9_epoch_only_three_threads() {
    use marrow_runtime::sync::epoch;
    loom::model(|| {
        drop(epoch::pin());
        let a = thread::spawn(move || drop(epoch::pin()));
        let b = thread::spawn(move || drop(epoch::pin()));
        drop(epoch::pin());
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn s10_epoch_only_two_threads() {
    use marrow_runtime::sync::epoch;
    loom::model(|| {
        drop(epoch::pin());
        let a = thread::spawn(move || drop(epoch::pin()));
        drop(epoch::pin());
        a.join().unwrap();
    });
}

fn wait(flag: &marrow_runtime::sync::AtomicBool) {
    while !flag.load(marrow_runtime::sync::Ordering::Acquire) { thread::yield_now() }
}

#[test]
fn s12_epoch_serialized_lifecycle() {
    use marrow_runtime::sync::{epoch, AtomicBool, Ordering};
    loom::model(|| {
        drop(epoch::pin());
        let flags: Arc<[AtomicBool; 4]> = Arc::new(std::array::from_fn(|_| AtomicBool::new(false)));
        // 0: a registered, 1: b registered... 2: a may exit, 3: b may exit
        let f = flags.clone();
        let a = thread::spawn(move || { drop(epoch::pin()); f[0].store(true, Ordering::Release); drop(epoch::pin()); wait(&f[2]); });
        wait(&flags[0]);
        let f = flags.clone();
        let b = thread::spawn(move || { drop(epoch::pin()); f[1].store(true, Ordering::Release); drop(epoch::pin()); wait(&f[3]); });
        drop(epoch::pin());
        flags[2].store(true, Ordering::Release);
        a.join().unwrap();
        flags[3].store(true, Ordering::Release);
        b.join().unwrap();
    });
}

struct Worker<R> { h: thread::JoinHandle<R>, may_exit: Arc<marrow_runtime::sync::AtomicBool> }
fn spawn_registered<R: 'static>(f: impl FnOnce() -> R + 'static) -> Worker<R> {
    use marrow_runtime::sync::{epoch, AtomicBool, Ordering};
    let registered = Arc::new(AtomicBool::new(false));
    let may_exit = Arc::new(AtomicBool::new(false));
    let (r2, m2) = (registered.clone(), may_exit.clone());
    let h = thread::spawn(move || {
        drop(epoch::pin());
        r2.store(true, Ordering::Release);
        let r = f();
        wait(&m2);
        r
    });
    wait(&registered);
    Worker { h, may_exit }
}
impl<R> Worker<R> {
    fn join(self) -> R {
        self.may_exit.store(true, marrow_runtime::sync::Ordering::Release);
        self.h.join().unwrap()
    }
}

#[test]
fn s13_gated_prepush_two_pushers_main_pops_two() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        set.push(&items[0]);
        let a = { let set = set.clone(); spawn_registered(move || set.push(&items[1])) };
        let b = { let set = set.clone(); spawn_registered(move || set.push(&items[2])) };
        let mut all = vec![];
        for _ in 0..2 { if let Some(x) = set.pop() { all.push(*x) } }
        a.join();
        b.join();
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2, 3]);
    });
}

#[test]
fn s14_gated_two_pushers_main_pops_two() {
    loom::model(|| {
        let items = leak([1u32, 2, 3]);
        let set = Arc::new(SpanSet::<u32>::new());
        drop(marrow_runtime::sync::epoch::pin());
        let a = { let set = set.clone(); spawn_registered(move || { set.push(&items[0]); set.push(&items[1]); }) };
        let b = { let set = set.clone(); spawn_registered(move || set.push(&items[2])) };
        let mut all = vec![];
        for _ in 0..2 { if let Some(x) = set.pop() { all.push(*x) } }
        a.join();
        b.join();
        while let Some(x) = set.pop() { all.push(*x) }
        all.sort();
        assert_eq!(all, [1, 2, 3]);
    });
}
