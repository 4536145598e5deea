//! The process's own hygiene: files only its user can read, no core dumps (which
//! would hold keys and personal values in clear), and panics logged without their
//! message (which may hold request data).

/// Makes every file and directory the process creates readable by its user only
/// (umask 077: files 0600, directories 0700 — the data directory, the key store,
/// the logs, backups, exports), and forbids core dumps. Called by `Server::start`
/// and at the start of the `ecoute` binary.
#[allow(unsafe_code)]
pub fn restrict() {
    // SAFETY: `umask` only sets the process's file-mode mask and cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `setrlimit` reads the struct given by reference and changes only this
    // process's limit; a failure (reported by its result) leaves it as it was.
    let refused = unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0;
    if refused {
        tracing::warn!("core dumps could not be disabled");
    }
}

/// Logs a panic as one fixed line, without its message or location's data: the
/// message of a panic in a request handler may hold what the request carried.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%place, "a thread panicked (its message is not logged)");
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn files_made_after_restrict_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        super::restrict();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let sub = dir.path().join("d");
        std::fs::create_dir(&sub).unwrap();
        for p in [file, sub] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is {:o}", p.display(), mode);
        }
    }
}
