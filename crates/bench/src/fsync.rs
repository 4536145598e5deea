//! The physical floor: one small write plus `fdatasync` per operation.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::stats::{new_hist, payload, record, Figures, Window};

/// Size of the pre-written region the floor writes cycle through.
const REGION: u64 = 16 << 20;

/// How each floor write is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// `File::sync_data`, i.e. `fdatasync(2)`: what PostgreSQL's default
    /// `wal_sync_method` does, and the floor the targets refer to.
    Fdatasync,
    /// `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)` over the written
    /// range: what sled 0.34's `flush()` does on Linux instead of an fsync. It
    /// neither flushes the device's write cache nor file metadata.
    SyncFileRange,
}

/// Writes `len` bytes at the next offset of a pre-allocated, pre-synced file
/// and calls `sync_data`, in a loop, on one thread.
///
/// The file is filled and synced first, so that each `fdatasync` only has to
/// push the data block, not new extents or a new size: the cheapest durable
/// acknowledgement this disk can give.
pub fn floor(dir: &Path, len: usize, window: Window, kind: SyncKind) -> Result<Figures> {
    let path = dir.join("fsync-floor.dat");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(REGION >> 20) {
        file.write_all(&zeros)
            .with_context(|| format!("pre-filling {}", path.display()))?;
    }
    file.sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;

    let data = payload(7, len);
    let mut offset = 0u64;
    let mut hist = new_hist();
    let mut ops = 0u64;
    let start = Instant::now();
    let from = start + window.warmup;
    let until = from + window.measure;
    loop {
        let t0 = Instant::now();
        if t0 >= until {
            break;
        }
        file.seek(SeekFrom::Start(offset))
            .context("seeking the floor file")?;
        file.write_all(&data).context("writing the floor file")?;
        match kind {
            SyncKind::Fdatasync => file.sync_data().context("fdatasync of the floor file")?,
            SyncKind::SyncFileRange => sync_file_range(&file, offset, data.len())?,
        }
        let t1 = Instant::now();
        if t1 >= from && t1 <= until {
            record(&mut hist, t1 - t0);
            ops += 1;
        }
        // Next 4 KiB block, so that every write touches a new page of the region.
        offset = (offset + 4096) % REGION;
    }
    let _ = std::fs::remove_file(&path);
    Ok(Figures::from_hist(ops, window.measure, &hist))
}

#[cfg(target_os = "linux")]
fn sync_file_range(file: &std::fs::File, offset: u64, len: usize) -> Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: a plain syscall on an open descriptor, with no pointers.
    let ret = unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER,
        )
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error()).context("sync_file_range of the floor file");
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn sync_file_range(file: &std::fs::File, _offset: u64, _len: usize) -> Result<()> {
    file.sync_data()
        .context("fdatasync of the floor file (no sync_file_range here)")
}
