//! The C allocator, tuned for a long-running server on few cores.
//!
//! glibc's `malloc` gives each thread that contends for it an arena of its own,
//! up to eight per core, and keeps what is freed in them for reuse. For a
//! server whose tokio workers, blocking pool, committer, flusher and projection
//! threads all allocate, that is memory held long after a burst (a read-model
//! rebuild, a large export) is over. Two settings bound it (measured in
//! `docs/benchmarks.md`, "Server (HTTP)"): fewer arenas, and handing free pages
//! back to the kernel once a burst ends. Elsewhere than glibc on Linux both are
//! no-ops.

/// How often the server hands free memory back to the kernel.
pub const RELEASE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Arenas allowed when `MALLOC_ARENA_MAX` is not set in the environment.
pub const DEFAULT_ARENAS: i32 = 2;

/// Allocations of this many bytes or more get pages of their own (`mmap`),
/// when `MALLOC_MMAP_THRESHOLD_` is not set.
pub const DEFAULT_MMAP_THRESHOLD: i32 = 128 << 10;

/// Tunes glibc's allocator for the server, unless the operator set the same
/// through the environment (glibc then reads it itself). Call before threads start.
///
/// - At most `DEFAULT_ARENAS` arenas (`MALLOC_ARENA_MAX`).
/// - A fixed threshold of `DEFAULT_MMAP_THRESHOLD` above which an allocation
///   is mapped on its own (`MALLOC_MMAP_THRESHOLD_`). glibc otherwise raises
///   the threshold each time such a block is freed, up to 32 MiB, and from
///   then on serves the large short-lived buffers of a rebuild (chunks of
///   events, snapshot pages, write batches) from the heap, where they leave
///   holes between long-lived entries: a restart measured 10 MB less with it.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: `mallopt` only changes a parameter of glibc's allocator; called
            // before other threads allocate, and with a valid parameter and value.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, DEFAULT_ARENAS);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            // SAFETY: as above.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD);
            }
        }
    }
}

/// Hands the allocator's free pages back to the kernel (after a burst).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free memory to the kernel; it is
    // thread-safe and touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
