//! A file layer that makes the Nth call of one kind fail once: a full disk,
//! an I/O error, or a short write.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::io::{FileIo, IoFile, RealIo};

/// A kind of file operation a fault can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// A positioned write.
    Write,
    /// `fdatasync` or `fsync` of a file.
    Sync,
    /// A rename (the journal's next segment, a damaged journal kept aside).
    Rename,
    /// Creating a file (a segment, the spare, the head file).
    Create,
    /// `fsync` of a directory.
    SyncDir,
    /// Removing a file (a checkpointed segment).
    Remove,
}

impl Step {
    /// Every kind, for tables.
    pub const ALL: [Step; 6] = [
        Step::Write,
        Step::Sync,
        Step::Rename,
        Step::Create,
        Step::SyncDir,
        Step::Remove,
    ];

    fn slot(self) -> usize {
        match self {
            Step::Write => 0,
            Step::Sync => 1,
            Step::Rename => 2,
            Step::Create => 3,
            Step::SyncDir => 4,
            Step::Remove => 5,
        }
    }
}

/// What the failing call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `ENOSPC`.
    NoSpace,
    /// `EIO`.
    Eio,
    /// A write that writes half of what it was given and says so (not an
    /// error); on any other step, `EIO`.
    ShortWrite,
}

#[derive(Default)]
struct State {
    plan: Option<(Step, u64, Fault)>,
    calls: [u64; 6],
    fired: bool,
}

/// The real file system, with one planned fault.
#[derive(Default)]
pub struct FaultyIo {
    state: Arc<Mutex<State>>,
}

enum Hit {
    Pass,
    Fail(io::Error),
    Short,
}

fn hit(state: &Mutex<State>, step: Step) -> Hit {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    s.calls[step.slot()] += 1;
    let n = s.calls[step.slot()];
    match s.plan {
        Some((st, nth, fault)) if st == step && nth == n && !s.fired => {
            s.fired = true;
            match (fault, step) {
                (Fault::ShortWrite, Step::Write) => Hit::Short,
                (Fault::NoSpace, _) => Hit::Fail(io::Error::from_raw_os_error(28)),
                _ => Hit::Fail(io::Error::from_raw_os_error(5)),
            }
        }
        _ => Hit::Pass,
    }
}

fn pass(state: &Mutex<State>, step: Step) -> io::Result<()> {
    match hit(state, step) {
        Hit::Fail(e) => Err(e),
        Hit::Pass | Hit::Short => Ok(()),
    }
}

impl FaultyIo {
    /// A healthy layer: nothing planned yet.
    pub fn new() -> Arc<Self> {
        Arc::new(FaultyIo::default())
    }

    /// Plans one fault: the `nth` call (from 1, counted from now) of `step` fails with `fault`.
    pub fn arm(&self, step: Step, nth: u64, fault: Fault) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = State {
            plan: Some((step, nth, fault)),
            ..State::default()
        };
    }

    /// Whether the planned fault happened.
    pub fn fired(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).fired
    }

    /// Calls of `step` since the fault was planned.
    pub fn calls(&self, step: Step) -> u64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).calls[step.slot()]
    }
}

struct FaultyFile {
    inner: Box<dyn IoFile>,
    state: Arc<Mutex<State>>,
}

impl IoFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        match hit(&self.state, Step::Write) {
            Hit::Pass => self.inner.write_at(buf, offset),
            Hit::Short => self.inner.write_at(&buf[..buf.len().div_ceil(2)], offset),
            Hit::Fail(e) => {
                // A full disk or a failing device often takes part of the write.
                let _ = self.inner.write_at(&buf[..buf.len() / 3], offset);
                Err(e)
            }
        }
    }
    fn sync_data(&self) -> io::Result<()> {
        pass(&self.state, Step::Sync)?;
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        pass(&self.state, Step::Sync)?;
        self.inner.sync_all()
    }
}

impl FaultyIo {
    fn wrap(&self, f: Box<dyn IoFile>) -> Box<dyn IoFile> {
        Box::new(FaultyFile {
            inner: f,
            state: self.state.clone(),
        })
    }
}

impl FileIo for FaultyIo {
    fn create(&self, path: &Path) -> io::Result<Box<dyn IoFile>> {
        pass(&self.state, Step::Create)?;
        Ok(self.wrap(RealIo.create(path)?))
    }
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn IoFile>> {
        if create && !path.exists() {
            pass(&self.state, Step::Create)?;
        }
        Ok(self.wrap(RealIo.open(path, create)?))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        RealIo.read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        pass(&self.state, Step::Rename)?;
        RealIo.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        pass(&self.state, Step::Remove)?;
        RealIo.remove_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        RealIo.create_dir_all(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        RealIo.list(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        pass(&self.state, Step::SyncDir)?;
        RealIo.sync_dir(dir)
    }
}
