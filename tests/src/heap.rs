#![allow(unsafe_code)]
//! The bytes a test process holds on its heap, counted by a global allocator the test
//! binary installs: `#[global_allocator] static HEAP: Counting = Counting;`.
//!
//! Counting allocations, rather than reading RSS, makes a memory bound a figure that
//! does not depend on the allocator's caching or the kernel's paging.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting the bytes it holds.
pub struct Counting;

// SAFETY: every call goes to the system allocator unchanged; only a counter is added.

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The bytes the process holds on its heap now (0 if no counting allocator is installed).
pub fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}
