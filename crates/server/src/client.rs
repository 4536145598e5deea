//! The commands that talk to a running server over its API: backups, access answers,
//! replays and exports work while the server holds the data directory.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

/// Where the server is, and who asks.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// The server's base URL.
    #[arg(long, env = "ECOUTE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Why the data is read, from the server's closed list (`X-Purpose`): an
    /// auditor's `replay` and `export` show personal values only with
    /// `audit-values`.
    #[arg(long, env = "ECOUTE_PURPOSE")]
    pub purpose: Option<String>,
}

/// The bearer token, from `ECOUTE_TOKEN` only (administrator for backups,
/// data-protection officer for access answers, an auditor or referent for replays
/// and exports): never a command-line argument, which every local user can read in
/// the process list.
fn token() -> Result<String> {
    std::env::var("ECOUTE_TOKEN").context("set ECOUTE_TOKEN to a bearer token")
}

/// The commands that go through a running server.
#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// Copies the event log and the access log, while the server runs, into DIR (on
    /// the server's machine; absent or empty). Keys are never copied.
    Backup {
        /// An absolute path.
        dir: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
    /// Prints what is held about a person (the right of access), as Markdown.
    Access {
        /// The person's subject id.
        subject: String,
        /// JSON instead of Markdown.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Prints a case exactly as recorded, or as it stood at a moment.
    Replay {
        /// What to replay: `case`.
        kind: String,
        /// The case id.
        id: String,
        /// An RFC 3339 time.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Writes a case's history to FILE, stamped with the log's chain head.
    Export {
        /// The case id.
        case: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
    /// Checks an export against the log; exits 1 if anything differs.
    VerifyExport {
        /// The export file.
        file: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
}

async fn call(
    remote: &Remote,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<reqwest::Response> {
    let url = format!("{}{path}", remote.url.trim_end_matches('/'));
    let mut req = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(token()?);
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(purpose) = &remote.purpose {
        req = req.header("X-Purpose", purpose);
    }
    let r = req
        .send()
        .await
        .with_context(|| format!("reaching {}", remote.url))?;
    if !r.status().is_success() {
        let status = r.status();
        let problem: Value = r.json().await.unwrap_or_default();
        bail!(
            "{status}: {}",
            problem["detail"].as_str().unwrap_or("no detail")
        );
    }
    Ok(r)
}

/// Runs one remote command.
pub async fn run(command: RemoteCommand) -> Result<()> {
    match command {
        RemoteCommand::Backup { dir, remote } => {
            let dir = std::path::absolute(&dir).context("resolving the directory")?;
            let a: Value = call(
                &remote,
                reqwest::Method::POST,
                "/v1/backup",
                Some(json!({"dir": dir})),
            )
            .await?
            .json()
            .await?;
            println!("backup written to {}", dir.display());
            println!(
                "event log: {} records, chain head {}",
                a["log_records"], a["log_chain_head"]
            );
            println!(
                "access log: {} records, chain head {}",
                a["access_log_records"], a["access_log_chain_head"]
            );
            println!("the subjects' keys are not in it: back up <data>/keys on its own");
        }
        RemoteCommand::Access {
            subject,
            json,
            remote,
        } => {
            let format = if json { "json" } else { "markdown" };
            let r = call(
                &remote,
                reqwest::Method::GET,
                &format!("/v1/subjects/{subject}/access?format={format}"),
                None,
            )
            .await?;
            println!("{}", r.text().await?);
        }
        RemoteCommand::Replay {
            kind,
            id,
            at,
            remote,
        } => {
            if kind != "case" {
                bail!("only cases are replayed: `ecoute replay case ID`");
            }
            let mut path = format!("/v1/cases/{id}/history");
            if let Some(at) = at {
                let at = chrono::DateTime::parse_from_rfc3339(&at)
                    .with_context(|| format!("{at} is not an RFC 3339 time"))?;
                path.push_str(&format!("?at={}", at.to_rfc3339().replace('+', "%2B")));
            }
            let h: Value = call(&remote, reqwest::Method::GET, &path, None)
                .await?
                .json()
                .await?;
            for e in h["events"].as_array().into_iter().flatten() {
                println!(
                    "{:>8}  {}  {}@{}  {}  {}",
                    e["position"],
                    e["recorded_at"].as_str().unwrap_or_default(),
                    e["stream"].as_str().unwrap_or_default(),
                    e["version"],
                    e["type"].as_str().unwrap_or_default(),
                    e["data"]
                );
            }
            println!("state: {}", h["state"]);
        }
        RemoteCommand::Export { case, out, remote } => {
            let text = call(
                &remote,
                reqwest::Method::GET,
                &format!("/v1/cases/{case}/export"),
                None,
            )
            .await?
            .text()
            .await?;
            let doc: Value = serde_json::from_str(&text)?;
            std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{} events written to {}, stamped at log head {} (chain {})",
                doc["events"].as_array().map_or(0, Vec::len),
                out.display(),
                doc["log"]["head"],
                doc["log"]["chain_head"]
            );
        }
        RemoteCommand::VerifyExport { file, remote } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let doc: Value = serde_json::from_str(&text).context("the export is not JSON")?;
            let case = doc["case_id"]
                .as_str()
                .context("the export names no case_id")?
                .to_string();
            let check: Value = call(
                &remote,
                reqwest::Method::POST,
                &format!("/v1/cases/{case}/export/verify"),
                Some(doc),
            )
            .await?
            .json()
            .await?;
            println!(
                "{} events checked; the log up to the stamped head is {}; {} erased since; \
                 {} withheld in the export (their values not checked)",
                check["events_checked"],
                if check["log_unaltered"] == true {
                    "unaltered"
                } else {
                    "ALTERED"
                },
                check["erased_since"],
                check["withheld"]
            );
            for f in check["faults"].as_array().into_iter().flatten() {
                println!("fault: {}", f.as_str().unwrap_or_default());
            }
            if check["valid"] != true {
                bail!("the export does not match the log");
            }
            println!("the export matches the log");
        }
    }
    Ok(())
}
