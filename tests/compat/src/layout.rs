//! What a closed database directory holds: table files per level as its MANIFEST records
//! them, WAL bytes, file names; and the directory copy and `.ldb` → `.sst` rename the
//! legacy-name test needs.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use siltdb::filename::{parse_file_name, FileType};
use siltdb::fs::PosixFs;
use siltdb::version::{VersionSet, NUM_LEVELS};

/// Table files per level, read from the MANIFEST that `CURRENT` names (DB closed).
pub fn files_per_level(dir: &Path) -> siltdb::Result<Vec<usize>> {
    let mut versions = VersionSet::new(dir, Arc::new(PosixFs));
    versions.recover()?;
    let current = versions.current();
    Ok((0..NUM_LEVELS).map(|l| current.files[l].len()).collect())
}

/// Total bytes in the directory's `.log` files.
pub fn wal_bytes(dir: &Path) -> io::Result<u64> {
    bytes_of_type(dir, FileType::Log)
}

/// Total bytes in the directory's table files (`.ldb` and `.sst`).
pub fn table_bytes(dir: &Path) -> io::Result<u64> {
    bytes_of_type(dir, FileType::Table)
}

fn bytes_of_type(dir: &Path, wanted: FileType) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_str().and_then(parse_file_name).map(|(_, t)| t) == Some(wanted) {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// The names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Copies the regular files of `from` into the new directory `to`.
pub fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Renames every `NNNNNN.ldb` in `dir` to `NNNNNN.sst` (LevelDB's names before 1.14).
/// Returns how many were renamed.
pub fn rename_ldb_to_sst(dir: &Path) -> io::Result<usize> {
    let mut renamed = 0;
    for name in file_names(dir)? {
        if let Some(stem) = name.strip_suffix(".ldb") {
            fs::rename(dir.join(&name), dir.join(format!("{stem}.sst")))?;
            renamed += 1;
        }
    }
    Ok(renamed)
}

/// `(tables holding needle, all tables)`: e.g. how many tables name the bloom filter
/// `filter.leveldb.BuiltinBloomFilter2` in their meta-index.
pub fn tables_containing(dir: &Path, needle: &[u8]) -> io::Result<(usize, usize)> {
    let (mut holding, mut all) = (0, 0);
    for name in file_names(dir)? {
        if let Some((_, FileType::Table)) = parse_file_name(&name) {
            all += 1;
            let bytes = fs::read(dir.join(&name))?;
            if bytes.windows(needle.len()).any(|w| w == needle) {
                holding += 1;
            }
        }
    }
    Ok((holding, all))
}
