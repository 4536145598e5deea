//! Starting the ecoute server for a benchmark: the real `ecoute` binary as a child
//! process (`ecoute --data-dir DIR serve --addr 127.0.0.1:0`), or the library's
//! [`ecoute_server::Server`] inside the benchmark's own process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ecoute_server::{AppConfig, HttpConfig, MasterKey, ServeConfig, Server};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The `ecoute` binary as a child process: the server has its own process and
    /// runtime (but shares the machine's cores with the benchmark's clients).
    Process,
    /// `ecoute_server::Server::start` on the benchmark's own tokio runtime: server and
    /// clients share one runtime and its worker threads.
    InProcess,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "process" => Ok(Mode::Process),
            "in-process" => Ok(Mode::InProcess),
            other => Err(format!(
                "unknown server mode {other:?}: process or in-process"
            )),
        }
    }
}

impl Mode {
    /// A short description for the output.
    pub fn describe(self) -> &'static str {
        match self {
            Mode::Process => {
                "the `ecoute` binary as a child process (its own runtime; clients and server share the machine's cores)"
            }
            Mode::InProcess => {
                "in-process (`Server::start`: clients and server share one tokio runtime and the machine's cores)"
            }
        }
    }
}

/// The `ecoute` binary beside the running benchmark, in the same target directory.
pub fn sibling_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the benchmark's executable")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("the benchmark's executable has no directory"))?;
    Ok(dir.join(format!("ecoute{}", std::env::consts::EXE_SUFFIX)))
}

enum Inner {
    Child(Child),
    InProcess(Server),
}

/// A server started for a benchmark.
pub struct Running {
    /// `http://ADDR`.
    pub base: String,
    /// The first administrator's bearer token, when the data directory was empty.
    pub admin_token: Option<String>,
    /// The server's process id (the benchmark's own in-process).
    pub pid: u32,
    /// From launch until it listened.
    pub startup: Duration,
    inner: Inner,
}

impl Running {
    /// Starts a durable server (the defaults of `ecoute serve`) on `data_dir` with
    /// `master_key` (given to a child process as `ECOUTE_MASTER_KEY`).
    ///
    /// As a child process, `serve_args` are added to `ecoute serve`'s arguments, and
    /// its logs (default level, `info`, unless `RUST_LOG` says otherwise) go to
    /// `log_file`. In-process, both are ignored (and nothing is logged: no
    /// subscriber is installed).
    pub async fn start(
        mode: Mode,
        binary: &Path,
        data_dir: &Path,
        log_file: &Path,
        serve_args: &[String],
        master_key: &MasterKey,
        wait: Duration,
    ) -> Result<Running> {
        let launched = Instant::now();
        match mode {
            Mode::InProcess => {
                let config = ServeConfig {
                    app: AppConfig::new(data_dir, master_key.clone()),
                    addr: "127.0.0.1:0".parse()?,
                    http: HttpConfig::default(),
                    ops_addr: None,
                };
                let server = Server::start(config)
                    .await
                    .map_err(|e| anyhow!("starting the server in-process: {e}"))?;
                Ok(Running {
                    base: format!("http://{}", server.addr()),
                    admin_token: server.first_admin().map(|(_, t)| t.clone()),
                    pid: std::process::id(),
                    startup: launched.elapsed(),
                    inner: Inner::InProcess(server),
                })
            }
            Mode::Process => {
                if !binary.is_file() {
                    bail!(
                        "{} not found: build it first with `cargo build --release -p ecoute-server` \
                         (same target directory as the benchmark), or pass --ecoute PATH",
                        binary.display()
                    );
                }
                let log = std::fs::File::create(log_file)
                    .with_context(|| format!("creating {}", log_file.display()))?;
                let mut child = Command::new(binary)
                    .arg("--data-dir")
                    .arg(data_dir)
                    .args(["serve", "--addr", "127.0.0.1:0"])
                    .args(serve_args)
                    .env("ECOUTE_MASTER_KEY", master_key.to_hex())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::from(log))
                    .kill_on_drop(true)
                    .spawn()
                    .with_context(|| format!("starting {}", binary.display()))?;
                let pid = child
                    .id()
                    .ok_or_else(|| anyhow!("the server exited at once"))?;
                let stdout = child
                    .stdout
                    .take()
                    .ok_or_else(|| anyhow!("no stdout from the server"))?;
                let mut lines = BufReader::new(stdout).lines();
                let mut admin_token = None;
                let base = tokio::time::timeout(wait, async {
                    while let Some(line) = lines.next_line().await? {
                        if let Some(t) = line.strip_prefix("their token, shown this once: ") {
                            admin_token = Some(t.trim().to_string());
                        }
                        if let Some(addr) = line.strip_prefix("listening on ") {
                            return Ok(addr.trim().to_string());
                        }
                    }
                    Err(anyhow!("the server closed its output before listening"))
                })
                .await;
                let base = match base {
                    Ok(Ok(base)) => base,
                    Ok(Err(e)) => {
                        let _ = child.wait().await;
                        bail!("{e}; its log:\n{}", tail(log_file));
                    }
                    Err(_) => bail!(
                        "the server did not listen within {} s; its log:\n{}",
                        wait.as_secs(),
                        tail(log_file)
                    ),
                };
                // Keep reading its stdout, so that a later line never meets a closed pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                Ok(Running {
                    base,
                    admin_token,
                    pid,
                    startup: launched.elapsed(),
                    inner: Inner::Child(child),
                })
            }
        }
    }

    /// Polls `GET /readyz` until it answers 200 (the projections have caught up).
    /// Returns how long it took.
    pub async fn wait_ready(&self, client: &reqwest::Client, wait: Duration) -> Result<Duration> {
        let started = Instant::now();
        let url = format!("{}/readyz", self.base);
        loop {
            if let Ok(r) = client.get(&url).send().await {
                if r.status() == reqwest::StatusCode::OK {
                    return Ok(started.elapsed());
                }
            }
            if started.elapsed() > wait {
                bail!("{url} did not answer 200 within {} s", wait.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server gracefully (SIGTERM to a child: it finishes the requests in
    /// flight, stops the projections and closes the stores), waiting at most `wait`.
    pub async fn stop(self, wait: Duration) -> Result<()> {
        match self.inner {
            Inner::InProcess(server) => server
                .shutdown()
                .await
                .map_err(|e| anyhow!("stopping the server: {e}")),
            Inner::Child(mut child) => {
                let pid = libc::pid_t::try_from(self.pid).context("process id")?;
                // SAFETY: `kill` only sends a signal to the child we started and still own
                // (it has not been waited for, so the id cannot have been reused).
                let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
                if sent != 0 {
                    bail!(
                        "sending SIGTERM to the server: {}",
                        std::io::Error::last_os_error()
                    );
                }
                match tokio::time::timeout(wait, child.wait()).await {
                    Ok(status) => {
                        let status = status.context("waiting for the server")?;
                        if !status.success() {
                            bail!("the server exited with {status}");
                        }
                        Ok(())
                    }
                    Err(_) => {
                        child.kill().await.context("killing the server")?;
                        bail!("the server did not stop within {} s", wait.as_secs())
                    }
                }
            }
        }
    }
}

/// The last lines of a log file, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS`: resident now, in KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size so far, in KiB.
    pub hwm_kib: u64,
}

impl Memory {
    /// Reads `VmRSS` and `VmHWM` of `pid` (zeros where they cannot be read).
    pub fn of(pid: u32) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Memory {
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
        }
    }

    /// `VmRSS` in MiB.
    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    /// `VmHWM` in MiB.
    pub fn hwm_mib(&self) -> f64 {
        self.hwm_kib as f64 / 1024.0
    }

    /// `VmRSS` in MB (10^6 bytes, the unit of the 200 MB target).
    pub fn rss_mb(&self) -> f64 {
        self.rss_kib as f64 * 1024.0 / 1e6
    }

    /// `VmHWM` in MB.
    pub fn hwm_mb(&self) -> f64 {
        self.hwm_kib as f64 * 1024.0 / 1e6
    }
}

/// A new master key, for a new data directory.
pub fn new_master_key() -> Result<MasterKey> {
    MasterKey::generate().map_err(|e| anyhow!("drawing a master key: {e}"))
}

/// Bytes under a directory (file sizes, recursively).
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/<pid>/stat` (0 where it cannot be read).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3, state.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    (ticks(11) + ticks(12)) as f64 / hz
}

/// Context switches (voluntary and not) of all a process's live threads so far, and
/// how many threads it has, from `/proc/<pid>/task/*/status`.
pub fn context_switches(pid: u32) -> (u64, usize) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    let mut switches = 0;
    let mut threads = 0;
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        threads += 1;
        switches += status
            .lines()
            .filter(|l| {
                l.starts_with("voluntary_ctxt_switches:")
                    || l.starts_with("nonvoluntary_ctxt_switches:")
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    (switches, threads)
}

/// CPU seconds (user + system) and context switches (voluntary and not) of this
/// whole process so far, threads that have exited included (`getrusage`).
pub fn own_usage() -> (f64, u64) {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct, which
    // `getrusage` only writes into.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for the call's duration.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return (0.0, 0);
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let switches = usage.ru_nvcsw.max(0) as u64 + usage.ru_nivcsw.max(0) as u64;
    (seconds(usage.ru_utime) + seconds(usage.ru_stime), switches)
}
