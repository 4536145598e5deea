//! Every file the server writes — the data directory, the key store, the logs, a
//! backup, an export — is readable by its user only.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::json;

fn modes(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::symlink_metadata(&path)
            .unwrap()
            .permissions()
            .mode();
        if path.is_dir() {
            modes(&path, out);
        }
        out.push((path, mode));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_written_is_its_owners_alone() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    transferred_case(&h, &listener, "69").await;
    let backup = h.dir.path().join("backup");
    h.post(
        &h.admin,
        "/v1/backup",
        json!({"dir": backup.to_str().unwrap()}),
    )
    .await
    .ok();
    let dir = h.stop().await;
    let mut all = Vec::new();
    modes(dir.path(), &mut all);
    assert!(all.len() > 10, "a data directory and a backup: {all:?}");
    for (path, mode) in all {
        assert_eq!(mode & 0o077, 0, "{} is {:o}", path.display(), mode & 0o777);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_goes_only_into_an_empty_directory_of_the_servers_user() {
    let h = Harness::start().await;
    let full = h.dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    h.post(
        &h.admin,
        "/v1/backup",
        json!({"dir": full.to_str().unwrap()}),
    )
    .await
    .problem(400, "bad-input");
    h.post(&h.admin, "/v1/backup", json!({"dir": "relative/path"}))
        .await
        .problem(400, "bad-input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_file_others_may_read_is_refused() {
    let h = Harness::start().await;
    let master = h.master.clone();
    let dir = h.stop().await;
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, master.to_hex()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = recover_admin(dir.path(), &key_file);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("may be read by others"), "{err}");
}
