//! Names of the files in a DB directory, LevelDB's scheme: `000007.log`, `000009.ldb`
//! (legacy `.sst` read too), `MANIFEST-000002`, `CURRENT`, `LOCK`, `LOG`, `LOG.old`, `000003.dbtmp`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Number of a WAL, table or MANIFEST file; one counter is shared by all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileNumber(pub u64);

impl fmt::Display for FileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    Log,
    /// `.ldb`, or `.sst` as written by LevelDB before 1.14.
    Table,
    Manifest,
    Current,
    Lock,
    InfoLog,
    Temp,
}

pub fn log_file_name(dir: &Path, n: FileNumber) -> PathBuf {
    dir.join(format!("{n}.log"))
}

pub fn table_file_name(dir: &Path, n: FileNumber) -> PathBuf {
    dir.join(format!("{n}.ldb"))
}

pub fn sst_table_file_name(dir: &Path, n: FileNumber) -> PathBuf {
    dir.join(format!("{n}.sst"))
}

pub fn descriptor_file_name(dir: &Path, n: FileNumber) -> PathBuf {
    dir.join(format!("MANIFEST-{n}"))
}

pub fn current_file_name(dir: &Path) -> PathBuf {
    dir.join("CURRENT")
}

pub fn lock_file_name(dir: &Path) -> PathBuf {
    dir.join("LOCK")
}

pub fn temp_file_name(dir: &Path, n: FileNumber) -> PathBuf {
    dir.join(format!("{n}.dbtmp"))
}

pub fn info_log_file_name(dir: &Path) -> PathBuf {
    dir.join("LOG")
}

pub fn old_info_log_file_name(dir: &Path) -> PathBuf {
    dir.join("LOG.old")
}

/// Recognises a file name inside a DB directory. Info logs and fixed names get number 0.
pub fn parse_file_name(name: &str) -> Option<(FileNumber, FileType)> {
    match name {
        "CURRENT" => return Some((FileNumber(0), FileType::Current)),
        "LOCK" => return Some((FileNumber(0), FileType::Lock)),
        "LOG" | "LOG.old" => return Some((FileNumber(0), FileType::InfoLog)),
        _ => {}
    }
    if let Some(rest) = name.strip_prefix("MANIFEST-") {
        return Some((parse_number(rest)?, FileType::Manifest));
    }
    let (num, suffix) = name.split_once('.')?;
    let file_type = match suffix {
        "log" => FileType::Log,
        "ldb" | "sst" => FileType::Table,
        "dbtmp" => FileType::Temp,
        _ => return None,
    };
    Some((parse_number(num)?, file_type))
}

fn parse_number(s: &str) -> Option<FileNumber> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().map(FileNumber)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_leveldb() {
        let d = Path::new("/db");
        assert_eq!(log_file_name(d, FileNumber(7)), Path::new("/db/000007.log"));
        assert_eq!(
            table_file_name(d, FileNumber(1234567)),
            Path::new("/db/1234567.ldb")
        );
        assert_eq!(
            descriptor_file_name(d, FileNumber(2)),
            Path::new("/db/MANIFEST-000002")
        );
        assert_eq!(
            temp_file_name(d, FileNumber(3)),
            Path::new("/db/000003.dbtmp")
        );
    }

    #[test]
    fn parse_accepts_leveldb_names_and_rejects_others() {
        assert_eq!(
            parse_file_name("000100.log"),
            Some((FileNumber(100), FileType::Log))
        );
        assert_eq!(
            parse_file_name("000100.sst"),
            Some((FileNumber(100), FileType::Table))
        );
        assert_eq!(
            parse_file_name("5.ldb"),
            Some((FileNumber(5), FileType::Table))
        );
        assert_eq!(
            parse_file_name("MANIFEST-000009"),
            Some((FileNumber(9), FileType::Manifest))
        );
        assert_eq!(
            parse_file_name("CURRENT"),
            Some((FileNumber(0), FileType::Current))
        );
        assert_eq!(
            parse_file_name("LOG.old"),
            Some((FileNumber(0), FileType::InfoLog))
        );
        for bad in [
            "",
            "foo",
            "MANIFEST-",
            "MANIFEST-x1",
            ".log",
            "12.txt",
            "-1.log",
            "1.log.x",
            "99999999999999999999999.log",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }
}
