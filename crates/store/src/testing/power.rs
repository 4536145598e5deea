//! A power-loss model of the file layer: files and names in memory, and, at a
//! simulated crash, only what was synced survives.
//!
//! File data survives once `fdatasync`/`fsync`ed; a created, renamed or
//! removed name, once its directory is synced. Optionally, unsynced writes
//! also survive in part: each 512-byte sector of each, kept or not at random
//! (a torn write). sled's own files are outside the model: its directory is
//! copied each time the store tells that sled is durable
//! ([`FileIo::engine_durable`]), and the image after a crash holds that copy.
//! From the crash on, every operation fails with `EIO`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::io::{FileIo, IoFile};

const SECTOR: u64 = 512;

#[derive(Default)]
struct FileNode {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// Writes since the last sync: offset and bytes.
    unsynced: Vec<(u64, Vec<u8>)>,
}

#[derive(Default, Clone)]
struct DirNode {
    live: BTreeMap<OsString, usize>,
    durable: BTreeMap<OsString, usize>,
}

enum Node {
    File(FileNode),
    Dir(DirNode),
}

struct State {
    nodes: Vec<Node>,
    ops: u64,
    crash_at: u64,
    crashed: bool,
    /// sled's files as of its last durable point, relative to the root.
    sled: Vec<(PathBuf, Vec<u8>)>,
    /// How many times sled was made durable.
    sled_points: u64,
}

struct Model {
    root: PathBuf,
    state: Mutex<State>,
}

/// A file system in memory under `root` (the store's directory) that loses
/// what was not synced at a simulated crash.
pub struct PowerLossFs {
    model: Arc<Model>,
}

fn lost() -> io::Error {
    io::Error::from_raw_os_error(5)
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl State {
    /// Counts an operation that changes something; fails from the crash on.
    fn tick(&mut self) -> io::Result<()> {
        if self.crashed {
            return Err(lost());
        }
        self.ops += 1;
        if self.ops >= self.crash_at {
            self.crashed = true;
            return Err(lost());
        }
        Ok(())
    }

    fn alive(&self) -> io::Result<()> {
        if self.crashed {
            Err(lost())
        } else {
            Ok(())
        }
    }

    fn dir(&mut self, ino: usize) -> io::Result<&mut DirNode> {
        match self.nodes.get_mut(ino) {
            Some(Node::Dir(d)) => Ok(d),
            _ => Err(not_found()),
        }
    }

    fn file(&mut self, ino: usize) -> io::Result<&mut FileNode> {
        match self.nodes.get_mut(ino) {
            Some(Node::File(f)) => Ok(f),
            _ => Err(not_found()),
        }
    }

    fn lookup(&mut self, parts: &[OsString]) -> io::Result<usize> {
        let mut ino = 0;
        for p in parts {
            ino = *self.dir(ino)?.live.get(p).ok_or_else(not_found)?;
        }
        Ok(ino)
    }

    fn add(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }
}

impl Model {
    /// The components of `path` below the root, and its name.
    fn parts(&self, path: &Path) -> io::Result<Vec<OsString>> {
        let rel = path.strip_prefix(&self.root).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "outside the modelled directory",
            )
        })?;
        rel.components()
            .map(|c| match c {
                Component::Normal(n) => Ok(n.to_os_string()),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a plain path",
                )),
            })
            .collect()
    }

    fn split(&self, path: &Path) -> io::Result<(Vec<OsString>, OsString)> {
        let mut parts = self.parts(path)?;
        let name = parts.pop().ok_or_else(not_found)?;
        Ok((parts, name))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PowerLossFs {
    /// An empty model of the directory `root`, which must exist on disk for sled.
    pub fn new(root: impl Into<PathBuf>) -> Arc<Self> {
        Arc::new(PowerLossFs {
            model: Arc::new(Model {
                root: root.into(),
                state: Mutex::new(State {
                    nodes: vec![Node::Dir(DirNode::default())],
                    ops: 0,
                    crash_at: u64::MAX,
                    crashed: false,
                    sled: Vec::new(),
                    sled_points: 0,
                }),
            }),
        })
    }

    /// A model of the store directory `root` as it is on disk: the journal
    /// and the head file move into the model (as synced, and removed from the
    /// disk), sled's files stay where they are, as of a durable point.
    pub fn adopt(root: impl Into<PathBuf>) -> io::Result<Arc<Self>> {
        let fs = Self::new(root);
        let root = fs.model.root.clone();
        let mut sled = Vec::new();
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            let name = entry.file_name();
            let modelled = name
                .to_str()
                .is_some_and(|n| n == "wal" || n == "ecoute-head" || n.starts_with("wal-damaged-"));
            if modelled {
                let mut s = fs.model.state();
                load(&mut s, 0, &entry.path(), name)?;
                drop(s);
                if entry.file_type()?.is_dir() {
                    std::fs::remove_dir_all(entry.path())?;
                } else {
                    std::fs::remove_file(entry.path())?;
                }
            } else if entry.file_type()?.is_dir() {
                snapshot(&root, &entry.path(), &mut sled)?;
            } else {
                sled.push((name.into(), std::fs::read(entry.path())?));
            }
        }
        fs.model.state().sled = sled;
        Ok(fs)
    }

    /// The power goes out at the `n`th changing operation from now (that one fails).
    pub fn crash_after(&self, n: u64) {
        let mut s = self.model.state();
        s.crash_at = s.ops.saturating_add(n.max(1));
    }

    /// The power goes out now.
    pub fn crash_now(&self) {
        self.model.state().crashed = true;
    }

    /// Whether the power went out.
    pub fn crashed(&self) -> bool {
        self.model.state().crashed
    }

    /// How many times the store made sled durable (checkpoints, closes).
    pub fn sled_points(&self) -> u64 {
        self.model.state().sled_points
    }

    /// Changing operations so far.
    pub fn ops(&self) -> u64 {
        self.model.state().ops
    }

    /// Writes what survives the crash into the directory `to`: sled's files as
    /// of its last durable point, and the modelled files and names that were
    /// synced — plus, with `torn`, a random part of the unsynced writes
    /// (sector by sector, from this seed).
    pub fn image(&self, to: &Path, torn: Option<u64>) -> io::Result<()> {
        let s = self.model.state();
        std::fs::create_dir_all(to)?;
        for (rel, bytes) in &s.sled {
            let path = to.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)?;
        }
        let mut rng = torn.map(|seed| seed | 1);
        write_dir(&s, 0, to, &mut rng)
    }
}

/// Loads `path`, named `name` in the directory `parent`, as synced.
fn load(s: &mut State, parent: usize, path: &Path, name: OsString) -> io::Result<()> {
    let ino = if path.is_dir() {
        let ino = s.add(Node::Dir(DirNode::default()));
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            load(s, ino, &entry.path(), entry.file_name())?;
        }
        ino
    } else {
        let data = std::fs::read(path)?;
        s.add(Node::File(FileNode {
            durable: data.clone(),
            data,
            unsynced: Vec::new(),
        }))
    };
    let dir = s.dir(parent)?;
    dir.live.insert(name.clone(), ino);
    dir.durable.insert(name, ino);
    Ok(())
}

fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

fn write_dir(s: &State, ino: usize, to: &Path, rng: &mut Option<u64>) -> io::Result<()> {
    let Some(Node::Dir(d)) = s.nodes.get(ino) else {
        return Ok(());
    };
    for (name, &child) in &d.durable {
        let path = to.join(name);
        match s.nodes.get(child) {
            Some(Node::Dir(_)) => {
                std::fs::create_dir_all(&path)?;
                write_dir(s, child, &path, rng)?;
            }
            Some(Node::File(f)) => {
                let mut bytes = f.durable.clone();
                if let Some(r) = rng.as_mut() {
                    for (offset, data) in &f.unsynced {
                        torn_write(&mut bytes, *offset, data, r);
                    }
                }
                std::fs::write(&path, bytes)?;
            }
            None => {}
        }
    }
    Ok(())
}

/// Applies the sectors of a write that happened to reach the disk.
fn torn_write(bytes: &mut Vec<u8>, offset: u64, data: &[u8], rng: &mut u64) {
    let mut at = offset;
    let end = offset + data.len() as u64;
    while at < end {
        let stop = ((at / SECTOR) + 1) * SECTOR;
        let stop = stop.min(end);
        if next(rng) % 2 == 0 {
            let (a, b) = ((at - offset) as usize, (stop - offset) as usize);
            let (fa, fb) = (at as usize, stop as usize);
            if bytes.len() < fb {
                bytes.resize(fb, 0);
            }
            bytes[fa..fb].copy_from_slice(&data[a..b]);
        }
        at = stop;
    }
}

fn snapshot(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            snapshot(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push((rel.to_path_buf(), std::fs::read(&path)?));
        }
    }
    Ok(())
}

struct ModelFile {
    model: Arc<Model>,
    ino: usize,
}

impl IoFile for ModelFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut s = self.model.state();
        s.alive()?;
        let f = s.file(self.ino)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(f.data.len());
        let n = buf.len().min(f.data.len() - start);
        buf[..n].copy_from_slice(&f.data[start..start + n]);
        Ok(n)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let mut s = self.model.state();
        s.tick()?;
        let f = s.file(self.ino)?;
        let start = offset as usize;
        if f.data.len() < start + buf.len() {
            f.data.resize(start + buf.len(), 0);
        }
        f.data[start..start + buf.len()].copy_from_slice(buf);
        f.unsynced.push((offset, buf.to_vec()));
        Ok(buf.len())
    }
    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.model.state();
        s.tick()?;
        let f = s.file(self.ino)?;
        f.durable.clone_from(&f.data);
        f.unsynced.clear();
        Ok(())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }
}

impl PowerLossFs {
    fn handle(&self, ino: usize) -> Box<dyn IoFile> {
        Box::new(ModelFile {
            model: self.model.clone(),
            ino,
        })
    }
}

impl FileIo for PowerLossFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn IoFile>> {
        let (dir, name) = self.model.split(path)?;
        let mut s = self.model.state();
        s.tick()?;
        let parent = s.lookup(&dir)?;
        s.dir(parent)?;
        let ino = s.add(Node::File(FileNode::default()));
        s.dir(parent)?.live.insert(name, ino);
        Ok(self.handle(ino))
    }
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn IoFile>> {
        let (dir, name) = self.model.split(path)?;
        let mut s = self.model.state();
        s.alive()?;
        let parent = s.lookup(&dir)?;
        if let Some(&ino) = s.dir(parent)?.live.get(&name) {
            s.file(ino)?;
            return Ok(self.handle(ino));
        }
        if !create {
            return Err(not_found());
        }
        s.tick()?;
        let ino = s.add(Node::File(FileNode::default()));
        s.dir(parent)?.live.insert(name, ino);
        Ok(self.handle(ino))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let parts = self.model.parts(path)?;
        let mut s = self.model.state();
        s.alive()?;
        let ino = s.lookup(&parts)?;
        Ok(s.file(ino)?.data.clone())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (fdir, fname) = self.model.split(from)?;
        let (tdir, tname) = self.model.split(to)?;
        let mut s = self.model.state();
        s.tick()?;
        let fp = s.lookup(&fdir)?;
        let tp = s.lookup(&tdir)?;
        s.dir(tp)?;
        let ino = s.dir(fp)?.live.remove(&fname).ok_or_else(not_found)?;
        s.dir(tp)?.live.insert(tname, ino);
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let (dir, name) = self.model.split(path)?;
        let mut s = self.model.state();
        s.tick()?;
        let parent = s.lookup(&dir)?;
        s.dir(parent)?.live.remove(&name).ok_or_else(not_found)?;
        Ok(())
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let parts = self.model.parts(path)?;
        let mut s = self.model.state();
        s.alive()?;
        let mut ino = 0;
        for p in parts {
            let found = s.dir(ino)?.live.get(&p).copied();
            ino = match found {
                Some(child) => child,
                None => {
                    s.tick()?;
                    let child = s.add(Node::Dir(DirNode::default()));
                    s.dir(ino)?.live.insert(p, child);
                    child
                }
            };
        }
        s.dir(ino).map(|_| ())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        let parts = self.model.parts(dir)?;
        let mut s = self.model.state();
        s.alive()?;
        let ino = s.lookup(&parts)?;
        Ok(s.dir(ino)?.live.keys().cloned().collect())
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let parts = self.model.parts(dir)?;
        let mut s = self.model.state();
        s.tick()?;
        let ino = s.lookup(&parts)?;
        let d = s.dir(ino)?;
        d.durable = d.live.clone();
        Ok(())
    }
    fn engine_durable(&self) {
        let mut s = self.model.state();
        if s.tick().is_err() {
            return;
        }
        let mut files = Vec::new();
        if snapshot(&self.model.root, &self.model.root, &mut files).is_ok() {
            s.sled = files;
            s.sled_points += 1;
        }
    }
}
