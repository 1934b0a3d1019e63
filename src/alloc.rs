//! The C allocator under long runs. libtorch, the tokenizer and the parser allocate and free
//! large blocks from several threads; glibc's malloc keeps freed memory in per-thread arenas
//! and does not hand it back to the system on its own, so a run's resident memory grows with
//! fragmentation long after its working set has stopped growing (docs/RESULTS.md, "Long
//! documents"). The pipeline calls [`release`] after each chunk a stage has processed.
//! `BIONER_MALLOC_DEFAULTS=1` leaves glibc's behaviour alone (for comparisons).

/// Hands the free pages of every malloc arena back to the system (glibc's `malloc_trim`);
/// a no-op elsewhere.
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::OnceLock;
        static ENABLED: OnceLock<bool> = OnceLock::new();
        if *ENABLED.get_or_init(|| std::env::var_os("BIONER_MALLOC_DEFAULTS").is_none()) {
            // SAFETY: malloc_trim only returns free memory to the system; it is thread-safe.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    }
}
