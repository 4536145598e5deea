//! The file operations under the journal and the head file, behind a trait so
//! that tests can make them fail or lose what was not synced.
//!
//! Only the journal (`wal/`, `wal-damaged-*`) and the head file go through
//! here; sled does its own I/O. [`RealIo`] is the operating system's file
//! system; `crate::testing` has a faulty layer and a power-loss model.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// An open file: positioned reads and writes, and the two syncs.
pub trait IoFile: Send + Sync {
    /// Reads at `offset`; may return fewer bytes than asked (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes at `offset`; may write fewer bytes than given (a short write).
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;
    /// `fdatasync`: the data written so far (and the size) survive a power loss.
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync`: the data and all of the file's metadata survive a power loss.
    fn sync_all(&self) -> io::Result<()>;
}

/// The file-system operations the journal and the head file use.
///
/// A new or renamed name survives a power loss only once its directory is
/// synced ([`FileIo::sync_dir`]); callers do that where it matters.
pub trait FileIo: Send + Sync + 'static {
    /// Creates `path` (truncating it if it exists), for reading and writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn IoFile>>;
    /// Opens `path` for reading and writing, creating it empty if `create` and absent.
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn IoFile>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Renames a file or a directory.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The names in a directory (`NotFound` if it does not exist).
    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>>;
    /// Makes the names in `dir` (created, renamed, removed) survive a power loss.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Told after sled's files were made durable (its flush and syncs); a
    /// power-loss model notes sled's state here. Nothing to do on a real disk.
    fn engine_durable(&self) {}
}

/// The shared handle the store keeps.
pub(crate) type Io = Arc<dyn FileIo>;

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealIo;

struct RealFile(std::fs::File);

impl IoFile for RealFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.0, buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::write_at(&self.0, buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }
}

impl FileIo for RealIo {
    fn create(&self, path: &Path) -> io::Result<Box<dyn IoFile>> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn IoFile>> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect()
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }
}

/// Writes all of `buf` at `offset`, going on after short writes.
pub(crate) fn write_all_at(file: &dyn IoFile, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.write_at(buf, offset) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing")),
            Ok(n) => {
                buf = buf.get(n..).unwrap_or_default();
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the file.
pub(crate) fn read_full_at(file: &dyn IoFile, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let Some(rest) = buf.get_mut(done..) else {
            break;
        };
        match file.read_at(rest, offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Creates the directory `dir` and makes its name durable in its parent.
pub(crate) fn create_dir_durably(io: &dyn FileIo, dir: &Path) -> io::Result<()> {
    let existed = io.list(dir).is_ok();
    io.create_dir_all(dir)?;
    if !existed {
        if let Some(parent) = dir.parent() {
            io.sync_dir(parent)?;
        }
    }
    Ok(())
}
