//! The C malloc ABI over a Rust allocator, shared by the benchmark peers (included with `#[path]`).
//!
//! A peer implements [`PeerHeap`] (allocate with an alignment, free, resize, usable size); `export_c_abi!`
//! puts one instance behind a mutex and exports malloc, free, calloc, realloc, reallocarray, memalign,
//! aligned_alloc, posix_memalign, valloc, pvalloc and malloc_usable_size. Only what a benchmark needs:
//! errno is set to ENOMEM on failure, nothing else of glibc's malloc (statistics, tunables) exists.

/// The allocator operations the C functions need. Pointers are the user pointers handed out.
pub trait PeerHeap {
    /// `size` bytes aligned to `align` (a power of two, at least 16); null on failure.
    ///
    /// # Safety
    /// The allocator's own preconditions (none beyond the argument rules).
    unsafe fn allocate(&mut self, size: usize, align: usize) -> *mut u8;
    /// Frees a live pointer of this heap.
    ///
    /// # Safety
    /// `ptr` is a live pointer of this heap.
    unsafe fn release(&mut self, ptr: *mut u8);
    /// Resizes a live pointer (keeping its contents); null on failure (then `ptr` stays valid).
    ///
    /// # Safety
    /// `ptr` is a live pointer of this heap.
    unsafe fn resize(&mut self, ptr: *mut u8, size: usize) -> *mut u8;
    /// Bytes usable at a live pointer.
    ///
    /// # Safety
    /// `ptr` is a live pointer of this heap.
    unsafe fn usable(&self, ptr: *mut u8) -> usize;
}

/// Page size assumed by valloc/pvalloc (x86-64 Linux).
pub const PAGE: usize = 4096;

/// Sets the calling thread's errno.
pub fn set_errno(value: i32) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = value };
}

/// Exports the C ABI for `static $heap: std::sync::Mutex<impl PeerHeap>`.
#[macro_export]
macro_rules! export_c_abi {
    ($heap:ident) => {
        fn with_heap<R>(f: impl FnOnce(&mut dyn $crate::c_abi::PeerHeap) -> R) -> R {
            let mut guard = $heap.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut *guard)
        }

        fn allocate_or_errno(size: usize, align: usize) -> *mut u8 {
            // SAFETY: the argument rules are checked by the callers.
            let p = with_heap(|heap| unsafe { heap.allocate(size, align.max(16)) });
            if p.is_null() {
                $crate::c_abi::set_errno(libc::ENOMEM);
            }
            p
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn malloc(size: usize) -> *mut u8 {
            allocate_or_errno(size, 16)
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn free(ptr: *mut u8) {
            if !ptr.is_null() {
                // SAFETY: C contract.
                with_heap(|heap| unsafe { heap.release(ptr) });
            }
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut u8 {
            let Some(bytes) = count.checked_mul(size) else {
                $crate::c_abi::set_errno(libc::ENOMEM);
                return core::ptr::null_mut();
            };
            let p = allocate_or_errno(bytes, 16);
            if !p.is_null() {
                // SAFETY: a fresh block of at least `bytes` bytes.
                unsafe { p.write_bytes(0, bytes) };
            }
            p
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn realloc(ptr: *mut u8, size: usize) -> *mut u8 {
            if ptr.is_null() {
                return allocate_or_errno(size, 16);
            }
            if size == 0 {
                // SAFETY: C contract.
                unsafe { free(ptr) };
                return core::ptr::null_mut();
            }
            // SAFETY: C contract.
            let p = with_heap(|heap| unsafe { heap.resize(ptr, size) });
            if p.is_null() {
                $crate::c_abi::set_errno(libc::ENOMEM);
            }
            p
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn reallocarray(ptr: *mut u8, count: usize, size: usize) -> *mut u8 {
            match count.checked_mul(size) {
                // SAFETY: C contract.
                Some(bytes) => unsafe { realloc(ptr, bytes) },
                None => {
                    $crate::c_abi::set_errno(libc::ENOMEM);
                    core::ptr::null_mut()
                }
            }
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut u8 {
            if !align.is_power_of_two() {
                $crate::c_abi::set_errno(libc::EINVAL);
                return core::ptr::null_mut();
            }
            allocate_or_errno(size, align)
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut u8 {
            // SAFETY: same contract.
            unsafe { memalign(align, size) }
        }

        /// # Safety
        /// C contract (`out` is writable).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn posix_memalign(out: *mut *mut u8, align: usize, size: usize) -> i32 {
            if !align.is_power_of_two() || align % core::mem::size_of::<usize>() != 0 {
                return libc::EINVAL;
            }
            let p = allocate_or_errno(size, align);
            if p.is_null() {
                return libc::ENOMEM;
            }
            // SAFETY: C contract.
            unsafe { *out = p };
            0
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn valloc(size: usize) -> *mut u8 {
            allocate_or_errno(size, $crate::c_abi::PAGE)
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn pvalloc(size: usize) -> *mut u8 {
            let rounded = size.div_ceil($crate::c_abi::PAGE).max(1) * $crate::c_abi::PAGE;
            allocate_or_errno(rounded, $crate::c_abi::PAGE)
        }

        /// # Safety
        /// C contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn malloc_usable_size(ptr: *mut u8) -> usize {
            if ptr.is_null() {
                return 0;
            }
            // SAFETY: C contract.
            with_heap(|heap| unsafe { heap.usable(ptr) })
        }
    };
}
