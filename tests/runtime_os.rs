//! The OS memory layer's effects, observed from outside the allocator:
//! released pages leave RSS (`mincore`, `/proc/self/smaps`), MADV_FREE
//! release, faulted and reserved ranges really fault (in a child process),
//! a low `RLIMIT_AS` makes the heap fall back to a smaller arena or fail
//! with a clear error (in a child process), several heaps live side by side
//! in one process, and dropping a heap unmaps its reservation.
//!
//! Tests that crash on purpose or change process-wide limits re-run this
//! test binary filtered to themselves, with `CHILD_ENV` naming the test;
//! the child runs the body, the parent checks how it ended.

use marrow_runtime::mem::{os_page_size, MemAccounting, MemState, Purpose, ReleaseMode, Reservation};
use marrow_runtime::{AllocFlags, Heap, HeapConfig, HeapError, MCache, Type};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::sync::{Arc, Barrier, Mutex};

const CHILD_ENV: &str = "MARROW_OS_TEST_CHILD";
const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;

/// In the parent: runs test `name` alone in a child process and returns
/// how it ended. In that child: runs `body` and returns None.
fn isolated(name: &str, body: impl FnOnce()) -> Option<Output> {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        body();
        return None;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .output()
        .expect("run the test binary");
    Some(out)
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Pages of `[addr, addr + len)` resident in memory, by `mincore`.
fn resident_pages(addr: usize, len: usize) -> usize {
    let ps = os_page_size();
    let mut vec = vec![0u8; len.div_ceil(ps)];
    // SAFETY: the range is page aligned and mapped (callers pass mapped
    // ranges of their reservations); `vec` has one byte per page.
    let r = unsafe { libc::mincore(addr as *mut libc::c_void, len, vec.as_mut_ptr()) };
    assert_eq!(r, 0, "mincore: {}", std::io::Error::last_os_error());
    vec.iter().filter(|&&b| b & 1 != 0).count()
}

/// The `/proc/self/smaps` fields (in kB) of the mapping holding `addr`.
fn smaps_fields(addr: usize) -> Vec<(String, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
    let mut inside = false;
    let mut fields = Vec::new();
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
                if inside {
                    break;
                }
                inside = lo <= addr && addr < hi;
                continue;
            }
        }
        if inside {
            if let Some((k, v)) = line.split_once(':') {
                if let Some(kb) = v.trim().strip_suffix(" kB") {
                    fields.push((k.to_string(), kb.trim().parse().unwrap_or(0)));
                }
            }
        }
    }
    assert!(!fields.is_empty(), "no mapping holds {addr:#x}");
    fields
}

fn smaps_kb(addr: usize, field: &str) -> u64 {
    smaps_fields(addr)
        .into_iter()
        .find(|(k, _)| k == field)
        .map_or(0, |(_, v)| v)
}

/// Whether any line of `/proc/self/maps` overlaps `[lo, hi)`.
fn mapped_in_maps(lo: usize, hi: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines().any(|line| {
        let range = line.split_whitespace().next().unwrap_or("");
        let Some((a, b)) = range.split_once('-') else {
            return false;
        };
        let a = usize::from_str_radix(a, 16).unwrap_or(0);
        let b = usize::from_str_radix(b, 16).unwrap_or(0);
        a < hi && lo < b
    })
}

/// A reservation of 128 OS pages with pages 32..96 Ready and touched. The
/// Ready part sits between Reserved pages, so its mapping never merges with
/// a neighbour's and smaps describes it alone.
fn touched_reservation(acct: &Arc<MemAccounting>) -> (Reservation, usize, usize) {
    let ps = os_page_size();
    let mut r = Reservation::new(128 * ps, acct.clone()).unwrap();
    let (off, len) = (32 * ps, 64 * ps);
    r.map(off, len, Purpose::Heap).unwrap();
    r.used(off, len, Purpose::Heap).unwrap();
    let addr = r.base() + off;
    assert_eq!(
        resident_pages(addr, len),
        0,
        "mapped but untouched pages are not resident"
    );
    for p in 0..64 {
        // SAFETY: page p of the Ready range, which we own.
        unsafe { *((addr + p * ps) as *mut u64) = 0x1234_5678 + p as u64 };
    }
    assert_eq!(resident_pages(addr, len), 64, "touched pages are resident");
    (r, off, len)
}

#[test]
fn released_pages_leave_rss() {
    let ps = os_page_size();
    let acct = MemAccounting::new();
    let (mut r, off, len) = touched_reservation(&acct);
    let addr = r.base() + off;
    assert_eq!(acct.ready(Purpose::Heap), len as u64);
    let rss_before = smaps_kb(addr, "Rss");
    assert!(rss_before >= (len / 1024) as u64, "Rss {rss_before} kB");
    // Release the middle half: Ready -> Prepared with MADV_DONTNEED.
    let (roff, rlen) = (off + 16 * ps, 32 * ps);
    // SAFETY: the released pages hold nothing the test reads as live data.
    unsafe { r.unused(roff, rlen, ReleaseMode::DontNeed).unwrap() };
    assert_eq!(r.state_at(roff), MemState::Prepared);
    assert_eq!(r.state_at(roff + rlen - ps), MemState::Prepared);
    assert_eq!(r.state_at(off), MemState::Ready);
    assert_eq!(r.state_at(roff + rlen), MemState::Ready);
    assert_eq!(acct.ready(Purpose::Heap), (len - rlen) as u64);
    assert_eq!(acct.released_total(), rlen as u64);
    assert_eq!(resident_pages(r.base() + roff, rlen), 0, "released pages left RSS");
    assert_eq!(resident_pages(addr, len), 32, "the other pages stay");
    let rss_after = smaps_kb(addr, "Rss");
    assert_eq!(
        rss_before - rss_after,
        (rlen / 1024) as u64,
        "smaps Rss fell by the released bytes"
    );
    // Released pages read back as zero; the others kept their data.
    for p in 0..64 {
        // SAFETY: the range is mapped (Ready or Prepared) and ours.
        let v = unsafe { *((addr + p * ps) as *const u64) };
        let released = (16..48).contains(&p);
        assert_eq!(v, if released { 0 } else { 0x1234_5678 + p as u64 }, "page {p}");
    }
    // Ready again, usable again.
    r.used(roff, rlen, Purpose::Heap).unwrap();
    assert_eq!(acct.ready(Purpose::Heap), len as u64);
    // SAFETY: Ready and ours.
    unsafe { *((r.base() + roff) as *mut u64) = 7 };
    assert_eq!(resident_pages(r.base() + roff, ps), 1);
    drop(r);
    assert_eq!(acct.reserved(), 0);
    assert_eq!(acct.mapped_ready(), 0);
}

#[test]
fn madv_free_release() {
    let ps = os_page_size();
    let acct = MemAccounting::new();
    let (mut r, off, len) = touched_reservation(&acct);
    let addr = r.base() + off;
    let (roff, rlen) = (off + 16 * ps, 32 * ps);
    // SAFETY: the released pages hold nothing the test reads as live data.
    unsafe { r.unused(roff, rlen, ReleaseMode::Free).unwrap() };
    assert_eq!(r.state_at(roff), MemState::Prepared);
    assert_eq!(acct.ready(Purpose::Heap), (len - rlen) as u64);
    assert_eq!(acct.released_total(), rlen as u64);
    // The kernel either keeps the pages as lazily freed (they may stay
    // resident until memory is short) or, on kernels without lazy free,
    // drops them at once. Either way they are no longer ordinary RSS.
    // (The kernel moves pages to the lazy-free list in per-CPU batches, so
    // some may not be counted yet.)
    let lazy = smaps_kb(addr, "LazyFree");
    let resident = resident_pages(r.base() + roff, rlen);
    assert!(lazy <= (rlen / 1024) as u64, "LazyFree {lazy} kB");
    assert!(
        lazy > 0 || resident == 0,
        "MADV_FREE: LazyFree {lazy} kB, {resident} of 32 pages resident\n{:?}",
        smaps_fields(addr)
    );
    // Unreleased pages are untouched.
    for p in (0..16).chain(48..64) {
        // SAFETY: Ready and ours.
        assert_eq!(unsafe { *((addr + p * ps) as *const u64) }, 0x1234_5678 + p as u64);
    }
    // Writing after reuse is safe and sticks; the page is no longer lazily freed.
    r.used(roff, rlen, Purpose::Heap).unwrap();
    for p in 0..32 {
        // SAFETY: Ready and ours.
        unsafe { *((r.base() + roff + p * ps) as *mut u64) = 99 + p as u64 };
    }
    for p in 0..32 {
        // SAFETY: Ready and ours.
        assert_eq!(unsafe { *((r.base() + roff + p * ps) as *const u64) }, 99 + p as u64);
    }
    assert_eq!(smaps_kb(addr, "LazyFree"), 0, "rewritten pages are not lazily freed");
    assert_eq!(resident_pages(addr, len), 64);
}

#[test]
fn a_faulted_range_faults() {
    let out = isolated("a_faulted_range_faults", || {
        let ps = os_page_size();
        let acct = MemAccounting::new();
        let (mut r, off, len) = touched_reservation(&acct);
        // SAFETY: nothing live in the range, and only the deliberate touch
        // below reaches it.
        unsafe { r.fault(off, len).unwrap() };
        assert_eq!(r.state_at(off), MemState::Reserved);
        assert_eq!(acct.ready(Purpose::Heap), 0);
        // The range is no longer mapped read/write.
        assert!(!mapped_rw(r.base() + off), "faulted range is still readable/writable");
        println!("touching faulted memory");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        // SAFETY: none; this access must fault and kill the process.
        unsafe { std::ptr::write_volatile((r.base() + off + 3 * ps) as *mut u64, 1) };
        println!("survived the touch");
    });
    let Some(out) = out else { return };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("touching faulted memory"), "{}", describe(&out));
    assert!(!stdout.contains("survived"), "{}", describe(&out));
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{}", describe(&out));
}

/// Whether the mapping holding `addr` is readable and writable, by `/proc/self/maps`.
fn mapped_rw(addr: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().any(|line| {
        let mut it = line.split_whitespace();
        let (Some(range), Some(perms)) = (it.next(), it.next()) else {
            return false;
        };
        let Some((a, b)) = range.split_once('-') else {
            return false;
        };
        let a = usize::from_str_radix(a, 16).unwrap_or(0);
        let b = usize::from_str_radix(b, 16).unwrap_or(0);
        a <= addr && addr < b && perms.starts_with("rw")
    })
}

#[test]
fn the_unmapped_arena_faults() {
    let out = isolated("the_unmapped_arena_faults", || {
        let heap = Heap::new(HeapConfig::default()).unwrap();
        let mut c = heap.new_cache();
        let p = c.mallocgc(64, None, AllocFlags::NONE).as_ptr() as usize;
        assert!(mapped_rw(p));
        // The arena beyond the mapped prefix is only Reserved.
        let beyond = heap.arena_base() + heap.arena_mapped();
        assert!(!mapped_rw(beyond));
        assert_eq!(heap.find_object(beyond), None);
        println!("touching reserved memory");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        // SAFETY: none; this access must fault and kill the process.
        unsafe { std::ptr::write_volatile(beyond as *mut u64, 1) };
        println!("survived the touch");
    });
    let Some(out) = out else { return };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("touching reserved memory"), "{}", describe(&out));
    assert!(!stdout.contains("survived"), "{}", describe(&out));
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{}", describe(&out));
}

/// Objects as (address, size) pairs.
type Objects = Vec<(usize, usize)>;

/// Allocates `n` objects of assorted sizes, each filled with a pattern
/// derived from `tag`; returns (address, size) pairs. None is tiny, so
/// every object is a slot of its own.
fn allocate_patterned(c: &mut MCache, n: usize, tag: u8) -> Vec<(usize, usize)> {
    let pair = Type::new("pair", 16, 8, &[0, 8]).unwrap();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let size = [16, 24, 48, 100, 1000, 5000, 40_000][i % 7];
        let p = if i % 3 == 0 && size >= 16 {
            c.newarray(&pair, size / 16).as_ptr() as usize
        } else {
            c.mallocgc(size, None, AllocFlags::NOSCAN).as_ptr() as usize
        };
        let size = if i % 3 == 0 && size >= 16 { size / 16 * 16 } else { size };
        // SAFETY: a fresh object of `size` bytes.
        unsafe { std::ptr::write_bytes(p as *mut u8, tag ^ i as u8, size) };
        out.push((p, size));
    }
    out
}

fn verify_patterned(heap: &Heap, objs: &[(usize, usize)], tag: u8) {
    for (i, &(p, size)) in objs.iter().enumerate() {
        // SAFETY: a live object of `size` bytes.
        let b = unsafe { std::slice::from_raw_parts(p as *const u8, size) };
        assert!(b.iter().all(|&x| x == tag ^ i as u8), "object {i} at {p:#x} corrupted");
        let o = heap.find_object(p + size - 1).expect("a live object is found");
        if size < 16 {
            // Tiny: packed into a 16-byte block.
            assert!(o.base <= p && p + size <= o.base + 16);
        } else {
            assert_eq!(o.base, p);
        }
    }
}

#[test]
fn several_heaps_in_one_process() {
    let out = isolated("several_heaps_in_one_process", || {
        let configs = [
            HeapConfig::default(),
            HeapConfig {
                arena_size: 16 * MIB,
                min_arena_size: 16 * MIB,
                ..HeapConfig::default()
            },
            HeapConfig {
                release_mode: ReleaseMode::Free,
                ..HeapConfig::default()
            },
            HeapConfig {
                clobber_free: Some(0xEE),
                arena_size: 256 * MIB,
                ..HeapConfig::default()
            },
        ];
        let heaps: Vec<Arc<Heap>> = configs.into_iter().map(|c| Heap::new(c).unwrap()).collect();
        let n = heaps.len();
        // Reservations are disjoint.
        let ranges: Vec<(usize, usize)> = heaps
            .iter()
            .map(|h| {
                let lo = h.arena_base() - h.layout().arena_off;
                (lo, lo + h.layout().total)
            })
            .collect();
        for i in 0..n {
            for j in 0..i {
                assert!(ranges[i].1 <= ranges[j].0 || ranges[j].1 <= ranges[i].0);
            }
            assert!(mapped_in_maps(ranges[i].0, ranges[i].1));
        }
        // Each heap allocates on its own thread, all at once; then each
        // checks that no other heap claims its objects.
        let barrier = Arc::new(Barrier::new(n));
        let all: Arc<Mutex<Vec<Objects>>> = Arc::new(Mutex::new(vec![vec![]; n]));
        let threads: Vec<_> = (0..n)
            .map(|k| {
                let heaps = heaps.clone();
                let barrier = barrier.clone();
                let all = all.clone();
                std::thread::spawn(move || {
                    let heap = &heaps[k];
                    let mut c = heap.new_cache();
                    let tag = 0x10 * k as u8;
                    barrier.wait();
                    let objs = allocate_patterned(&mut c, 300, tag);
                    verify_patterned(heap, &objs, tag);
                    all.lock().unwrap()[k] = objs.clone();
                    barrier.wait();
                    let all = all.lock().unwrap().clone();
                    for (j, other) in all.iter().enumerate() {
                        if j != k {
                            for &(p, _) in other {
                                assert_eq!(heap.find_object(p), None, "heap {k} claims heap {j}'s object");
                            }
                        }
                    }
                    // A collection in this heap only: keep every other object.
                    c.release_all();
                    let keep: Vec<(usize, usize)> = objs.iter().copied().step_by(2).collect();
                    for &(p, _) in &keep {
                        heap.bitmap().try_mark(p);
                    }
                    // SAFETY: the kept objects are marked; nothing else is used.
                    unsafe { heap.begin_sweep(0.0) };
                    let r = heap.sweep_all();
                    assert_eq!(r.objects_freed, objs.len() - keep.len());
                    barrier.wait();
                    // The other heaps' objects are untouched by this sweep.
                    for (j, other) in all.iter().enumerate() {
                        if j != k {
                            let kept: Vec<(usize, usize)> = other.iter().copied().step_by(2).collect();
                            let tag = 0x10 * j as u8;
                            for (i, &(p, size)) in kept.iter().enumerate() {
                                // SAFETY: heap j keeps these objects alive.
                                let b = unsafe { std::slice::from_raw_parts(p as *const u8, size) };
                                assert!(b.iter().all(|&x| x == tag ^ (2 * i) as u8));
                            }
                        }
                    }
                    let more = allocate_patterned(&mut c, 100, tag.wrapping_add(1));
                    verify_patterned(heap, &more, tag.wrapping_add(1));
                    c.flush_stats();
                    let st = heap.mem_stats();
                    st.check().unwrap();
                    assert_eq!(st.heap_objects, (keep.len() + more.len()) as u64);
                    heap.check_invariants();
                    barrier.wait();
                })
            })
            .collect();
        for t in threads {
            t.join().expect("heap thread");
        }
        // Dropping a heap returns its whole reservation, and only its own.
        let accts: Vec<Arc<MemAccounting>> = heaps.iter().map(|h| h.accounting().clone()).collect();
        for (k, heap) in heaps.into_iter().enumerate() {
            assert!(accts[k].reserved() > 0);
            assert_eq!(Arc::strong_count(&heap), 1, "no cache still holds heap {k}");
            drop(heap);
            assert_eq!(accts[k].reserved(), 0, "heap {k} left address space reserved");
            assert_eq!(accts[k].mapped_ready(), 0, "heap {k} left memory Ready");
            assert!(
                !mapped_in_maps(ranges[k].0, ranges[k].1),
                "heap {k}'s reservation is still in /proc/self/maps"
            );
            for j in k + 1..accts.len() {
                assert!(accts[j].reserved() > 0, "dropping heap {k} released heap {j}");
                assert!(mapped_in_maps(ranges[j].0, ranges[j].1));
            }
        }
        println!("all heaps checked");
    });
    let Some(out) = out else { return };
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("all heaps checked"));
}

/// Limits the child's address space to `bytes`.
fn limit_address_space(bytes: usize) {
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass; lowering a limit is allowed.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
    assert_eq!(r, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn a_low_address_space_limit_makes_the_arena_smaller() {
    let out = isolated("a_low_address_space_limit_makes_the_arena_smaller", || {
        limit_address_space(8 * GIB);
        let heap = Heap::new(HeapConfig::default()).expect("a smaller arena under RLIMIT_AS");
        let arena = heap.arena_size();
        println!("arena under an 8 GiB limit: {} MiB", arena >> 20);
        assert!((16 * MIB..8 * GIB).contains(&arena), "arena {arena}");
        assert!((64 * GIB / arena).is_power_of_two(), "halved from 64 GiB: {arena}");
        assert_eq!(64 * GIB / arena * arena, 64 * GIB, "halved from 64 GiB: {arena}");
        assert!(heap.accounting().reserved() <= 8 * GIB as u64);
        // It allocates and finds what it allocated.
        let mut c = heap.new_cache();
        let objs = allocate_patterned(&mut c, 500, 0x5a);
        verify_patterned(&heap, &objs, 0x5a);
        let big = c.mallocgc(64 * MIB, None, AllocFlags::NONE).as_ptr() as usize;
        assert_eq!(heap.find_object(big + 64 * MIB - 1).map(|o| o.base), Some(big));
        c.flush_stats();
        heap.mem_stats().check().unwrap();
        // A minimum above the limit cannot be met: a clear error.
        for config in [
            HeapConfig {
                min_arena_size: 16 * GIB,
                ..HeapConfig::default()
            },
            HeapConfig {
                arena_size: 16 * GIB,
                min_arena_size: 16 * GIB,
                ..HeapConfig::default()
            },
        ] {
            let e = Heap::new(config).unwrap_err();
            let HeapError::Reserve { smallest_tried, error } = &e else {
                panic!("expected HeapError::Reserve, got {e:?}")
            };
            assert_eq!(*smallest_tried, 16 * GIB);
            assert_eq!(error.errno(), Some(libc::ENOMEM), "{error}");
            let msg = e.to_string();
            assert!(
                msg.contains("cannot reserve address space") && msg.contains("16384 MiB") && msg.contains("errno 12"),
                "{msg}"
            );
            println!("refused: {msg}");
        }
        // The first heap is unharmed.
        verify_patterned(&heap, &objs, 0x5a);
        println!("fallback checked");
    });
    let Some(out) = out else { return };
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("fallback checked"),
        "{}",
        describe(&out)
    );
}
