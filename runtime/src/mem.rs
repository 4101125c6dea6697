//! The OS memory layer: address-space regions and their explicit states.
//!
//! Every range of address space the heap touches is in one of four states,
//! following Go's `mem.go`:
//!
//! | state    | meaning                                              |
//! |----------|------------------------------------------------------|
//! | None     | not owned by us                                      |
//! | Reserved | owned, faults on access, costs no memory             |
//! | Prepared | mapped read/write, may be backed lazily, contents undefined, not counted as in use |
//! | Ready    | safe to use, counted in the mapped-ready accounting  |
//!
//! Transitions: `sys_reserve` None→Reserved, `sys_map` Reserved→Prepared,
//! `sys_used` Prepared→Ready, `sys_unused` Ready→Prepared, `sys_free` any→None,
//! `sys_fault` Ready→Reserved, `sys_alloc` None→Ready. Huge-page hints
//! (`sys_huge_page`, `sys_no_huge_page`) change no state. The raw functions
//! work on address ranges. Those that can take memory away from whoever
//! uses it (`sys_map`, which replaces a mapping, `sys_unused`, `sys_fault`
//! and `sys_free`) are `unsafe`; those that only create fresh mappings,
//! count bytes or give advice (`sys_reserve`, `sys_used`, `sys_alloc`, the
//! two hints, and `os_page_size`) are safe. The checked interface is
//! [`Reservation`], which owns one reserved range, checks bounds, alignment
//! and the state precondition of every transition, and keeps the accounting
//! in a [`MemAccounting`] true.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The state of a range of address space (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemState {
    /// Not owned by this process's heap.
    None,
    /// Owned; any access faults; costs no memory.
    Reserved,
    /// Mapped read/write but not in use; may hold garbage or be unbacked.
    Prepared,
    /// Mapped and in use.
    Ready,
}

/// What a range of memory is used for; each purpose has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The arena, where objects live.
    Heap = 0,
    /// The span table (one entry per arena page).
    SpanTable = 1,
    /// The GC bitmap (pointer and mark bits per arena word).
    GcBitmap = 2,
    /// Other runtime metadata (span structures).
    Metadata = 3,
}

impl Purpose {
    /// All purposes, in counter order.
    pub const ALL: [Purpose; 4] = [Purpose::Heap, Purpose::SpanTable, Purpose::GcBitmap, Purpose::Metadata];
}

/// How `sys_unused` gives pages back to the OS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReleaseMode {
    /// `MADV_DONTNEED`: RSS falls at once; the next touch gets zero pages.
    #[default]
    DontNeed,
    /// `MADV_FREE`: the kernel reclaims lazily; cheaper, but RSS stays high
    /// until there is memory pressure.
    Free,
}

/// A failed OS memory operation: which call, on which range, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemError {
    /// The OS refused a call.
    Os {
        /// The system call or transition that failed.
        op: &'static str,
        /// Start of the range.
        addr: usize,
        /// Length of the range in bytes.
        len: usize,
        /// The `errno` the OS returned.
        errno: i32,
    },
    /// A range was not aligned to the OS page size, or was empty.
    Misaligned {
        /// The transition asked for.
        op: &'static str,
        /// Start of the range.
        addr: usize,
        /// Length of the range.
        len: usize,
    },
    /// A range lies outside the reservation it was asked of.
    OutOfRange {
        /// The transition asked for.
        op: &'static str,
        /// Offset of the range inside the reservation.
        offset: usize,
        /// Length of the range.
        len: usize,
        /// Size of the reservation.
        size: usize,
    },
    /// Part of the range was not in the state the transition starts from.
    BadTransition {
        /// The transition asked for.
        op: &'static str,
        /// Start of the offending part.
        addr: usize,
        /// The state found there.
        found: MemState,
    },
}

impl MemError {
    /// The `errno`, for errors that came from the OS.
    pub fn errno(&self) -> Option<i32> {
        match self {
            MemError::Os { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Reservations and fresh allocations have no address yet.
            MemError::Os {
                op,
                addr: 0,
                len,
                errno,
            } => write!(
                f,
                "{op} of {len:#x} bytes ({} MiB) failed: {} (errno {errno})",
                len >> 20,
                std::io::Error::from_raw_os_error(*errno)
            ),
            MemError::Os { op, addr, len, errno } => write!(
                f,
                "{op} of [{addr:#x}, {:#x}) ({len} bytes) failed: {} (errno {errno})",
                addr + len,
                std::io::Error::from_raw_os_error(*errno)
            ),
            MemError::Misaligned { op, addr, len } => write!(
                f,
                "{op}: range [{addr:#x}, +{len:#x}) is empty or not aligned to the OS page size"
            ),
            MemError::OutOfRange { op, offset, len, size } => write!(
                f,
                "{op}: range at offset {offset:#x} of {len:#x} bytes lies outside a reservation of {size:#x} bytes"
            ),
            MemError::BadTransition { op, addr, found } => {
                write!(
                    f,
                    "{op}: memory at {addr:#x} is {found:?}, which {op} cannot start from"
                )
            }
        }
    }
}

impl std::error::Error for MemError {}

/// The OS page size (4 KiB on the machines we target; read once).
pub fn os_page_size() -> usize {
    use std::sync::OnceLock;
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if v <= 0 {
            4096
        } else {
            v as usize
        }
    })
}

/// Size of a transparent huge page on x86-64 and arm64 Linux.
pub const HUGE_PAGE_SIZE: usize = 2 << 20;

/// Memory accounting, updated by every transition.
///
/// Invariants: `ready(p)` is the number of bytes of purpose `p` currently in
/// the Ready state; `reserved` counts bytes owned in any state other than None.
#[derive(Debug, Default)]
pub struct MemAccounting {
    ready: [AtomicU64; 4],
    reserved: AtomicU64,
    released: AtomicU64,
}

impl MemAccounting {
    /// A fresh set of zero counters.
    pub fn new() -> Arc<MemAccounting> {
        Arc::new(MemAccounting::default())
    }

    /// Bytes in the Ready state for one purpose.
    pub fn ready(&self, p: Purpose) -> u64 {
        self.ready[p as usize].load(Ordering::Relaxed)
    }

    /// Bytes in the Ready state, all purposes together (what the memory limit counts).
    pub fn mapped_ready(&self) -> u64 {
        Purpose::ALL.iter().map(|&p| self.ready(p)).sum()
    }

    /// Bytes of address space owned (Reserved, Prepared or Ready).
    pub fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Total bytes ever handed back to the OS by `sys_unused`.
    pub fn released_total(&self) -> u64 {
        self.released.load(Ordering::Relaxed)
    }

    fn add_ready(&self, p: Purpose, n: usize) {
        self.ready[p as usize].fetch_add(n as u64, Ordering::Relaxed);
    }

    fn sub_ready(&self, p: Purpose, n: usize) {
        self.ready[p as usize].fetch_sub(n as u64, Ordering::Relaxed);
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn check_aligned(op: &'static str, addr: usize, len: usize) -> Result<(), MemError> {
    let ps = os_page_size();
    if len == 0 || !addr.is_multiple_of(ps) || !len.is_multiple_of(ps) {
        return Err(MemError::Misaligned { op, addr, len });
    }
    Ok(())
}

/// Reserves `len` bytes of address space: None → Reserved.
///
/// The range is `PROT_NONE` and `MAP_NORESERVE`, so it costs no memory and
/// no commit charge; touching it faults.
pub fn sys_reserve(len: usize) -> Result<usize, MemError> {
    check_aligned("sys_reserve", 0, len)?;
    // SAFETY: an anonymous mapping at an address of the kernel's choosing
    // cannot overlap anything we own.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(MemError::Os {
            op: "sys_reserve",
            addr: 0,
            len,
            errno: errno(),
        });
    }
    Ok(p as usize)
}

/// Maps a reserved range read/write: Reserved → Prepared.
///
/// # Safety
/// `[addr, addr+len)` must be a range this process reserved and that holds no
/// live data (`MAP_FIXED` replaces whatever is there).
pub unsafe fn sys_map(addr: usize, len: usize) -> Result<(), MemError> {
    check_aligned("sys_map", addr, len)?;
    // SAFETY: the caller guarantees we own the range and nothing lives there.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(MemError::Os {
            op: "sys_map",
            addr,
            len,
            errno: errno(),
        });
    }
    Ok(())
}

/// Marks a prepared range as in use: Prepared → Ready. Only accounting and,
/// for the heap, no huge-page forcing (the kernel's default policy applies).
pub fn sys_used(acct: &MemAccounting, purpose: Purpose, addr: usize, len: usize) -> Result<(), MemError> {
    check_aligned("sys_used", addr, len)?;
    acct.add_ready(purpose, len);
    Ok(())
}

/// Returns a ready range's pages to the OS: Ready → Prepared.
///
/// With [`ReleaseMode::DontNeed`] the pages leave RSS at once and read back
/// as zero; with [`ReleaseMode::Free`] the kernel may keep them until it
/// needs memory, and their contents are undefined until rewritten.
///
/// # Safety
/// The range must be mapped and must hold no live data.
pub unsafe fn sys_unused(
    acct: &MemAccounting,
    purpose: Purpose,
    addr: usize,
    len: usize,
    mode: ReleaseMode,
) -> Result<(), MemError> {
    check_aligned("sys_unused", addr, len)?;
    let advice = match mode {
        ReleaseMode::DontNeed => libc::MADV_DONTNEED,
        ReleaseMode::Free => libc::MADV_FREE,
    };
    // SAFETY: the caller guarantees the range is mapped and holds nothing live.
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, advice) };
    if r != 0 {
        return Err(MemError::Os {
            op: "sys_unused",
            addr,
            len,
            errno: errno(),
        });
    }
    acct.sub_ready(purpose, len);
    acct.released.fetch_add(len as u64, Ordering::Relaxed);
    Ok(())
}

/// Makes a ready range fault on access again: Ready → Reserved. For
/// debugging modes (freed pages that must not be touched).
///
/// # Safety
/// The range must be ours and hold no live data.
pub unsafe fn sys_fault(acct: &MemAccounting, purpose: Purpose, addr: usize, len: usize) -> Result<(), MemError> {
    check_aligned("sys_fault", addr, len)?;
    // SAFETY: the caller owns the range; remapping it PROT_NONE discards it.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(MemError::Os {
            op: "sys_fault",
            addr,
            len,
            errno: errno(),
        });
    }
    acct.sub_ready(purpose, len);
    Ok(())
}

/// Unmaps a range in any state: → None. `ready_bytes` is how much of it was
/// Ready, so the accounting can be corrected.
///
/// # Safety
/// The range must be ours and nothing may use it afterwards.
pub unsafe fn sys_free(
    acct: &MemAccounting,
    purpose: Purpose,
    addr: usize,
    len: usize,
    ready_bytes: usize,
) -> Result<(), MemError> {
    check_aligned("sys_free", addr, len)?;
    // SAFETY: the caller owns the range and promises no further use.
    let r = unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    if r != 0 {
        return Err(MemError::Os {
            op: "sys_free",
            addr,
            len,
            errno: errno(),
        });
    }
    acct.sub_ready(purpose, ready_bytes);
    acct.reserved.fetch_sub(len as u64, Ordering::Relaxed);
    Ok(())
}

/// Allocates fresh zeroed memory straight from the OS: None → Ready.
pub fn sys_alloc(acct: &MemAccounting, purpose: Purpose, len: usize) -> Result<usize, MemError> {
    check_aligned("sys_alloc", 0, len)?;
    // SAFETY: an anonymous mapping at an address of the kernel's choosing
    // cannot overlap anything we own.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(MemError::Os {
            op: "sys_alloc",
            addr: 0,
            len,
            errno: errno(),
        });
    }
    acct.add_ready(purpose, len);
    acct.reserved.fetch_add(len as u64, Ordering::Relaxed);
    Ok(p as usize)
}

fn madvise(op: &'static str, addr: usize, len: usize, advice: libc::c_int) -> Result<(), MemError> {
    check_aligned(op, addr, len)?;
    // SAFETY: huge-page advice changes no contents and no permissions; on a
    // range that is not mapped the kernel answers ENOMEM, which we report.
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, advice) };
    if r != 0 {
        return Err(MemError::Os {
            op,
            addr,
            len,
            errno: errno(),
        });
    }
    Ok(())
}

/// Hints that a range should be backed by huge pages (`MADV_HUGEPAGE`).
pub fn sys_huge_page(addr: usize, len: usize) -> Result<(), MemError> {
    madvise("sys_huge_page", addr, len, libc::MADV_HUGEPAGE)
}

/// Asks that a range not be backed by huge pages (`MADV_NOHUGEPAGE`).
pub fn sys_no_huge_page(addr: usize, len: usize) -> Result<(), MemError> {
    madvise("sys_no_huge_page", addr, len, libc::MADV_NOHUGEPAGE)
}

/// One owned, contiguous reservation of address space, with the state of
/// every OS page in it tracked explicitly.
///
/// Invariants: `states` covers `[0, size)` exactly, as non-overlapping runs
/// keyed by start offset, each mapping to `(end, state, purpose)`; adjacent
/// runs with equal state and purpose are merged. The accounting holds the
/// Ready bytes of each purpose. On drop the whole range returns to None.
#[derive(Debug)]
pub struct Reservation {
    base: usize,
    size: usize,
    acct: Arc<MemAccounting>,
    states: BTreeMap<usize, (usize, MemState, Purpose)>,
}

impl Reservation {
    /// Reserves `size` bytes (rounded up to the OS page size): None → Reserved.
    pub fn new(size: usize, acct: Arc<MemAccounting>) -> Result<Reservation, MemError> {
        let ps = os_page_size();
        let size = size.checked_add(ps - 1).ok_or(MemError::Misaligned {
            op: "sys_reserve",
            addr: 0,
            len: size,
        })? & !(ps - 1);
        let base = sys_reserve(size)?;
        acct.reserved.fetch_add(size as u64, Ordering::Relaxed);
        let mut states = BTreeMap::new();
        states.insert(0, (size, MemState::Reserved, Purpose::Heap));
        Ok(Reservation {
            base,
            size,
            acct,
            states,
        })
    }

    /// First address of the reservation.
    pub fn base(&self) -> usize {
        self.base
    }

    /// Size of the reservation in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The accounting this reservation reports to.
    pub fn accounting(&self) -> &Arc<MemAccounting> {
        &self.acct
    }

    /// The state of the OS page holding `offset`.
    pub fn state_at(&self, offset: usize) -> MemState {
        if offset >= self.size {
            return MemState::None;
        }
        let (_, &(_, st, _)) = self
            .states
            .range(..=offset)
            .next_back()
            .expect("states cover the reservation");
        st
    }

    fn check(&self, op: &'static str, offset: usize, len: usize) -> Result<usize, MemError> {
        if offset.checked_add(len).is_none_or(|e| e > self.size) {
            return Err(MemError::OutOfRange {
                op,
                offset,
                len,
                size: self.size,
            });
        }
        let addr = self.base + offset;
        check_aligned(op, addr, len)?;
        Ok(addr)
    }

    /// Checks that every page of `[offset, offset+len)` is in `from`.
    fn require(&self, op: &'static str, offset: usize, len: usize, from: &[MemState]) -> Result<(), MemError> {
        let end = offset + len;
        let first = self.states.range(..=offset).next_back().map(|(&s, _)| s).unwrap_or(0);
        for (&s, &(e, st, _)) in self.states.range(first..end) {
            if e <= offset {
                continue;
            }
            if !from.contains(&st) {
                return Err(MemError::BadTransition {
                    op,
                    addr: self.base + s.max(offset),
                    found: st,
                });
            }
        }
        Ok(())
    }

    /// Bytes of `[offset, offset+len)` in state `st`, per purpose.
    fn bytes_in(&self, offset: usize, len: usize, st: MemState) -> [usize; 4] {
        let end = offset + len;
        let mut out = [0; 4];
        let first = self.states.range(..=offset).next_back().map(|(&s, _)| s).unwrap_or(0);
        for (&s, &(e, rst, p)) in self.states.range(first..end) {
            if rst == st && e > offset {
                out[p as usize] += e.min(end) - s.max(offset);
            }
        }
        out
    }

    /// Records `[offset, offset+len)` as `st` for `purpose`, splitting and
    /// merging runs so the invariant holds.
    fn set(&mut self, offset: usize, len: usize, st: MemState, purpose: Purpose) {
        let end = offset + len;
        // Split the run containing `offset` and the one containing `end`.
        for cut in [offset, end] {
            if cut >= self.size {
                continue;
            }
            let (&s, &(e, rst, p)) = self.states.range(..=cut).next_back().expect("covered");
            if s < cut {
                self.states.insert(s, (cut, rst, p));
                self.states.insert(cut, (e, rst, p));
            }
        }
        let inside: Vec<usize> = self.states.range(offset..end).map(|(&s, _)| s).collect();
        for s in inside {
            self.states.remove(&s);
        }
        let mut start = offset;
        let mut stop = end;
        if let Some((&ps, &(pe, pst, pp))) = self.states.range(..offset).next_back() {
            if pe == offset && pst == st && pp == purpose {
                self.states.remove(&ps);
                start = ps;
            }
        }
        if let Some(&(ne, nst, np)) = self.states.get(&end) {
            if nst == st && np == purpose {
                self.states.remove(&end);
                stop = ne;
            }
        }
        self.states.insert(start, (stop, st, purpose));
    }

    /// Reserved → Prepared for `[offset, offset+len)`.
    pub fn map(&mut self, offset: usize, len: usize, purpose: Purpose) -> Result<(), MemError> {
        let addr = self.check("sys_map", offset, len)?;
        self.require("sys_map", offset, len, &[MemState::Reserved])?;
        // SAFETY: the range is inside our reservation and Reserved, so it
        // holds no data.
        unsafe { sys_map(addr, len)? };
        self.set(offset, len, MemState::Prepared, purpose);
        Ok(())
    }

    /// Prepared → Ready for `[offset, offset+len)`.
    pub fn used(&mut self, offset: usize, len: usize, purpose: Purpose) -> Result<(), MemError> {
        let addr = self.check("sys_used", offset, len)?;
        self.require("sys_used", offset, len, &[MemState::Prepared])?;
        sys_used(&self.acct, purpose, addr, len)?;
        self.set(offset, len, MemState::Ready, purpose);
        Ok(())
    }

    /// Ready → Prepared for `[offset, offset+len)`, returning the pages to the OS.
    ///
    /// # Safety
    /// Nothing live may remain in the range: its contents are lost.
    pub unsafe fn unused(&mut self, offset: usize, len: usize, mode: ReleaseMode) -> Result<(), MemError> {
        let addr = self.check("sys_unused", offset, len)?;
        self.require("sys_unused", offset, len, &[MemState::Ready])?;
        let by = self.bytes_in(offset, len, MemState::Ready);
        let purpose = self.purpose_at(offset);
        // SAFETY: the range is ours and Ready (checked), and the caller
        // guarantees it holds nothing live.
        unsafe { sys_unused(&self.acct, purpose, addr, len, mode)? };
        // sys_unused charged everything to one purpose; correct for mixed ranges.
        self.acct.add_ready(purpose, len);
        for p in Purpose::ALL {
            self.acct.sub_ready(p, by[p as usize]);
        }
        self.set(offset, len, MemState::Prepared, purpose);
        Ok(())
    }

    /// Ready → Reserved for `[offset, offset+len)`: touching it faults.
    ///
    /// # Safety
    /// Nothing live may remain in the range, and no code may touch it.
    pub unsafe fn fault(&mut self, offset: usize, len: usize) -> Result<(), MemError> {
        let addr = self.check("sys_fault", offset, len)?;
        self.require("sys_fault", offset, len, &[MemState::Ready])?;
        let by = self.bytes_in(offset, len, MemState::Ready);
        let purpose = self.purpose_at(offset);
        // SAFETY: the range is ours and Ready (checked); the caller
        // guarantees it holds nothing live and is not touched again.
        unsafe { sys_fault(&self.acct, purpose, addr, len)? };
        self.acct.add_ready(purpose, len);
        for p in Purpose::ALL {
            self.acct.sub_ready(p, by[p as usize]);
        }
        self.set(offset, len, MemState::Reserved, purpose);
        Ok(())
    }

    fn purpose_at(&self, offset: usize) -> Purpose {
        let (_, &(_, _, p)) = self.states.range(..=offset).next_back().expect("covered");
        p
    }

    /// Huge-page hint for a mapped range (see [`sys_huge_page`]).
    pub fn huge_page(&self, offset: usize, len: usize) -> Result<(), MemError> {
        let addr = self.check("sys_huge_page", offset, len)?;
        self.require("sys_huge_page", offset, len, &[MemState::Prepared, MemState::Ready])?;
        sys_huge_page(addr, len)
    }

    /// No-huge-page hint for a mapped range (see [`sys_no_huge_page`]).
    pub fn no_huge_page(&self, offset: usize, len: usize) -> Result<(), MemError> {
        let addr = self.check("sys_no_huge_page", offset, len)?;
        self.require("sys_no_huge_page", offset, len, &[MemState::Prepared, MemState::Ready])?;
        sys_no_huge_page(addr, len)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let by = self.bytes_in(0, self.size, MemState::Ready);
        for p in Purpose::ALL {
            self.acct.sub_ready(p, by[p as usize]);
        }
        // SAFETY: we own the whole range and, being dropped, nothing can use
        // it any more (the heap drops its reservation last).
        let r = unsafe { sys_free(&self.acct, Purpose::Heap, self.base, self.size, 0) };
        if let Err(e) = r {
            // munmap of a range we mapped cannot fail short of a kernel bug;
            // leaking address space is the only safe answer.
            eprintln!("marrow: {e}");
        }
    }
}

/// A block of Ready memory obtained with `sys_alloc`, returned on drop.
#[derive(Debug)]
pub struct OsBlock {
    addr: usize,
    len: usize,
    purpose: Purpose,
    acct: Arc<MemAccounting>,
}

impl OsBlock {
    /// Allocates `len` bytes (rounded up to OS pages): None → Ready.
    pub fn new(len: usize, purpose: Purpose, acct: Arc<MemAccounting>) -> Result<OsBlock, MemError> {
        let ps = os_page_size();
        let len = (len.max(1) + ps - 1) & !(ps - 1);
        let addr = sys_alloc(&acct, purpose, len)?;
        Ok(OsBlock {
            addr,
            len,
            purpose,
            acct,
        })
    }

    /// First address of the block.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Length of the block in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block is empty (never: blocks have at least one page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for OsBlock {
    fn drop(&mut self) {
        // SAFETY: we own the block and, being dropped, nothing uses it.
        if let Err(e) = unsafe { sys_free(&self.acct, self.purpose, self.addr, self.len, self.len) } {
            eprintln!("marrow: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_state_machine() {
        let acct = MemAccounting::new();
        let ps = os_page_size();
        let mut r = Reservation::new(16 * ps, acct.clone()).unwrap();
        assert_eq!(r.state_at(0), MemState::Reserved);
        assert_eq!(acct.reserved(), 16 * ps as u64);
        // Cannot use what is not mapped.
        assert!(matches!(
            r.used(0, ps, Purpose::Heap),
            Err(MemError::BadTransition { .. })
        ));
        r.map(0, 4 * ps, Purpose::Heap).unwrap();
        assert_eq!(r.state_at(3 * ps), MemState::Prepared);
        assert_eq!(r.state_at(4 * ps), MemState::Reserved);
        assert!(matches!(
            r.map(2 * ps, 4 * ps, Purpose::Heap),
            Err(MemError::BadTransition { .. })
        ));
        r.used(0, 4 * ps, Purpose::Heap).unwrap();
        assert_eq!(acct.ready(Purpose::Heap), 4 * ps as u64);
        // SAFETY: the range holds nothing.
        unsafe { r.unused(ps, ps, ReleaseMode::DontNeed).unwrap() };
        assert_eq!(r.state_at(ps), MemState::Prepared);
        assert_eq!(acct.ready(Purpose::Heap), 3 * ps as u64);
        assert!(matches!(
            // SAFETY: the call is refused before touching anything.
            unsafe { r.unused(ps, ps, ReleaseMode::DontNeed) },
            Err(MemError::BadTransition { .. })
        ));
        r.used(ps, ps, Purpose::Heap).unwrap();
        // SAFETY: the range holds nothing and is never touched.
        unsafe { r.fault(0, ps).unwrap() };
        assert_eq!(r.state_at(0), MemState::Reserved);
        assert_eq!(acct.ready(Purpose::Heap), 3 * ps as u64);
        drop(r);
        assert_eq!(acct.reserved(), 0);
        assert_eq!(acct.mapped_ready(), 0);
    }

    #[test]
    fn misaligned_and_out_of_range_are_refused() {
        let acct = MemAccounting::new();
        let ps = os_page_size();
        let mut r = Reservation::new(4 * ps, acct).unwrap();
        assert!(matches!(r.map(1, ps, Purpose::Heap), Err(MemError::Misaligned { .. })));
        assert!(matches!(r.map(0, 0, Purpose::Heap), Err(MemError::Misaligned { .. })));
        assert!(matches!(
            r.map(0, 8 * ps, Purpose::Heap),
            Err(MemError::OutOfRange { .. })
        ));
        assert!(r.map(usize::MAX - ps + 1, ps, Purpose::Heap).is_err());
    }

    #[test]
    fn os_errors_carry_errno_and_range() {
        // An absurd reservation fails with ENOMEM and says so.
        let e = sys_reserve(1usize << 62).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOMEM));
        let msg = e.to_string();
        assert!(msg.contains("sys_reserve") && msg.contains("errno 12"), "{msg}");
    }

    #[test]
    fn runs_merge_back() {
        let acct = MemAccounting::new();
        let ps = os_page_size();
        let mut r = Reservation::new(8 * ps, acct).unwrap();
        r.map(2 * ps, ps, Purpose::Heap).unwrap();
        r.map(3 * ps, ps, Purpose::Heap).unwrap();
        r.map(0, 2 * ps, Purpose::Heap).unwrap();
        assert_eq!(r.states.len(), 2, "{:?}", r.states);
        r.used(0, 4 * ps, Purpose::Heap).unwrap();
        assert_eq!(r.states.len(), 2);
    }
}
