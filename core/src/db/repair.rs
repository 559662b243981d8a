//! `repair_db`: rebuilds a database whose MANIFEST or CURRENT is lost or damaged, in the
//! spirit of LevelDB's `RepairDB`: every WAL is converted to a table, every table that
//! reads cleanly is kept (its key range and largest sequence found by scanning it), and a
//! fresh MANIFEST places them all on level 0. Files that cannot be used move to `lost/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::flush::build_table;
use super::table_build::BuildPace;
use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::filename::{
    descriptor_file_name, lock_file_name, parse_file_name, FileNumber, FileType,
};
use crate::fs::FileSystem;
use crate::iterator::InternalIterator;
use crate::key::{parse_internal_key, InternalKey, SequenceNumber, BYTEWISE_COMPARATOR_NAME};
use crate::log;
use crate::memtable::MemTable;
use crate::options::{Options, ReadOptions};
use crate::table::TableCache;
use crate::version::{set_current_file, FileMetaData, VersionEdit};

/// Rebuilds the MANIFEST and CURRENT of the database in `path` from the files present:
/// WAL records (as far as they read; a damaged record is skipped) become new level-0
/// tables and the WALs move to `path/lost/`; tables are verified entry by entry (checksums
/// on) and those that fail move to `path/lost/`; old MANIFESTs move there too. Every
/// surviving table is placed on level 0. Takes the `LOCK`: `Busy` if the database is open.
///
/// Like LevelDB's repair, data is not rewritten, so entries a compaction had already
/// dropped stay dropped and a deleted key whose tombstone was in a lost file may reappear.
pub fn repair_db(path: impl AsRef<Path>, options: &Options) -> Result<()> {
    options.validate()?;
    let dir = path.as_ref();
    let fs = Arc::clone(&options.fs);
    let _lock = fs.lock_file(&lock_file_name(dir))?;
    let repairer = Repairer {
        dir: dir.to_path_buf(),
        fs: Arc::clone(&fs),
        options: options.clone(),
        table_cache: TableCache::new(dir, options, 64),
    };
    repairer.run()
}

struct Repairer {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    options: Options,
    table_cache: TableCache,
}

/// A table that will be in the new MANIFEST.
struct Found {
    meta: FileMetaData,
    max_sequence: SequenceNumber,
}

impl Repairer {
    fn run(&self) -> Result<()> {
        let mut logs = Vec::new();
        let mut tables = Vec::new();
        let mut manifests = Vec::new();
        let mut next_number = 1u64;
        for name in self.fs.children(&self.dir)? {
            let Some((number, file_type)) = parse_file_name(&name) else {
                continue;
            };
            next_number = next_number.max(number.0 + 1);
            match file_type {
                FileType::Log => logs.push(number),
                FileType::Table => tables.push((number, name)),
                FileType::Manifest => manifests.push(name),
                _ => {}
            }
        }
        logs.sort();
        tables.sort();

        let mut found = Vec::new();
        for (number, name) in tables {
            match self.scan_table(number, &name) {
                Ok(Some(t)) => found.push(t),
                Ok(None) => self.archive(&name),
                Err(_) => self.archive(&name),
            }
        }
        // Converted after the scan, with new (higher) numbers: WAL data is the newest,
        // and level-0 lookups consult higher file numbers first.
        for number in logs {
            let table_number = FileNumber(next_number);
            next_number += 1;
            if let Some(t) = self.convert_log(number, table_number)? {
                found.push(t);
            }
            self.archive(&format!("{:06}.log", number.0));
        }

        let manifest = FileNumber(next_number);
        next_number += 1;
        let mut edit = VersionEdit {
            comparator: Some(BYTEWISE_COMPARATOR_NAME.to_string()),
            log_number: Some(FileNumber(0)),
            next_file_number: Some(FileNumber(next_number)),
            last_sequence: Some(
                found
                    .iter()
                    .map(|t| t.max_sequence)
                    .max()
                    .unwrap_or_default(),
            ),
            ..VersionEdit::default()
        };
        for t in found {
            edit.add_file(0, t.meta);
        }
        self.write_manifest(manifest, &edit)?;
        for name in manifests {
            self.archive(&name);
        }
        Ok(())
    }

    /// Reads every entry of a table (checksums on) for its key range and largest
    /// sequence. `Ok(None)` for a table without entries.
    fn scan_table(&self, number: FileNumber, name: &str) -> Result<Option<Found>> {
        let file_size = self.fs.file_size(&self.dir.join(name))?;
        let table = self.table_cache.find_table(number, file_size)?;
        let read = ReadOptions {
            verify_checksums: true,
            fill_cache: false,
            snapshot: None,
        };
        let mut it = table.iter(&read);
        it.seek_to_first();
        let mut smallest = None;
        let mut largest = Vec::new();
        let mut max_sequence = SequenceNumber(0);
        while it.valid() {
            let key = it.key();
            let parsed = parse_internal_key(key)
                .ok_or_else(|| Error::corruption(format!("{name}: unparsable internal key")))?;
            max_sequence = max_sequence.max(parsed.sequence);
            if smallest.is_none() {
                smallest = Some(key.to_vec());
            }
            largest.clear();
            largest.extend_from_slice(key);
            it.next();
        }
        it.status()?;
        self.table_cache.evict(number);
        Ok(smallest.map(|smallest| Found {
            meta: FileMetaData {
                number,
                file_size,
                smallest: InternalKey::from_encoded(smallest),
                largest: InternalKey::from_encoded(largest),
                allowed_seeks: Default::default(),
            },
            max_sequence,
        }))
    }

    /// Replays WAL `number` into a memtable (skipping what does not read) and writes it
    /// as table `table_number`. `Ok(None)` when the log holds nothing.
    fn convert_log(&self, number: FileNumber, table_number: FileNumber) -> Result<Option<Found>> {
        let path = crate::filename::log_file_name(&self.dir, number);
        let mem = Arc::new(MemTable::new());
        let mut max_sequence = SequenceNumber(0);
        match self.fs.new_sequential_file(&path) {
            Ok(file) => {
                let mut reader = log::Reader::new(file, true);
                // A read error ends the log; what was read before it is kept.
                while let Ok(Some(record)) = reader.read_record() {
                    let Ok(batch) = WriteBatch::from_contents(record) else {
                        continue;
                    };
                    if batch.insert_into(&mem).is_ok() && batch.count() > 0 {
                        let last =
                            SequenceNumber(batch.sequence().0 + u64::from(batch.count()) - 1);
                        max_sequence = max_sequence.max(last);
                    }
                }
            }
            Err(_) => return Ok(None),
        }
        if mem.is_empty() {
            return Ok(None);
        }
        let built = build_table(
            &self.dir,
            &*self.fs,
            &self.options,
            &self.table_cache,
            &mem,
            table_number,
            BuildPace::Urgent,
        )?;
        self.table_cache.evict(table_number);
        Ok(built.map(|b| Found {
            meta: b.meta,
            max_sequence,
        }))
    }

    fn write_manifest(&self, number: FileNumber, edit: &VersionEdit) -> Result<()> {
        let path = descriptor_file_name(&self.dir, number);
        let written = (|| {
            let mut log = log::Writer::new(self.fs.new_writable_file(&path)?);
            let mut record = Vec::new();
            edit.encode(&mut record);
            log.add_record(&record)?;
            log.sync()
        })();
        let result = written.and_then(|()| set_current_file(&*self.fs, &self.dir, number));
        if result.is_err() {
            let _ = self.fs.remove_file(&path);
        }
        result
    }

    /// Moves `name` into `lost/` (best effort: a file that cannot move stays, unused).
    fn archive(&self, name: &str) {
        let lost = self.dir.join("lost");
        let _ = self.fs.create_dir_all(&lost);
        let _ = self.fs.rename(&self.dir.join(name), &lost.join(name));
    }
}
