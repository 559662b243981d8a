//! Minor compaction: the oldest immutable memtable becomes a table file on level 0 (or
//! 1–2 when nothing overlaps), recorded in the MANIFEST; then its WAL is obsolete.
//! `compact_memtable` → `write_level0_table` → `build_table` → `log_and_apply`, as in
//! LevelDB's `DBImpl::CompactMemTable`. Also `Db::flush`, which triggers one by hand.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::MutexGuard;

use super::write::sticky;
use super::{Db, DbInner, DbState};
use crate::error::{Error, Result};
use crate::events::CompactionStats;
use crate::filename::{table_file_name, FileNumber};
use crate::fs::FileSystem;
use crate::iterator::InternalIterator;
use crate::key::InternalKey;
use crate::memtable::MemTable;
use crate::options::{FlushOptions, Options, WriteOptions};
use crate::table::{TableBuilder, TableCache};
use crate::version::{FileMetaData, Version, VersionEdit};

impl Db {
    /// Seals the active memtable and flushes it. With `wait`, returns once everything
    /// written before the call (the active memtable and any sealed ones still pending) is
    /// in installed table files, or with the background error; without, once the flush
    /// is scheduled. With nothing to flush it is a no-op that creates no file.
    pub fn flush(&self, opts: &FlushOptions) -> Result<()> {
        self.inner().flush(opts)
    }
}

impl DbInner {
    fn flush(&self, opts: &FlushOptions) -> Result<()> {
        // The forced switch goes through the writer queue, ordered after earlier writes.
        self.write(&WriteOptions::default(), None)?;
        if !opts.wait {
            return Ok(());
        }
        let mut st = self.state.lock();
        let target = st.memtables_sealed;
        loop {
            if let Some(e) = &st.bg_error {
                return Err(sticky(e));
            }
            if st.memtables_flushed >= target {
                return Ok(());
            }
            if self.shutting_down.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            self.bg_cv.wait(&mut st);
        }
    }

    /// Flushes the oldest immutable memtable and installs the result. On failure the
    /// memtable stays queued, the error becomes sticky, and nothing is lost: its WAL is
    /// still live.
    pub(super) fn compact_memtable(&self, st: &mut MutexGuard<'_, DbState>) {
        let Some(imm) = st.imm.front() else { return };
        let mem = Arc::clone(&imm.mem);
        let next_log_number = imm.next_log_number;
        // Beside a running major compaction only level 0 is safe (see DbState).
        let base = (!st.major_compaction_running).then(|| st.versions.current());
        let mut edit = VersionEdit::default();
        let result = self
            .write_level0_table(st, &mem, &mut edit, base.as_ref())
            .and_then(|()| {
                // Once the table is in, the memtable's WAL (and any older one) is obsolete.
                edit.prev_log_number = Some(FileNumber(0));
                edit.log_number = Some(next_log_number);
                st.versions.log_and_apply(&mut edit)
            });
        match result {
            Ok(()) => {
                st.imm.pop_front();
                st.memtables_flushed += 1;
                self.remove_obsolete_files(st);
            }
            Err(e) => self.record_background_error(st, e),
        }
    }

    /// Writes `mem` into a new table file and adds it to `edit` at the level
    /// `pick_level_for_memtable_output` chooses (level 0 when `base` is None, as during
    /// recovery). The lock is released while the file is built.
    pub(super) fn write_level0_table(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        mem: &Arc<MemTable>,
        edit: &mut VersionEdit,
        base: Option<&Arc<Version>>,
    ) -> Result<()> {
        let start = Instant::now();
        let number = st.versions.new_file_number();
        st.pending_outputs.insert(number);
        self.info_log.log(&format!(
            "Level-0 table #{}: started ({} entries)",
            number.0,
            mem.len()
        ));
        let built = MutexGuard::unlocked(st, || {
            build_table(
                &self.dir,
                &*self.fs,
                &self.options,
                &self.table_cache,
                &mut mem.iter(),
                number,
            )
        });
        st.pending_outputs.remove(&number);
        let meta = built?;
        let Some(meta) = meta else {
            self.info_log
                .log(&format!("Level-0 table #{}: empty, no file", number.0));
            return Ok(());
        };
        let level = match base {
            Some(version) => version.pick_level_for_memtable_output(
                meta.smallest.user_key(),
                meta.largest.user_key(),
                self.options.max_file_size,
            ),
            None => 0,
        };
        self.info_log.log(&format!(
            "Level-0 table #{}: {} bytes, level {}",
            number.0, meta.file_size, level
        ));
        st.stats[level] += CompactionStats {
            micros: start.elapsed().as_micros() as u64,
            bytes_read: 0,
            bytes_written: meta.file_size,
            count: 1,
        };
        edit.add_file(level, meta);
        Ok(())
    }
}

/// Streams `iter` into table file `number`, syncs it, and reopens it through the table
/// cache to prove it readable before anyone installs it. An empty iterator writes no
/// file (`Ok(None)`); on any failure the partial file is removed.
pub(super) fn build_table(
    dir: &Path,
    fs: &dyn FileSystem,
    options: &Options,
    table_cache: &TableCache,
    iter: &mut dyn InternalIterator,
    number: FileNumber,
) -> Result<Option<FileMetaData>> {
    iter.seek_to_first();
    if !iter.valid() {
        return iter.status().map(|()| None);
    }
    let path = table_file_name(dir, number);
    let result = write_table_file(fs, options, &path, iter).and_then(|meta| {
        let meta = FileMetaData { number, ..meta };
        table_cache.find_table(number, meta.file_size)?;
        Ok(meta)
    });
    if result.is_err() {
        table_cache.evict(number);
        let _ = fs.remove_file(&path);
    }
    result.map(Some)
}

fn write_table_file(
    fs: &dyn FileSystem,
    options: &Options,
    path: &Path,
    iter: &mut dyn InternalIterator,
) -> Result<FileMetaData> {
    let file = fs.new_writable_file(path)?;
    let mut builder = TableBuilder::new(options, file);
    let smallest = InternalKey::from_encoded(iter.key().to_vec());
    let mut last_key = Vec::new();
    while iter.valid() {
        builder.add(iter.key(), iter.value())?;
        last_key.clear();
        last_key.extend_from_slice(iter.key());
        iter.next();
    }
    let largest = InternalKey::from_encoded(last_key);
    iter.status()?;
    let file_size = builder.finish()?;
    builder.sync()?;
    Ok(FileMetaData {
        number: FileNumber(0),
        file_size,
        smallest,
        largest,
    })
}
