//! Major compaction, as LevelDB's `BackgroundCompaction` → `DoCompactionWork` →
//! `InstallCompactionResults`: merge the input files of one level and the next, drop what
//! no reader can see any more, write new files on the next level, and swap them in with
//! one `log_and_apply`. The version set picks the inputs (`version/compaction.rs`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::sync::MutexGuard;

use super::notifier::Event;
use super::write::sticky;
use super::{DbInner, DbState};
use crate::error::{Error, Result};
use crate::events::{CompactionJobInfo, CompactionStats, TableFileInfo, TableFileReason};
use crate::filename::{table_file_name, FileNumber};
use crate::key::{extract_user_key, parse_internal_key, InternalKey, SequenceNumber, ValueType};
use crate::table::{BackgroundSync, TableBuilder};
use crate::version::{Compaction, FileMetaData};

/// The oldest sequence number a reader may still read at. An entry hidden from it by a
/// newer version of the same key, or a tombstone at or below it with nothing left to
/// hide, can be dropped: the oldest live snapshot, or the latest sequence without one.
/// (Iterators register no snapshot: they read the files of their own version.)
pub(super) fn smallest_live_snapshot(st: &DbState) -> SequenceNumber {
    super::snapshot::oldest_snapshot(st).unwrap_or_else(|| st.versions.last_sequence())
}

/// Input entries a running compaction processes between two looks (under the lock) for
/// a sealed memtable waiting to be flushed, which always goes first.
const IMM_CHECK_INTERVAL: u32 = 128;

/// A compaction being executed: its inputs, what it has written, and the file being
/// written now.
struct CompactionState {
    job_id: u64,
    compaction: Compaction,
    smallest_snapshot: SequenceNumber,
    /// Every file number taken for an output (also in `pending_outputs` while it runs).
    numbers: Vec<FileNumber>,
    /// Finished, synced and verified output files, in key order.
    outputs: Vec<FileMetaData>,
    /// Syncs finished and verified outputs (with their entry counts) while the next one
    /// is built; used only while writers are held back.
    syncing: BackgroundSync<(FileMetaData, u64)>,
    builder: Option<OutputFile>,
    /// Time spent flushing memtables in between, which is not this compaction's.
    imm_micros: u64,
}

/// The output file being written.
struct OutputFile {
    number: FileNumber,
    builder: TableBuilder,
    smallest: Vec<u8>,
    largest: Vec<u8>,
}

impl DbInner {
    /// Runs the waiting manual compaction round, or else the compaction the level scores
    /// ask for. A failure becomes the sticky background error; nothing is lost, because
    /// the inputs stay installed until the outputs replace them in one edit.
    pub(super) fn background_major_compaction(&self, st: &mut MutexGuard<'_, DbState>) {
        let manual = st
            .manual_compaction
            .as_ref()
            .filter(|m| !m.done)
            .map(|m| (m.level, m.begin.clone(), m.end.clone()));
        let picked = match &manual {
            Some((level, begin, end)) => {
                st.versions
                    .compact_range(*level, begin.as_deref(), end.as_deref())
            }
            None => st.versions.pick_compaction(),
        };
        let Some(c) = picked else {
            if let Some(m) = &mut st.manual_compaction {
                m.done = true;
            }
            return;
        };
        // A manual round continues after the largest key it took.
        let manual_end = c
            .inputs(0)
            .iter()
            .map(|f| &f.largest)
            .max()
            .map(|k| k.user_key().to_vec());
        // A manual compaction rewrites even a lone file: it is asked for to drop garbage.
        let trivial_move = manual.is_none() && c.is_trivial_move();
        st.next_job_id += 1;
        let mut info = CompactionJobInfo {
            job_id: st.next_job_id,
            input_level: c.level(),
            output_level: c.output_level(),
            input_files: c
                .inputs(0)
                .iter()
                .chain(c.inputs(1))
                .map(|f| f.number)
                .collect(),
            output_files: Vec::new(),
            bytes_read: 0,
            bytes_written: 0,
            duration: Duration::ZERO,
            trivial_move,
            error: None,
        };
        self.notifier.emit(Event::CompactionBegin(info.clone()));
        let start = Instant::now();
        let result = if trivial_move {
            self.trivial_move(st, c, &mut info)
        } else {
            self.run_compaction(st, c, &mut info)
        };
        info.duration = start.elapsed();
        match &result {
            Ok(()) => st.counters.compactions_completed += 1,
            Err(e) => {
                info.error = Some(e.clone());
                if !self.shutting_down.load(Ordering::Acquire) {
                    self.record_background_error(st, e.clone());
                }
            }
        }
        self.notifier.emit(Event::CompactionCompleted(info));
        if manual.is_some() {
            if let Some(m) = &mut st.manual_compaction {
                m.done = result.is_err();
                m.begin = manual_end;
            }
        }
        self.remove_obsolete_files(st);
    }

    /// Moves the single input file one level down by editing the version only.
    fn trivial_move(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        c: Compaction,
        info: &mut CompactionJobInfo,
    ) -> Result<()> {
        let f = &c.inputs(0)[0];
        info.output_files.push(f.number);
        let mut edit = c.edit().clone();
        edit.delete_file(c.level(), f.number);
        edit.add_file(c.output_level(), FileMetaData::clone(f));
        self.log_and_apply(st, &mut edit)?;
        self.info_log.log(&format!(
            "Moved #{} to level-{} {} bytes: {}",
            f.number.0,
            c.output_level(),
            f.file_size,
            st.versions.level_summary()
        ));
        Ok(())
    }

    /// Merges the inputs into new files (with the lock released), then installs them.
    /// On failure before the install, the outputs are deleted; a failed install keeps
    /// them, since the MANIFEST may already name them.
    fn run_compaction(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        c: Compaction,
        info: &mut CompactionJobInfo,
    ) -> Result<()> {
        let start = Instant::now();
        self.info_log.log(&format!(
            "Compacting {}@{} + {}@{} files",
            c.inputs(0).len(),
            c.level(),
            c.inputs(1).len(),
            c.output_level()
        ));
        let mut compact = CompactionState {
            job_id: info.job_id,
            compaction: c,
            smallest_snapshot: smallest_live_snapshot(st),
            numbers: Vec::new(),
            outputs: Vec::new(),
            syncing: BackgroundSync::default(),
            builder: None,
            imm_micros: 0,
        };
        st.major_compaction_running = true;
        let worked = MutexGuard::unlocked(st, || self.do_compaction_work(&mut compact));
        st.major_compaction_running = false;

        let output_level = compact.compaction.output_level();
        let micros = (start.elapsed().as_micros() as u64).saturating_sub(compact.imm_micros);
        let stats = CompactionStats {
            micros,
            bytes_read: compact.compaction.input_bytes(),
            bytes_written: compact.outputs.iter().map(|f| f.file_size).sum(),
            count: 1,
        };
        st.stats[output_level] += stats;
        info.bytes_read = stats.bytes_read;
        info.bytes_written = stats.bytes_written;
        info.output_files = compact.outputs.iter().map(|f| f.number).collect();
        let result = match worked {
            Ok(()) => self.install_compaction_results(st, &compact),
            Err(e) => {
                compact.builder = None;
                // Waits for the syncs in flight, which close their files.
                compact.syncing = BackgroundSync::default();
                let doomed: Vec<FileNumber> = compact.numbers.clone();
                MutexGuard::unlocked(st, || {
                    for number in doomed {
                        self.table_cache.evict(number);
                        let _ = self.fs.remove_file(&table_file_name(&self.dir, number));
                    }
                });
                Err(e)
            }
        };
        for number in &compact.numbers {
            st.pending_outputs.remove(number);
        }
        if let Err(e) = &result {
            self.info_log.log(&format!("Compaction error: {e}"));
        }
        result
    }

    /// The merge loop, run without the DB mutex (it takes it briefly to flush a waiting
    /// memtable and to number output files).
    fn do_compaction_work(&self, compact: &mut CompactionState) -> Result<()> {
        let mut input = compact.compaction.make_input_iterator(&self.table_cache)?;
        input.seek_to_first();
        let max_output = compact.compaction.max_output_file_size();
        // The user key of the entries being walked; a buffer reused from key to key, as
        // allocating one per entry was most of the loop's malloc and free.
        let mut current_user_key: Vec<u8> = Vec::new();
        let mut has_current_user_key = false;
        // The sequence of the previous (newer) entry for the current user key.
        let mut last_sequence_for_key: Option<SequenceNumber> = None;
        // The grandparent limit asked for a cut; it waits for the next user key.
        let mut stop_pending = false;
        let mut until_imm_check = IMM_CHECK_INTERVAL;
        while input.valid() {
            if self.shutting_down.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            until_imm_check -= 1;
            if until_imm_check == 0 {
                until_imm_check = IMM_CHECK_INTERVAL;
                self.flush_imm_during_compaction(compact)?;
            }
            let key = input.key();
            if compact.compaction.should_stop_before(key) && compact.builder.is_some() {
                stop_pending = true;
            }
            let drop = match parse_internal_key(key) {
                // Keep a corrupt key, and forget the user key it might belong to.
                None => {
                    has_current_user_key = false;
                    last_sequence_for_key = None;
                    false
                }
                Some(ikey) => {
                    if !has_current_user_key || current_user_key != ikey.user_key {
                        current_user_key.clear();
                        current_user_key.extend_from_slice(ikey.user_key);
                        has_current_user_key = true;
                        last_sequence_for_key = None;
                    }
                    let hidden =
                        last_sequence_for_key.is_some_and(|s| s <= compact.smallest_snapshot);
                    let obsolete_tombstone = ikey.value_type == ValueType::Deletion
                        && ikey.sequence <= compact.smallest_snapshot
                        && compact.compaction.is_base_level_for_key(ikey.user_key);
                    last_sequence_for_key = Some(ikey.sequence);
                    hidden || obsolete_tombstone
                }
            };
            if !drop {
                // Cut only between user keys, so no key's versions span two files.
                if let Some(out) = &compact.builder {
                    let full = stop_pending || out.builder.file_size() >= max_output;
                    if full && extract_user_key(&out.largest) != extract_user_key(key) {
                        self.finish_compaction_output_file(compact)?;
                        stop_pending = false;
                    }
                }
                if compact.builder.is_none() {
                    self.open_compaction_output_file(compact)?;
                }
                let out = compact
                    .builder
                    .as_mut()
                    .expect("an output file was opened above");
                if out.smallest.is_empty() {
                    out.smallest = key.to_vec();
                }
                out.largest.clear();
                out.largest.extend_from_slice(key);
                out.builder.add(key, input.value())?;
            }
            input.next();
        }
        input.status()?;
        self.finish_compaction_output_file(compact)?;
        self.collect_synced_outputs(compact, true)?;
        if !compact.outputs.is_empty() {
            // The MANIFEST is about to name the new files: make their names durable first.
            self.fs.sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Flushes a sealed memtable if one is waiting, so writers never wait behind a long
    /// compaction. A flush failure ends the compaction too.
    fn flush_imm_during_compaction(&self, compact: &mut CompactionState) -> Result<()> {
        let mut st = self.state.lock();
        if st.imm.is_empty() {
            return Ok(());
        }
        let start = Instant::now();
        self.compact_memtable(&mut st);
        self.bg_cv.notify_all();
        compact.imm_micros += start.elapsed().as_micros() as u64;
        match &st.bg_error {
            Some(e) => Err(sticky(e)),
            None => Ok(()),
        }
    }

    fn open_compaction_output_file(&self, compact: &mut CompactionState) -> Result<()> {
        let number = {
            let mut st = self.state.lock();
            let number = st.versions.new_file_number();
            st.pending_outputs.insert(number);
            number
        };
        compact.numbers.push(number);
        let file = self
            .fs
            .new_writable_file(&table_file_name(&self.dir, number))?;
        compact.builder = Some(OutputFile {
            number,
            builder: TableBuilder::new(&self.options, file),
            smallest: Vec::new(),
            largest: Vec::new(),
        });
        Ok(())
    }

    /// Finishes the current output file and proves it readable through the table cache.
    /// While writers are held back (level 0 is at its slowdown trigger) it goes to the
    /// sync thread and the next output is built as it syncs; otherwise it is synced here,
    /// as building beside the sync would take CPU from the writers (puts over 5 ms in
    /// db_bench's fillrandom on 2 cores). Nobody installs an output before its sync
    /// succeeded. No-op without an open file.
    fn finish_compaction_output_file(&self, compact: &mut CompactionState) -> Result<()> {
        let Some(mut out) = compact.builder.take() else {
            return Ok(());
        };
        let entries = out.builder.num_entries();
        let file_size = out.builder.finish()?;
        self.table_cache.find_table(out.number, file_size)?;
        let meta = FileMetaData {
            number: out.number,
            file_size,
            smallest: InternalKey::from_encoded(out.smallest),
            largest: InternalKey::from_encoded(out.largest),
            allowed_seeks: Default::default(),
        };
        if self.writes_held_back.load(Ordering::Relaxed) {
            compact.syncing.submit((meta, entries), out.builder);
            return self.collect_synced_outputs(compact, false);
        }
        // Outputs handed over earlier come first, in order.
        self.collect_synced_outputs(compact, true)?;
        out.builder.sync()?;
        drop(out.builder);
        self.output_synced(compact, meta, entries);
        Ok(())
    }

    /// Takes the outputs the sync thread is done with (all of them when `wait`), in
    /// order. A failed sync fails the compaction.
    fn collect_synced_outputs(&self, compact: &mut CompactionState, wait: bool) -> Result<()> {
        loop {
            let synced = if wait {
                compact.syncing.wait_synced()
            } else {
                compact.syncing.try_synced()
            };
            let Some(outcome) = synced else {
                return Ok(());
            };
            let (meta, entries) = outcome?;
            self.output_synced(compact, meta, entries);
        }
    }

    /// Announces a finished, verified and synced output and adds it to `outputs`.
    fn output_synced(&self, compact: &mut CompactionState, meta: FileMetaData, entries: u64) {
        self.info_log.log(&format!(
            "Generated table #{}@{}: {} keys, {} bytes",
            meta.number.0,
            compact.compaction.level(),
            entries,
            meta.file_size
        ));
        self.notifier.emit(Event::TableFileCreated(TableFileInfo {
            job_id: compact.job_id,
            reason: TableFileReason::Compaction,
            file_number: meta.number,
            file_path: table_file_name(&self.dir, meta.number),
            file_size: meta.file_size,
        }));
        compact.outputs.push(meta);
    }

    /// One edit: the inputs deleted, the outputs added on the next level, the compact
    /// pointer advanced.
    fn install_compaction_results(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        compact: &CompactionState,
    ) -> Result<()> {
        let c = &compact.compaction;
        let mut edit = c.edit().clone();
        c.add_input_deletions(&mut edit);
        for out in &compact.outputs {
            edit.add_file(c.output_level(), out.clone());
        }
        self.log_and_apply(st, &mut edit)?;
        self.info_log.log(&format!(
            "Compacted {}@{} + {}@{} files => {} bytes: {}",
            c.inputs(0).len(),
            c.level(),
            c.inputs(1).len(),
            c.output_level(),
            compact.outputs.iter().map(|f| f.file_size).sum::<u64>(),
            st.versions.level_summary()
        ));
        Ok(())
    }
}
