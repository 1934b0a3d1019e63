//! The C allocator under long runs. libtorch, the tokenizer and the parser allocate and free
//! large blocks from several threads. glibc's malloc keeps freed memory in per-thread arenas
//! and fragments under this mix (small long-lived allocations pinning the pages around large
//! short-lived tensors): a run's resident memory grew with the documents processed, past 2 GB
//! on 2,000 documents of 90 kB, while the live heap stayed under 300 MB (docs/RESULTS.md,
//! "Long documents: memory").
//!
//! So on Linux (glibc targets) the process's allocator is jemalloc (feature `jemalloc`, on by
//! default), linked with the standard names: libtorch's and every C library's `malloc` and
//! `free` resolve to it, as Rust's. Its size classes keep fragmentation bounded; its time-based
//! purging is off ([`malloc_conf`]: purging hands pages back that the next batch's tensors
//! fault in again, 1.7× the model's time in a measurement), and the pipeline calls
//! [`release`] after each chunk a stage has processed instead. Without the feature (or on
//! other targets) [`release`] is glibc's `malloc_trim`. `BIONER_MALLOC_DEFAULTS=1` turns
//! [`release`] off (for comparisons); jemalloc's own `MALLOC_CONF` variable still applies.

/// jemalloc's compiled-in options (read once, when it starts; `MALLOC_CONF` overrides):
/// no time-based purging of freed pages, see the module documentation.
#[cfg(all(feature = "jemalloc", target_os = "linux", target_env = "gnu"))]
#[unsafe(no_mangle)]
#[used]
pub static malloc_conf: ConfString = ConfString(c"dirty_decay_ms:-1,muzzy_decay_ms:-1".as_ptr());

/// A C string pointer that can sit in a `static`.
#[cfg(all(feature = "jemalloc", target_os = "linux", target_env = "gnu"))]
#[repr(transparent)]
pub struct ConfString(*const std::ffi::c_char);

// SAFETY: the pointer is to a string literal, never written.
#[cfg(all(feature = "jemalloc", target_os = "linux", target_env = "gnu"))]
unsafe impl Sync for ConfString {}

/// Which allocator serves `malloc` in this process.
pub fn allocator() -> &'static str {
    if cfg!(all(
        feature = "jemalloc",
        target_os = "linux",
        target_env = "gnu"
    )) {
        "jemalloc"
    } else if cfg!(all(target_os = "linux", target_env = "gnu")) {
        "glibc"
    } else {
        "system"
    }
}

/// Hands the free pages of every arena back to the system (jemalloc's `arena.<all>.purge`, or
/// glibc's `malloc_trim`); a no-op elsewhere or with `BIONER_MALLOC_DEFAULTS` set.
pub fn release() {
    use std::sync::OnceLock;
    static ENABLED: OnceLock<bool> = OnceLock::new();
    if !*ENABLED.get_or_init(|| std::env::var_os("BIONER_MALLOC_DEFAULTS").is_none()) {
        return;
    }
    #[cfg(all(feature = "jemalloc", target_os = "linux", target_env = "gnu"))]
    jemalloc::purge();
    #[cfg(all(not(feature = "jemalloc"), target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(feature = "jemalloc", target_os = "linux", target_env = "gnu"))]
pub mod jemalloc {
    //! The few `mallctl` calls bioner makes.
    use std::ffi::{CStr, c_void};

    /// Purges the freed pages of every arena (`MALLCTL_ARENAS_ALL` is 4096).
    pub fn purge() {
        // SAFETY: a documented control with no input or output.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                c"arena.4096.purge".as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            );
        }
    }

    /// A `size_t` statistic (`stats.allocated`, `stats.resident`, ...), refreshed first.
    pub fn stat(name: &CStr) -> Option<usize> {
        let mut epoch: u64 = 1;
        let mut len = std::mem::size_of::<u64>();
        let e = (&raw mut epoch).cast::<c_void>();
        // SAFETY: `epoch` takes and gives a u64.
        unsafe { tikv_jemalloc_sys::mallctl(c"epoch".as_ptr(), e, &mut len, e, len) };
        read(name)
    }

    /// A value of `T`'s C type (`size_t` statistics, `ssize_t` options such as
    /// `opt.dirty_decay_ms`, ...).
    pub fn read<T: Copy + Default>(name: &CStr) -> Option<T> {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: jemalloc writes at most `len` bytes and fails when the sizes differ.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        (rc == 0).then_some(value)
    }
}

#[cfg(all(test, feature = "jemalloc", target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::jemalloc::{read, stat};

    #[test]
    fn jemalloc_runs_with_purging_left_to_release() {
        assert_eq!(read::<isize>(c"opt.dirty_decay_ms"), Some(-1));
        assert_eq!(read::<isize>(c"opt.muzzy_decay_ms"), Some(-1));
    }

    #[test]
    fn libtorch_and_c_allocations_go_through_jemalloc_and_release_hands_them_back() {
        // other tests allocate and free beside this one
        const SIZE: usize = 256 << 20;
        const SLACK: usize = 16 << 20;
        let before = stat(c"stats.allocated").unwrap();
        let t = tch::Tensor::ones([(SIZE / 4) as i64], (tch::Kind::Float, tch::Device::Cpu));
        let during = stat(c"stats.allocated").unwrap();
        assert!(
            during + SLACK >= before + SIZE,
            "a 256 MiB libtorch tensor is not in jemalloc's statistics: {before} -> {during} bytes"
        );
        // SAFETY: a plain C allocation, freed at once.
        unsafe {
            let p = std::hint::black_box(libc::malloc(SIZE));
            assert!(!p.is_null());
            let now = stat(c"stats.allocated").unwrap();
            assert!(
                now + SLACK >= during + SIZE,
                "libc's malloc: {during} -> {now} bytes"
            );
            libc::free(std::hint::black_box(p));
        }
        drop(t);
        // The freed pages stay with jemalloc (no time-based purging) until `release`.
        let kept = stat(c"stats.resident").unwrap();
        super::release();
        let after = stat(c"stats.resident").unwrap();
        assert!(
            after + SIZE / 2 <= kept,
            "release() did not hand the freed 256 MiB back: resident {kept} -> {after} bytes"
        );
    }
}
