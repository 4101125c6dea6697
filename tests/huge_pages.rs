//! Huge-page policy: with `metadata_huge_pages`, the GC bitmap and span
//! table carry MADV_HUGEPAGE (VmFlags `hg` in /proc/self/smaps); the arena
//! never does.

use marrow_runtime::{AllocFlags, Heap, HeapConfig};

/// The VmFlags line of the mapping holding `addr`.
fn vm_flags(addr: usize) -> String {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
                    inside = lo <= addr && addr < hi;
                    continue;
                }
            }
        }
        if inside && line.starts_with("VmFlags:") {
            return line.to_string();
        }
    }
    panic!("no mapping holds {addr:#x}");
}

#[test]
fn metadata_is_hinted_and_the_arena_is_not() {
    let heap = Heap::new(HeapConfig {
        metadata_huge_pages: true,
        ..HeapConfig::default()
    })
    .unwrap();
    let mut cache = heap.new_cache();
    let p = cache.mallocgc(64, None, AllocFlags::NOSCAN).as_ptr() as usize;
    let l = heap.layout();
    let bitmap = heap.arena_base() - (l.arena_off - l.bitmap_off);
    let span_table = heap.arena_base() - (l.arena_off - l.span_table_off);
    let hinted = |a: usize| vm_flags(a).split_whitespace().any(|f| f == "hg");
    assert!(hinted(bitmap), "bitmap: {}", vm_flags(bitmap));
    assert!(hinted(span_table), "span table: {}", vm_flags(span_table));
    assert!(!hinted(p), "arena: {}", vm_flags(p));
    // Off by default.
    let plain = Heap::new(HeapConfig::default()).unwrap();
    let mut c2 = plain.new_cache();
    c2.mallocgc(64, None, AllocFlags::NOSCAN);
    let l = plain.layout();
    assert!(!hinted(plain.arena_base() - (l.arena_off - l.bitmap_off)));
}
