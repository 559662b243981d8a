//! `destroy_db`: deletes a database's files, as LevelDB's `DestroyDB` — only names that
//! parse as database files, under the `LOCK`, so an open database is never destroyed.

use std::path::Path;

use crate::error::Result;
use crate::filename::{lock_file_name, parse_file_name, FileType};
use crate::options::Options;

/// Deletes the database in `path`: every file whose name is a database file name (tables,
/// WALs, MANIFESTs, CURRENT, LOG, LOG.old, temp files), then `LOCK`, then the directory if
/// it is left empty. Other files are left alone. A missing directory is success. `Busy`
/// when the database is open (here or in another process). Uses `options.fs` only.
pub fn destroy_db(path: impl AsRef<Path>, options: &Options) -> Result<()> {
    let dir = path.as_ref();
    let fs = &*options.fs;
    let Ok(names) = fs.children(dir) else {
        // Nothing to destroy.
        return Ok(());
    };
    let lock_path = lock_file_name(dir);
    let lock = fs.lock_file(&lock_path)?;
    let mut result = Ok(());
    for name in names {
        match parse_file_name(&name) {
            Some((_, FileType::Lock)) | None => continue,
            Some(_) => {
                if let Err(e) = fs.remove_file(&dir.join(&name)) {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
    }
    drop(lock);
    // Best effort, as LevelDB: the lock is released, and what matters is the data files.
    let _ = fs.remove_file(&lock_path);
    let _ = fs.remove_dir(dir);
    result
}
