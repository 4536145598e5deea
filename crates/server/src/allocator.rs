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

/// Limits glibc to `DEFAULT_ARENAS` arenas, unless the operator set
/// `MALLOC_ARENA_MAX` (glibc then reads it itself). Call before threads start.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only changes a parameter of glibc's allocator; called
        // before other threads allocate, and with a valid parameter and value.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, DEFAULT_ARENAS);
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
