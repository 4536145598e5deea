//! The key store's promises: values sealed per subject, a destroyed key gone from
//! every file after the next epoch (a forensic scan with the master key in hand),
//! every step of a new epoch, a master-key rotation and a migration survived, and
//! damage reported, never a panic.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ecoute_domain::Whose;
use uuid::Uuid;

use super::disk::{self, crash_at};
use super::*;

fn subject(n: u128) -> Subject {
    Subject {
        id: SubjectId::from_uuid(Uuid::from_u128(n)),
        whose: Whose::Caller,
    }
}

fn open(dir: &Path, master: &MasterKey) -> KeyStore {
    KeyStore::open(dir, master).unwrap()
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}

fn found(files: &[(PathBuf, Vec<u8>)], needle: &[u8]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
        .map(|(p, _)| p.clone())
        .collect()
}

/// Every KEK that any 72 bytes of any file give up under the master key, for any
/// epoch up to `epochs`: what a forensic reader with the master key recovers.
fn keks(files: &[(PathBuf, Vec<u8>)], master: &MasterKey, epochs: u64) -> Vec<Secret> {
    let mut out = Vec::new();
    for (_, bytes) in files {
        for w in bytes.windows(WRAPPED) {
            let w: &[u8; WRAPPED] = w.try_into().unwrap();
            for e in 1..=epochs {
                if let Some(k) = unwrap(&master.0, &kek_aad(e), w) {
                    out.push(k);
                }
            }
        }
    }
    out
}

/// Whether any 72 bytes of any file open as `subject`'s key, under the master key
/// or under any KEK recoverable with it.
fn key_recoverable(
    files: &[(PathBuf, Vec<u8>)],
    master: &MasterKey,
    epochs: u64,
    subject: SubjectId,
) -> bool {
    key_opens(files, master, keks(files, master, epochs), subject)
}

/// Whether any 72 bytes of any file open as `subject`'s key, under the master key
/// or any of `by`.
fn key_opens(
    files: &[(PathBuf, Vec<u8>)],
    master: &MasterKey,
    mut by: Vec<Secret>,
    subject: SubjectId,
) -> bool {
    by.push(Secret(master.0));
    files.iter().any(|(_, bytes)| {
        bytes.windows(WRAPPED).any(|w| {
            let w: &[u8; WRAPPED] = w.try_into().unwrap();
            by.iter()
                .any(|k| unwrap(&k.0, &aad(b"key", subject), w).is_some())
        })
    })
}

/// A store with `n` subjects (1..=n), each with a sealed value; returns the values.
fn populated(dir: &Path, master: &MasterKey, n: u128) -> Vec<(Subject, Sealed)> {
    let keys = open(dir, master);
    let subjects: Vec<Subject> = (1..=n).map(subject).collect();
    keys.ensure(&subjects.iter().map(|s| s.id).collect::<Vec<_>>())
        .unwrap();
    // A first epoch folds them into the snapshot; the later ones are appended.
    keys.new_epoch(None).unwrap();
    keys.ensure(&[subject(n + 1).id]).unwrap();
    subjects
        .into_iter()
        .chain([subject(n + 1)])
        .map(|s| {
            (
                s,
                keys.seal(s, format!("value of {}", s.id).as_bytes())
                    .unwrap(),
            )
        })
        .collect()
}

/// What a reader of the disk could use against subject `a`: its wrapped key, its key,
/// the epoch's KEK in clear and wrapped.
struct Captured {
    wrapped: [u8; WRAPPED],
    key: [u8; 32],
    kek: [u8; 32],
    kek_wrapped: [u8; WRAPPED],
}

fn capture(keys: &KeyStore, a: SubjectId) -> Captured {
    let key = match keys.slot(a).unwrap() {
        Some(Slot::Key(k)) => k,
        _ => panic!("no key"),
    };
    let table = keys.table();
    let slots =
        disk::read_slots(&std::fs::File::open(table_dir(&table).join("kek")).unwrap()).unwrap();
    let (_, kek_wrapped) = slots.slots[usize::from(table.epoch % 2 == 1)].unwrap();
    Captured {
        wrapped: table.wrapped(a).unwrap(),
        key,
        kek: table.kek.0,
        kek_wrapped,
    }
}

fn table_dir(table: &Table) -> PathBuf {
    table.dir().to_path_buf()
}

/// Checks that nothing under `dir` gives `a`'s key back, with the master key in hand.
fn gone(dir: &Path, master: &MasterKey, a: SubjectId, c: &Captured, epochs: u64) {
    let all = files(dir);
    for (what, needle) in [
        ("the wrapped key", c.wrapped.as_slice()),
        ("the key", c.key.as_slice()),
        ("the KEK", c.kek.as_slice()),
        ("the wrapped KEK", c.kek_wrapped.as_slice()),
    ] {
        assert_eq!(
            found(&all, needle),
            Vec::<PathBuf>::new(),
            "{what} is still on disk"
        );
    }
    let on_disk = keks(&all, master, epochs);
    assert_eq!(on_disk.len(), 1, "one KEK on disk");
    assert!(
        !key_opens(&all, master, on_disk, a),
        "a blob opens as the key"
    );
}

#[test]
fn values_are_sealed_per_subject_and_erased_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let keys = KeyStore::open(dir.path(), &master).unwrap();
    let (a, b) = (subject(1), subject(2));
    keys.ensure(&[a.id, b.id]).unwrap();
    let sealed = keys.seal(a, b"Jeanne Martin").unwrap();
    assert!(!sealed.ciphertext.windows(6).any(|w| w == b"Jeanne"));
    assert_eq!(
        keys.unseal(a, &sealed).unwrap().as_deref(),
        Some("Jeanne Martin")
    );
    // Another subject's key does not open it.
    assert!(keys.unseal(b, &sealed).is_err());
    // Two seals of one value differ (fresh nonces).
    assert_ne!(keys.seal(a, b"x").unwrap(), keys.seal(a, b"x").unwrap());
    // Tampering is found.
    let mut bad = sealed.clone();
    bad.ciphertext[0] ^= 1;
    assert!(keys.unseal(a, &bad).is_err());
    // Erasure: gone for good, across reopening; the other subject is untouched.
    assert!(keys.destroy(a.id).unwrap());
    assert_eq!(keys.unseal(a, &sealed).unwrap(), None);
    let sealed_b = keys.seal(b, b"Paul").unwrap();
    drop(keys);
    let keys = KeyStore::open(dir.path(), &master).unwrap();
    assert_eq!(keys.unseal(a, &sealed).unwrap(), None);
    assert!(keys.is_erased(a.id).unwrap());
    assert_eq!(keys.unseal(b, &sealed_b).unwrap().as_deref(), Some("Paul"));
    // A subject never keyed is damage, not erasure.
    assert!(keys.unseal(subject(3), &sealed_b).is_err());
}

#[test]
fn a_key_read_while_it_is_destroyed_is_never_cached_back() {
    let dir = tempfile::tempdir().unwrap();
    let keys =
        std::sync::Arc::new(KeyStore::open(dir.path(), &MasterKey::generate().unwrap()).unwrap());
    // (Probabilistic: each round races one read that misses the cache against
    // the destruction; before the fix, a stale key was cached back now and then.)
    for n in 0..300u128 {
        let a = subject(1000 + n);
        keys.ensure(&[a.id]).unwrap();
        let sealed = keys.seal(a, b"Jeanne").unwrap();
        keys.cache().clear();
        let go = std::sync::Arc::new(std::sync::Barrier::new(2));
        let reader = {
            let (keys, go, sealed) = (keys.clone(), go.clone(), sealed.clone());
            std::thread::spawn(move || {
                go.wait();
                let _ = keys.unseal(a, &sealed);
            })
        };
        go.wait();
        keys.mark_erased(a.id).unwrap();
        reader.join().unwrap();
        assert_eq!(keys.unseal(a, &sealed).unwrap(), None, "subject {n}");
    }
}

#[test]
fn a_wrong_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::open(dir.path(), &MasterKey::generate().unwrap()).unwrap();
    drop(keys);
    assert!(matches!(
        KeyStore::open(dir.path(), &MasterKey::generate().unwrap()),
        Err(AppError::NotReady(_))
    ));
}

#[test]
fn master_keys_parse_from_hex() {
    let k = MasterKey::generate().unwrap();
    assert_eq!(MasterKey::from_hex(&k.to_hex()).unwrap().0, k.0);
    assert!(MasterKey::from_hex("abc").is_err());
    assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
    assert_eq!(format!("{k:?}"), "MasterKey(..)");
}

/// Issue 16's test: capture a subject's wrapped key and the epoch's KEK, erase the
/// subject, let the new epoch happen, then read every byte of every file of the key
/// store with the master key in hand.
#[test]
fn an_erased_key_is_gone_from_every_file_after_the_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let values = populated(dir.path(), &master, 40);
    let keys = open(dir.path(), &master);
    // One in the snapshot, one appended since.
    for (a, sealed) in [values[40].clone(), values[0].clone()] {
        let c = capture(&keys, a.id);
        let before = keys.epoch();
        // The scan finds what it looks for while the key is live.
        let all = files(dir.path());
        assert_eq!(found(&all, &c.wrapped).len(), 1);
        assert!(key_recoverable(&all, &master, before, a.id));

        let commit = Uuid::new_v4();
        keys.intend(commit, &[a.id]).unwrap();
        keys.carry_out(commit, &[a.id]).unwrap();
        assert_eq!(keys.unseal(a, &sealed).unwrap(), None);
        assert!(
            keys.rewrap().unwrap(),
            "a new epoch is due after an erasure"
        );
        assert!(!keys.rewrap().unwrap(), "and only one");
        assert_eq!(keys.epoch(), before + 1);
        gone(dir.path(), &master, a.id, &c, keys.epoch());
    }
    // The others still open, after a reopen too; the erased stay erased.
    drop(keys);
    let keys = open(dir.path(), &master);
    for (i, (s, sealed)) in values.iter().enumerate() {
        let want = (i != 0 && i != 40).then(|| format!("value of {}", s.id));
        assert_eq!(keys.unseal(*s, sealed).unwrap(), want);
    }
}

/// Keys created and destroyed while a new epoch re-wraps the others are kept in it;
/// a key destroyed meanwhile leaves the disk at the next epoch.
#[test]
fn changes_made_during_a_new_epoch_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let values = populated(dir.path(), &master, 10);
    let keys = open(dir.path(), &master);
    let (a, b) = (values[2].0, values[10].0);
    let c = capture(&keys, a.id);
    keys.destroy(b.id).unwrap();
    let frozen = keys.table().freeze().unwrap();
    let new = frozen.write_snapshot().unwrap();
    // Meanwhile: a new key, a destruction, an intent.
    let late = subject(77);
    keys.ensure(&[late.id]).unwrap();
    let sealed = keys.seal(late, b"late").unwrap();
    keys.destroy(a.id).unwrap();
    let commit = Uuid::new_v4();
    keys.intend(commit, &[late.id]).unwrap();
    keys.table().commit_epoch(frozen, new, None).unwrap();
    assert!(
        keys.table().due(),
        "a destruction during the epoch calls for another"
    );
    assert!(keys.rewrap().unwrap());
    gone(dir.path(), &master, a.id, &c, keys.epoch());
    drop(keys);
    let keys = open(dir.path(), &master);
    assert_eq!(keys.unseal(late, &sealed).unwrap().as_deref(), Some("late"));
    assert!(keys.is_erased(a.id).unwrap() && keys.is_erased(b.id).unwrap());
    assert_eq!(keys.pending().unwrap(), vec![(commit, vec![late.id])]);
    for (s, sealed) in &values {
        let want = (s.id != a.id && s.id != b.id).then(|| format!("value of {}", s.id));
        assert_eq!(keys.unseal(*s, sealed).unwrap(), want);
    }
}

/// Keys created, sealed with and destroyed by several threads while new epochs run
/// one after another: every acknowledged key opens after a reopen, every destroyed
/// one is erased.
#[test]
fn new_epochs_under_concurrent_use_lose_nothing() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let keys = Arc::new(open(dir.path(), &master));
    let stop = Arc::new(AtomicBool::new(false));
    let epochs = {
        let (keys, stop) = (keys.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) || n < 3 {
                keys.new_epoch(None).unwrap();
                n += 1;
            }
            n
        })
    };
    let writers: Vec<_> = (0..3u128)
        .map(|w| {
            let keys = keys.clone();
            std::thread::spawn(move || {
                let mut sealed = Vec::new();
                for i in 0..150u128 {
                    let s = subject(10_000 * (w + 1) + i);
                    keys.ensure(&[s.id]).unwrap();
                    let v = keys.seal(s, format!("{i}").as_bytes()).unwrap();
                    let destroyed = i % 7 == 0;
                    if destroyed {
                        keys.destroy(s.id).unwrap();
                    }
                    if i % 10 == 0 {
                        keys.cache().clear();
                    }
                    sealed.push((s, v, destroyed, i));
                }
                sealed
            })
        })
        .collect();
    let all: Vec<_> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    stop.store(true, Ordering::SeqCst);
    assert!(epochs.join().unwrap() >= 3);
    drop(keys);
    let keys = open(dir.path(), &master);
    for (s, v, destroyed, i) in &all {
        let want = (!destroyed).then(|| format!("{i}"));
        assert_eq!(keys.unseal(*s, v).unwrap(), want);
    }
    assert!(
        !keys.table().due(),
        "the destructions got their epoch at open"
    );
}

/// A stop after a destruction and before its new epoch: the next open makes it.
#[test]
fn a_destruction_not_followed_by_a_new_epoch_gets_one_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let values = populated(dir.path(), &master, 10);
    let keys = open(dir.path(), &master);
    let a = values[3].0;
    let c = capture(&keys, a.id);
    keys.destroy(a.id).unwrap();
    let epoch = keys.epoch();
    drop(keys);
    let keys = open(dir.path(), &master);
    assert_eq!(keys.epoch(), epoch + 1);
    gone(dir.path(), &master, a.id, &c, keys.epoch());
}

/// A `kill -9` at each step of a new epoch (simulated: the operation stops there,
/// the files stay as its earlier steps left them): after the next open, the
/// destroyed key is gone, every other key opens.
#[test]
fn a_stop_at_any_step_of_a_new_epoch_leaves_one_whole_epoch() {
    for n in 0.. {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let values = populated(dir.path(), &master, 20);
        let keys = open(dir.path(), &master);
        let a = values[5].0;
        let c = capture(&keys, a.id);
        keys.destroy(a.id).unwrap();
        crash_at(Some(n));
        let done = keys.rewrap();
        crash_at(None);
        drop(keys);
        let keys = open(dir.path(), &master);
        gone(dir.path(), &master, a.id, &c, keys.epoch());
        for (s, sealed) in &values {
            let want = (s.id != a.id).then(|| format!("value of {}", s.id));
            assert_eq!(
                keys.unseal(*s, sealed).unwrap(),
                want,
                "stopped at step {n}"
            );
        }
        assert!(keys.is_erased(a.id).unwrap());
        if done.is_ok() {
            assert!(n >= 3, "three steps to stop at");
            break;
        }
    }
}

/// Master-key rotation stopped at each step: exactly one master key opens the
/// store, everything opens under it; running the rotation again finishes it, and
/// then the old key opens nothing and its KEK is nowhere.
#[test]
fn a_rotation_stopped_at_any_step_leaves_exactly_one_master_key() {
    for n in 0.. {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (
            MasterKey::generate().unwrap(),
            MasterKey::generate().unwrap(),
        );
        let values = populated(dir.path(), &old, 20);
        let old_kek = {
            let keys = open(dir.path(), &old);
            let kek = keys.table().kek.0;
            kek
        };
        crash_at(Some(n));
        let done = KeyStore::rotate_master_key(dir.path(), &old, &new);
        crash_at(None);
        let by_old = KeyStore::open_inner(dir.path(), &old, false).map(drop);
        let by_new = KeyStore::open_inner(dir.path(), &new, false).map(drop);
        match (&by_old, &by_new) {
            (Ok(()), Err(KeyStoreError::WrongMasterKey)) => assert!(done.is_err()),
            (Err(KeyStoreError::WrongMasterKey), Ok(())) => {}
            other => panic!("stopped at step {n}: {other:?}"),
        }
        let again = KeyStore::rotate_master_key(dir.path(), &old, &new).unwrap();
        assert_eq!(
            matches!(again, Rotation::AlreadyDone),
            by_new.is_ok(),
            "step {n}"
        );
        assert!(matches!(
            KeyStore::open(dir.path(), &old),
            Err(AppError::NotReady(_))
        ));
        let keys = open(dir.path(), &new);
        for (s, sealed) in &values {
            let want = format!("value of {}", s.id);
            assert_eq!(keys.unseal(*s, sealed).unwrap(), Some(want));
        }
        let all = files(dir.path());
        assert!(found(&all, &old_kek).is_empty());
        assert!(
            keks(&all, &old, keys.epoch()).is_empty(),
            "the old master key opens nothing"
        );
        if done.is_ok() {
            assert!(n >= 3);
            break;
        }
    }
}

#[test]
fn a_rotation_is_refused_while_the_store_is_open_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (
        MasterKey::generate().unwrap(),
        MasterKey::generate().unwrap(),
    );
    let keys = open(dir.path(), &old);
    let err = KeyStore::rotate_master_key(dir.path(), &old, &new).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    assert!(matches!(
        KeyStore::open(dir.path(), &old),
        Err(AppError::NotReady(_))
    ));
    drop(keys);
    let empty = dir.path().join("nothing");
    assert!(KeyStore::rotate_master_key(&empty, &old, &new).is_err());
    assert!(!empty.join("table").exists(), "no store is created");
    let other = MasterKey::generate().unwrap();
    let err = KeyStore::rotate_master_key(dir.path(), &other, &new).unwrap_err();
    assert!(err.to_string().contains("neither"), "{err}");
}

/// A key store of the sled era, with a destroyed key whose old value sled kept in
/// its files: migrated at open (stopped at each step, then opened again), every
/// key, marker and intent kept, sled's files gone.
#[test]
fn a_sled_key_store_is_migrated_once_whatever_the_stops() {
    for n in 0.. {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let (a, b, c) = (subject(1), subject(2), subject(3));
        let (ka, kb, kc): ([u8; 32], [u8; 32], [u8; 32]) =
            (random().unwrap(), random().unwrap(), random().unwrap());
        let commit = Uuid::new_v4();
        let wrapped = legacy::write_for_test(
            dir.path(),
            &master,
            &[(a.id, ka), (b.id, kb), (c.id, kc)],
            &[c.id],
            &[(commit, vec![b.id])],
        );
        let seal = |k: &[u8; 32], s: Subject, text: &str| {
            let (nonce, ciphertext) = encrypt(k, &aad(b"value", s.id), text.as_bytes()).unwrap();
            Sealed { nonce, ciphertext }
        };
        let (va, vc) = (seal(&ka, a, "Jeanne"), seal(&kc, c, "Paul"));
        // A wrong master key changes nothing.
        let wrong = MasterKey::generate().unwrap();
        let refused = KeyStore::open(dir.path(), &wrong).map(drop);
        assert!(matches!(refused, Err(AppError::NotReady(_))), "{refused:?}");
        assert!(legacy::present(dir.path()));

        crash_at(Some(n));
        let done = KeyStore::open_inner(dir.path(), &master, true).map(drop);
        crash_at(None);
        let keys = open(dir.path(), &master);
        assert_eq!(keys.unseal(a, &va).unwrap().as_deref(), Some("Jeanne"));
        assert_eq!(keys.unseal(c, &vc).unwrap(), None);
        assert!(keys.is_erased(c.id).unwrap());
        assert!(!keys.is_erased(b.id).unwrap());
        assert_eq!(keys.pending().unwrap(), vec![(commit, vec![b.id])]);
        let all = files(dir.path());
        let names: Vec<String> = all
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "kek, table, lock: {names:?}");
        for w in &wrapped {
            assert!(found(&all, w).is_empty(), "a sled-era wrapped key is left");
        }
        if done.is_ok() {
            assert!(n >= 4);
            break;
        }
    }
}

fn damage_of(result: Result<KeyStore, AppError>) -> String {
    match result {
        Err(AppError::Internal {
            source: Some(source),
            ..
        }) => match source.downcast_ref::<KeyStoreError>() {
            Some(e @ KeyStoreError::Damaged { .. }) => e.to_string(),
            _ => panic!("not damage: {source}"),
        },
        Err(e) => panic!("not damage: {e}"),
        Ok(_) => panic!("opened"),
    }
}

/// Damage is a typed error naming the file and the byte; a change a stop cut short
/// is cut off.
#[test]
fn damage_is_reported_and_a_torn_change_cut_off() {
    let master = MasterKey::generate().unwrap();
    let setup = || {
        let dir = tempfile::tempdir().unwrap();
        populated(dir.path(), &master, 5);
        let table = dir.path().join("table");
        (dir, table)
    };
    let flip = |path: &Path, at: u64| {
        let mut b = std::fs::read(path).unwrap();
        let i = usize::try_from(at).unwrap();
        b[i] ^= 0x40;
        std::fs::write(path, b).unwrap();
    };
    // A snapshot record.
    let (dir, table) = setup();
    flip(&table, disk::HEADER + 3);
    let e = damage_of(KeyStore::open(dir.path(), &master));
    assert!(e.contains("table") && e.contains("byte 64"), "{e}");
    // The header.
    let (dir, table) = setup();
    flip(&table, 14);
    assert!(damage_of(KeyStore::open(dir.path(), &master)).contains("header"));
    // The KEK's slot.
    let (dir, _) = setup();
    let kek = dir.path().join("kek");
    let epoch_slot = if open(dir.path(), &master).epoch() % 2 == 1 {
        4096
    } else {
        0
    };
    flip(&kek, epoch_slot + 20);
    assert!(damage_of(KeyStore::open(dir.path(), &master)).contains("kek"));
    // A change with a whole one after it.
    let (dir, table) = setup();
    open(dir.path(), &master).ensure(&[subject(50).id]).unwrap();
    let snapshot_end = disk::HEADER + 5 * disk::RECORD as u64;
    flip(&table, snapshot_end + 10);
    assert!(damage_of(KeyStore::open(dir.path(), &master)).contains("change"));
    // A torn last change: cut off, the rest opens.
    let (dir, table) = setup();
    let len = std::fs::metadata(&table).unwrap().len();
    let keys = open(dir.path(), &master);
    keys.ensure(&[subject(99).id]).unwrap();
    drop(keys);
    let full = std::fs::metadata(&table).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&table)
        .unwrap();
    f.set_len(full - 7).unwrap();
    drop(f);
    let keys = open(dir.path(), &master);
    assert!(keys.seal(subject(1), b"x").is_ok());
    assert!(
        keys.seal(subject(99), b"x").is_err(),
        "the torn key is not there"
    );
    drop(keys);
    assert_eq!(std::fs::metadata(&table).unwrap().len(), len);
}

/// After a failed write or sync, nothing more is sealed with a key that may not be
/// on disk, and nothing is written; what was durable still opens.
#[test]
fn after_a_failure_no_key_is_handed_out_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let values = populated(dir.path(), &master, 3);
    let keys = open(dir.path(), &master);
    keys.destroy(values[2].0.id).unwrap();
    keys.table().fail("a sync failed".into());
    let refused = |r: Result<(), AppError>| matches!(r, Err(AppError::NotReady(m)) if m.contains("a sync failed"));
    assert!(refused(keys.ensure(&[values[0].0.id])));
    assert!(refused(keys.ensure(&[subject(50).id])));
    assert!(refused(keys.destroy(values[1].0.id).map(drop)));
    assert!(refused(keys.intend(Uuid::new_v4(), &[values[1].0.id])));
    assert!(refused(keys.rewrap().map(drop)));
    let (s, sealed) = &values[0];
    assert!(keys.unseal(*s, sealed).unwrap().is_some());
}

#[test]
fn the_key_stores_files_are_its_users_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keys");
    let master = MasterKey::generate().unwrap();
    populated(&store, &master, 3);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store), 0o700);
    for (path, _) in files(&store) {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}
