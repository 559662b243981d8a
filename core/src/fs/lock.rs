//! The `LOCK` file, held with `fcntl(F_SETLK, F_WRLCK)` exactly as LevelDB holds it, so a
//! siltdb process and a LevelDB process exclude each other. fcntl locks belong to the
//! process (and are dropped when *any* descriptor of the file closes), so an in-process set
//! of held paths is checked first: a second open in the same process fails without ever
//! opening a second descriptor.
//!
//! This is the crate's one use of `unsafe`: `libc::fcntl` has no safe wrapper in std.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::error::{Error, Result};

fn held_locks() -> &'static Mutex<HashSet<PathBuf>> {
    static HELD: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The key of the in-process set: the canonical directory plus the file name, known before
/// the file is opened (opening and closing a second descriptor would drop the fcntl lock).
fn lock_key(path: &Path) -> Result<PathBuf> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        Error::invalid_argument(format!("lock path {} has no file name", path.display()))
    })?;
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::io(dir.display().to_string(), e))?;
    Ok(dir.join(name))
}

/// A held `LOCK` file; dropping it releases the lock.
#[derive(Debug)]
pub struct FileLock {
    file: Option<File>,
    key: PathBuf,
}

impl FileLock {
    pub(crate) fn acquire(path: &Path) -> Result<FileLock> {
        let key = lock_key(path)?;
        if !held_locks().lock().insert(key.clone()) {
            return Err(Error::Busy(format!(
                "lock {}: already held by this process",
                path.display()
            )));
        }
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
        {
            Ok(f) => f,
            Err(e) => {
                held_locks().lock().remove(&key);
                return Err(Error::io(path.display().to_string(), e));
            }
        };
        if let Err(e) = fcntl_lock(&file, true) {
            held_locks().lock().remove(&key);
            return Err(Error::Busy(format!(
                "lock {}: {} (is another process using this database?)",
                path.display(),
                e
            )));
        }
        Ok(FileLock {
            file: Some(file),
            key,
        })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let _ = fcntl_lock(&file, false);
            drop(file);
        }
        held_locks().lock().remove(&self.key);
    }
}

#[allow(unsafe_code)]
fn fcntl_lock(file: &File, lock: bool) -> std::io::Result<()> {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes is a valid value; the
    // descriptor is open for the duration of the call; F_SETLK only reads the struct.
    let rc = unsafe {
        let mut fl: libc::flock = std::mem::zeroed();
        fl.l_type = if lock { libc::F_WRLCK } else { libc::F_UNLCK } as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = 0;
        fl.l_len = 0; // the whole file
        libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl)
    };
    if rc == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn second_lock_in_process_is_busy_until_first_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("LOCK");
        let first = FileLock::acquire(&path).expect("first lock");
        let err = FileLock::acquire(&path).expect_err("second lock must fail");
        assert_eq!(err.kind(), ErrorKind::Busy);
        drop(first);
        let _again = FileLock::acquire(&path).expect("lock after release");
    }
}
