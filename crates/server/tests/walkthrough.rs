//! The walk-through of `docs/api.md`, run as written: its shell blocks, extracted
//! in order and run under `set -eu -o pipefail` with `bash`, `curl` and `jq`
//! against a real server. Every answer must be a success, except the ones the
//! page marks `# 422`, which must be exactly those refusals.

mod common;

use common::*;

/// The shell blocks of the walk-through section, in order.
fn walkthrough() -> String {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md"))
        .expect("docs/api.md");
    let start = page.find("## The journey, with curl").expect("the section");
    let end = start + page[start..].find("\n## Routes").expect("the next section");
    let mut script = String::from("set -eu -o pipefail\n");
    let mut inside = false;
    for line in page[start..end].lines() {
        match line.trim_end() {
            "```sh" => inside = true,
            "```" => inside = false,
            l if inside => {
                script.push_str(l);
                script.push('\n');
            }
            _ => {}
        }
    }
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_walkthrough_runs_as_written() {
    let h = Harness::start().await;
    let script = walkthrough();
    assert!(script.lines().count() > 40, "the walk-through was found");
    let (base, admin) = (h.base.clone(), h.admin.token.clone());
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("E", base)
            .env("ADMIN", admin)
            .output()
            .expect("bash, curl and jq are installed (scripts/ci-deps.sh)")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the walk-through stopped: {}\nstderr:\n{stderr}\nstdout:\n{stdout}",
        run.status
    );
    let statuses: Vec<u16> = stderr
        .lines()
        .map(|l| {
            l.trim()
                .parse()
                .unwrap_or_else(|_| panic!("not a status on stderr: {l}\n{stderr}"))
        })
        .collect();
    let refusals = walkthrough().matches("# 422").count();
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        refusals,
        "{statuses:?}\n{stdout}"
    );
    assert!(
        statuses.iter().all(|s| (200..300).contains(s) || *s == 422),
        "{statuses:?}\n{stdout}"
    );
    assert!(statuses.len() > 40, "{statuses:?}");
    h.stop().await;
}
