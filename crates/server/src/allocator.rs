//! The C allocator, tuned for a long-running server on few cores.
//!
//! glibc's `malloc` gives each thread that contends for it an arena of its own,
//! up to eight per core, and keeps what is freed in them for reuse. For a
//! server whose tokio workers, blocking pool, committer, flusher and projection
//! threads all allocate, that is memory held long after a burst (a read-model
//! rebuild, a large export) is over. Three settings bound it (measured in
//! `docs/benchmarks.md`, "Server (HTTP)"): fewer arenas, large blocks mapped
//! apart rather than carved from the heap, and handing free pages back to the
//! kernel once a burst ends. Elsewhere than glibc on Linux they are no-ops.

/// How often the server hands free memory back to the kernel.
pub const RELEASE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Arenas allowed when `MALLOC_ARENA_MAX` is not set in the environment.
pub const DEFAULT_ARENAS: i32 = 2;

/// Allocations of this size or more get pages of their own (`mmap`) when
/// `MALLOC_MMAP_THRESHOLD_` is not set in the environment. glibc starts at
/// 128 KiB and raises the threshold each time such a block is freed, up to
/// 32 MiB: after a read-model rebuild every chunk's large buffers (a chunk's
/// events and decoded events, 0.5–1 MiB each) were carved out of the heap
/// between long-lived entries, and what they left was scattered free space
/// the kernel could not take back. Fixed here, they come and go as pages of
/// their own; blocks under it (a snapshot page of 256 KiB) stay in the heap.
pub const DEFAULT_MMAP_THRESHOLD: i32 = 512 * 1024;

/// Tunes glibc's allocator for the server: at most `DEFAULT_ARENAS` arenas, and
/// large blocks (`DEFAULT_MMAP_THRESHOLD`) mapped apart, each unless the
/// operator set the matching variable (`MALLOC_ARENA_MAX`,
/// `MALLOC_MMAP_THRESHOLD_`; glibc then reads it itself). Call before threads start.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (variable, parameter, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, DEFAULT_ARENAS),
        (
            "MALLOC_MMAP_THRESHOLD_",
            libc::M_MMAP_THRESHOLD,
            DEFAULT_MMAP_THRESHOLD,
        ),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: `mallopt` only changes a parameter of glibc's allocator; called
            // before other threads allocate, and with a valid parameter and value.
            unsafe {
                libc::mallopt(parameter, value);
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
