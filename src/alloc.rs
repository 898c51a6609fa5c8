//! The process allocator: mimalloc, called through its plain `malloc` entry points whenever the
//! alignment Rust asks for is one that `malloc` gives anyway, as the standard library's own
//! `System` allocator does. (The `mimalloc` crate calls the aligned entry points for every
//! allocation: a longer path, and for blocks over 1 KiB an over-allocating one. On the replay
//! benchmark that was about 2% of all instructions.)

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every `mi_malloc` block of at least this size has (`MI_MAX_ALIGN_SIZE`).
const MALLOC_ALIGN: usize = 16;

pub struct Mimalloc;

/// Whether `mi_malloc(size)` is aligned enough: smaller blocks are aligned to their size class.
#[inline(always)]
fn plain(align: usize, size: usize) -> bool {
    align <= MALLOC_ALIGN && align <= size
}

/// A block from the plain entry point when its alignment is enough, else from the aligned one.
#[inline(always)]
unsafe fn new_block(
    layout: Layout,
    plain_entry: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_entry: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    let p = if plain(layout.align(), layout.size()) {
        unsafe { plain_entry(layout.size()) }
    } else {
        unsafe { aligned_entry(layout.size(), layout.align()) }
    };
    p.cast()
}

// SAFETY: every pointer handed out comes from mimalloc and goes back to it (`mi_free` takes
// blocks of either entry point); each block is at least `layout.size()` long and aligned to
// `layout.align()`, by `plain` or by the aligned entry point.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { new_block(layout, mi::mi_malloc, mi::mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { new_block(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = if plain(layout.align(), new_size) {
            unsafe { mi::mi_realloc(ptr.cast::<c_void>(), new_size) }
        } else {
            unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()) }
        };
        p.cast()
    }
}

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, mimalloc.h; the sys crate's
/// bindings leave options unnamed): how many milliseconds freed memory stays with the allocator
/// before it goes back to the operating system; -1 never.
const PURGE_DELAY: mi::mi_option_t = 15;

/// For batch jobs (replay): memory freed during the run stays with the allocator for reuse until
/// the process ends. By default mimalloc gives back what stays free for a second; a replay then
/// gets its working set back as fresh pages, each zeroed by the kernel (2 MiB at a time with
/// transparent huge pages): on the replay benchmark, three times the page faults and about a
/// tenth of the time. A `MIMALLOC_PURGE_DELAY` in the environment still decides. Streams
/// (`casewatch run`) keep the default, so memory a burst took goes back once it is over.
pub fn keep_freed_memory() {
    // SAFETY: sets one option's value (unless the environment set it), which mimalloc reads
    // when it next considers giving memory back; no allocation depends on it.
    unsafe { mi::mi_option_set_default(PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `PURGE_DELAY` names the option it means (mimalloc's default purge delay is 1000 ms, and
    /// no neighbouring option has that default), and `keep_freed_memory` turns purging off.
    #[test]
    fn keeps_freed_memory_through_the_purge_delay_option() {
        let get = |option| unsafe { mi::mi_option_get(option) };
        let from_env = std::env::var_os("MIMALLOC_PURGE_DELAY").is_some();
        if !from_env {
            assert_eq!(get(PURGE_DELAY), 1000);
        }
        assert_ne!(get(PURGE_DELAY - 1), 1000);
        assert_ne!(get(PURGE_DELAY + 1), 1000);
        keep_freed_memory();
        if !from_env {
            assert_eq!(get(PURGE_DELAY), -1);
        }
    }

    /// Every size and alignment Rust may ask for comes back aligned, and holds its bytes
    /// through a realloc that grows or shrinks it.
    #[test]
    fn blocks_are_aligned_and_keep_their_bytes() {
        let a = Mimalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 3, 8, 15, 16, 17, 24, 100, 1024, 1025, 5000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                for new in [size / 2 + 1, size * 3] {
                    unsafe {
                        let p = a.alloc(layout);
                        assert!(!p.is_null() && (p as usize).is_multiple_of(align), "size {size} align {align}");
                        p.write_bytes(0xA5, size);
                        let q = a.realloc(p, layout, new);
                        assert!(!q.is_null() && (q as usize).is_multiple_of(align), "realloc {size}->{new} align {align}");
                        assert!((0..size.min(new)).all(|i| *q.add(i) == 0xA5));
                        a.dealloc(q, Layout::from_size_align(new, align).unwrap());
                    }
                }
                unsafe {
                    let z = a.alloc_zeroed(layout);
                    assert!((z as usize).is_multiple_of(align) && (0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
