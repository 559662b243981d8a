//! Versions and the MANIFEST: which table files make up the DB at each moment
//! (`version.rs`), the edits that change that (`edit.rs`, applied by `builder.rs`), and the
//! set that logs every edit durably and rebuilds the current version at open (`set.rs`);
//! which files a major compaction takes (`compaction.rs`) and how a level is read as one
//! sorted run (`level_iter.rs`).

mod builder;
mod compaction;
mod edit;
mod level_iter;
mod replay;
mod set;
#[allow(clippy::module_inception)]
mod version;

pub use compaction::{max_bytes_for_level, Compaction, CompactionConfig};
pub use edit::{FileMetaData, SeekBudget, VersionEdit};
pub use level_iter::LevelIterator;
pub use set::{set_current_file, ManifestFailure, PendingApply, VersionSet};
pub use version::{total_file_size, Version, MAX_MEM_COMPACT_LEVEL, NUM_LEVELS};

/// Fixtures shared by the tests of this folder.
#[cfg(test)]
mod testing {
    use std::path::Path;
    use std::sync::Arc;

    use crate::filename::FileNumber;
    use crate::fs::{FileSystem, PosixFs};
    use crate::key::{InternalKey, SequenceNumber, ValueType};
    use crate::log;

    use super::{FileMetaData, VersionEdit, VersionSet};

    /// A table file holding user keys `smallest..=largest`.
    pub(super) fn file(number: u64, smallest: &str, largest: &str, size: u64) -> FileMetaData {
        let key = |k: &str| InternalKey::new(k.as_bytes(), SequenceNumber(100), ValueType::Value);
        FileMetaData {
            number: FileNumber(number),
            file_size: size,
            smallest: key(smallest),
            largest: key(largest),
            allowed_seeks: Default::default(),
        }
    }

    /// A temp dir holding a freshly created DB (MANIFEST-000001 and CURRENT).
    pub(super) fn new_db() -> (tempfile::TempDir, Arc<dyn FileSystem>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs: Arc<dyn FileSystem> = Arc::new(PosixFs);
        VersionSet::create_new_db(dir.path(), &*fs).expect("create_new_db");
        (dir, fs)
    }

    /// Writes `edits` as the records of a MANIFEST at `path`, bypassing every check.
    pub(super) fn write_manifest(fs: &dyn FileSystem, path: &Path, edits: &[VersionEdit]) {
        let mut log = log::Writer::new(fs.new_writable_file(path).expect("create"));
        for edit in edits {
            let mut record = Vec::new();
            edit.encode(&mut record);
            log.add_record(&record).expect("add_record");
        }
        log.sync().expect("sync");
    }
}
