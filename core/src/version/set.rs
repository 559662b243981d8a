//! `VersionSet`: the current Version plus the counters that outlive it (next file number,
//! last sequence, WAL numbers), made durable in the MANIFEST. `log_and_apply` is the one way
//! the file layout changes; `recover` rebuilds it at open from CURRENT and the MANIFEST.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use crate::error::{Error, Result};
use crate::filename::{current_file_name, descriptor_file_name, temp_file_name, FileNumber};
use crate::fs::{write_file, FileSystem};
use crate::key::{InternalKey, SequenceNumber, BYTEWISE_COMPARATOR_NAME};
use crate::log;

use super::builder::Builder;
use super::compaction::CompactionConfig;
use super::edit::{FileMetaData, VersionEdit};
use super::replay::replay_manifest;
use super::version::{Version, NUM_LEVELS};

/// The versions of one DB directory. Not thread-safe: the DB keeps it under its mutex
/// (methods that change state take `&mut self`). `log_and_apply` does MANIFEST I/O and
/// fsyncs while it runs.
pub struct VersionSet {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    pub(super) current: Arc<Version>,
    /// Every version installed and maybe still in use (by a read or a compaction): their
    /// files are live as long as they are.
    versions: Vec<Weak<Version>>,
    pub(super) compaction_config: CompactionConfig,
    next_file_number: u64,
    /// The MANIFEST that CURRENT names: obsolete-file removal keeps it and any newer one.
    manifest_file_number: FileNumber,
    last_sequence: SequenceNumber,
    log_number: FileNumber,
    prev_log_number: FileNumber,
    /// Per level, the largest key of the last compaction picked: the next starts after it.
    pub(super) compact_pointers: [Option<InternalKey>; NUM_LEVELS],
    /// The open MANIFEST; `None` until the first `log_and_apply` after recovery, and again
    /// after any failure, so that the next call writes a fresh, complete MANIFEST.
    descriptor_log: Option<log::Writer>,
    /// Between `prepare_apply` and `finish_apply`.
    apply_in_progress: bool,
}

impl VersionSet {
    /// An empty set; call `recover` before use.
    pub fn new(dir: &Path, fs: Arc<dyn FileSystem>) -> VersionSet {
        VersionSet {
            dir: dir.to_path_buf(),
            fs,
            current: Arc::new(Version::default()),
            versions: Vec::new(),
            compaction_config: CompactionConfig::default(),
            next_file_number: 2,
            manifest_file_number: FileNumber(0),
            last_sequence: SequenceNumber(0),
            log_number: FileNumber(0),
            prev_log_number: FileNumber(0),
            compact_pointers: Default::default(),
            descriptor_log: None,
            apply_in_progress: false,
        }
    }

    /// Sets the options compaction picking follows (defaults: those of `Options::default()`).
    pub fn with_compaction_config(mut self, config: CompactionConfig) -> VersionSet {
        self.compaction_config = config;
        let mut version = Version::clone(&self.current);
        version.finalize(&config);
        self.install(version);
        self
    }

    /// Writes a new DB: MANIFEST-000001 with {comparator, log 0, next file 2, last seq 0},
    /// synced; CURRENT pointing at it; the directory synced.
    pub fn create_new_db(dir: &Path, fs: &dyn FileSystem) -> Result<()> {
        let edit = VersionEdit::new_db();
        let manifest = FileNumber(1);
        let path = descriptor_file_name(dir, manifest);
        let written = (|| {
            let mut log = log::Writer::new(fs.new_writable_file(&path)?);
            let mut record = Vec::new();
            edit.encode(&mut record);
            log.add_record(&record)?;
            log.sync()
        })();
        let result = written.and_then(|()| set_current_file(fs, dir, manifest));
        if result.is_err() {
            // Best effort: the error being returned is the one that matters.
            let _ = fs.remove_file(&path);
        }
        result
    }

    /// Reads CURRENT, replays every edit of the MANIFEST it names and installs the result.
    /// The next `log_and_apply` starts a fresh MANIFEST. State changes only on success.
    /// A MANIFEST recording another comparator is InvalidArgument; damage is Corruption.
    pub fn recover(&mut self) -> Result<()> {
        let r = replay_manifest(&*self.fs, &self.dir)?;
        self.next_file_number = r.next_file_number.0;
        // Never hand out a number that is already on disk, even if the MANIFEST lags.
        let used: Vec<FileNumber> = r.version.live_files().collect();
        for n in [r.log_number, r.prev_log_number, r.manifest_number]
            .into_iter()
            .chain(used)
        {
            self.mark_file_number_used(n);
        }
        let mut version = r.version;
        version.finalize(&self.compaction_config);
        self.install(version);
        self.manifest_file_number = r.manifest_number;
        self.last_sequence = r.last_sequence;
        self.log_number = r.log_number;
        self.prev_log_number = r.prev_log_number;
        self.compact_pointers = r.compact_pointers;
        self.descriptor_log = None;
        Ok(())
    }

    /// Fills log/prev-log (if unset), next file number and last sequence into `edit`, builds
    /// the next Version, makes the edit durable in the MANIFEST and only then installs it.
    /// A new MANIFEST starts with a snapshot of the whole current state, and CURRENT is
    /// switched to it once the edit is synced. On failure the old Version stays current and
    /// the MANIFEST writer is dropped, so the next call starts a new MANIFEST; a new MANIFEST
    /// is removed too, unless CURRENT already names it (only the directory sync failed), in
    /// which case it becomes `manifest_file_number` so that nobody deletes it.
    ///
    /// The DB runs the three steps apart (`prepare_apply`, [`PendingApply::write`],
    /// `finish_apply`) so that its mutex is released during the MANIFEST I/O.
    pub fn log_and_apply(&mut self, edit: &mut VersionEdit) -> Result<()> {
        let mut pending = self.prepare_apply(edit)?;
        let written = pending.write();
        self.finish_apply(pending, written)
    }

    /// The in-memory half of `log_and_apply` before the I/O: checks and completes `edit`,
    /// builds the next Version and takes the MANIFEST writer. Until `finish_apply` no
    /// other `log_and_apply` may start (it gets Busy), and the Version does not change.
    pub fn prepare_apply(&mut self, edit: &mut VersionEdit) -> Result<PendingApply> {
        if self.apply_in_progress {
            return Err(Error::Busy(
                "a MANIFEST write is already in progress".to_string(),
            ));
        }
        match edit.log_number {
            Some(n) if n < self.log_number || n.0 >= self.next_file_number => {
                return Err(Error::invalid_argument(format!(
                    "log number {n} outside [{}, {})",
                    self.log_number, self.next_file_number
                )));
            }
            Some(_) => {}
            None => edit.log_number = Some(self.log_number),
        }
        if edit.prev_log_number.is_none() {
            edit.prev_log_number = Some(self.prev_log_number);
        }
        let mut builder = Builder::new(&self.current);
        builder.apply(edit)?;
        let mut version = builder.finish()?;
        version.finalize(&self.compaction_config);

        // A new MANIFEST's number is taken first: it must be below the next-file number
        // that the edit records.
        let (log, new_manifest, snapshot) = match self.descriptor_log.take() {
            Some(log) => (Some(log), None, Vec::new()),
            None => {
                let mut snapshot = Vec::new();
                self.snapshot_edit().encode(&mut snapshot);
                (None, Some(self.new_file_number()), snapshot)
            }
        };
        edit.next_file_number = Some(FileNumber(self.next_file_number));
        edit.last_sequence = Some(self.last_sequence);
        let mut record = Vec::new();
        edit.encode(&mut record);
        self.apply_in_progress = true;
        Ok(PendingApply {
            dir: self.dir.clone(),
            fs: Arc::clone(&self.fs),
            log,
            new_manifest,
            snapshot,
            record,
            version: Some(version),
            log_number: edit.log_number,
            prev_log_number: edit.prev_log_number,
            compact_pointers: edit.compact_pointers.clone(),
        })
    }

    /// The in-memory half of `log_and_apply` after the I/O: installs the new Version if
    /// `written` succeeded, and cleans up after a failure.
    pub fn finish_apply(
        &mut self,
        mut pending: PendingApply,
        written: Result<(), ManifestFailure>,
    ) -> Result<()> {
        self.apply_in_progress = false;
        let new_manifest = pending.new_manifest;
        if let Err(failure) = written {
            if let Some(n) = new_manifest {
                if failure.current_switched {
                    // CURRENT already names it: deleting it would leave CURRENT dangling.
                    self.manifest_file_number = n;
                } else {
                    let _ = self.fs.remove_file(&descriptor_file_name(&self.dir, n));
                }
            }
            return Err(failure.error);
        }
        self.descriptor_log = pending.log.take();
        if let Some(n) = new_manifest {
            self.manifest_file_number = n;
        }
        if let Some(version) = pending.version.take() {
            self.install(version);
        }
        if let Some(n) = pending.log_number {
            self.log_number = n;
        }
        if let Some(n) = pending.prev_log_number {
            self.prev_log_number = n;
        }
        for (level, key) in pending.compact_pointers.drain(..) {
            self.compact_pointers[level] = Some(key);
        }
        Ok(())
    }

    /// The whole current state as one edit: the first record of a new MANIFEST.
    fn snapshot_edit(&self) -> VersionEdit {
        let mut edit = VersionEdit {
            comparator: Some(BYTEWISE_COMPARATOR_NAME.to_string()),
            ..VersionEdit::default()
        };
        for (level, key) in self.compact_pointers.iter().enumerate() {
            if let Some(key) = key {
                edit.compact_pointers.push((level, key.clone()));
            }
        }
        for (level, files) in self.current.files.iter().enumerate() {
            for f in files {
                edit.add_file(level, FileMetaData::clone(f));
            }
        }
        edit
    }

    /// Makes `version` current, remembering it while anybody holds it.
    fn install(&mut self, version: Version) {
        self.current = Arc::new(version);
        self.versions.retain(|v| v.strong_count() > 0);
        self.versions.push(Arc::downgrade(&self.current));
    }

    pub fn current(&self) -> Arc<Version> {
        Arc::clone(&self.current)
    }

    pub fn new_file_number(&mut self) -> FileNumber {
        let n = FileNumber(self.next_file_number);
        self.next_file_number += 1;
        n
    }

    /// Returns `n` to the pool, but only if it is the last number handed out: an unused
    /// number in the middle cannot be reused without tracking holes.
    pub fn reuse_file_number(&mut self, n: FileNumber) {
        if self.next_file_number == n.0 + 1 {
            self.next_file_number = n.0;
        }
    }

    pub fn mark_file_number_used(&mut self, n: FileNumber) {
        if self.next_file_number <= n.0 {
            self.next_file_number = n.0 + 1;
        }
    }

    pub fn last_sequence(&self) -> SequenceNumber {
        self.last_sequence
    }

    pub fn set_last_sequence(&mut self, s: SequenceNumber) {
        debug_assert!(s >= self.last_sequence, "last sequence moves forward");
        self.last_sequence = s;
    }

    /// WAL files numbered below this are no longer needed.
    pub fn log_number(&self) -> FileNumber {
        self.log_number
    }

    pub fn prev_log_number(&self) -> FileNumber {
        self.prev_log_number
    }

    /// The MANIFEST that CURRENT names; obsolete-file removal keeps it and newer ones.
    pub fn manifest_file_number(&self) -> FileNumber {
        self.manifest_file_number
    }

    pub fn num_level_files(&self, level: usize) -> usize {
        self.current.num_files(level)
    }

    /// Table numbers referenced by the current version or by any older one still held
    /// (by a read or a compaction): remove_obsolete_files keeps them all.
    pub fn live_files(&self) -> HashSet<FileNumber> {
        let mut live: HashSet<FileNumber> = self.current.live_files().collect();
        for version in self.versions.iter().filter_map(Weak::upgrade) {
            live.extend(version.live_files());
        }
        live
    }

    pub fn compact_pointer(&self, level: usize) -> Option<&InternalKey> {
        self.compact_pointers.get(level)?.as_ref()
    }
}

/// A `log_and_apply` between its two in-memory halves: everything the MANIFEST I/O needs,
/// owned, so that the I/O runs without the VersionSet (and without the DB mutex).
pub struct PendingApply {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    /// The open MANIFEST; `None` when this write starts `new_manifest`.
    log: Option<log::Writer>,
    new_manifest: Option<FileNumber>,
    /// The encoded snapshot edit that opens a new MANIFEST (empty otherwise).
    snapshot: Vec<u8>,
    /// The encoded edit.
    record: Vec<u8>,
    version: Option<Version>,
    /// What `finish_apply` records from the edit once it is durable.
    log_number: Option<FileNumber>,
    prev_log_number: Option<FileNumber>,
    compact_pointers: Vec<(usize, InternalKey)>,
}

impl PendingApply {
    /// Appends the edit to the open MANIFEST, or creates the new one starting with the
    /// snapshot; syncs; for a new one, switches CURRENT to it.
    pub fn write(&mut self) -> Result<(), ManifestFailure> {
        let log = match self.log.take() {
            Some(log) => log,
            None => {
                let n = self.new_manifest.ok_or_else(|| {
                    Error::invalid_argument("a MANIFEST write with neither a log nor a number")
                })?;
                let path = descriptor_file_name(&self.dir, n);
                let mut log = log::Writer::new(self.fs.new_writable_file(&path)?);
                log.add_record(&self.snapshot)?;
                log
            }
        };
        let log = self.log.insert(log);
        log.add_record(&self.record)?;
        log.sync()?;
        if let Some(n) = self.new_manifest {
            // One directory sync after the rename also makes the new MANIFEST's entry durable.
            switch_current_file(&*self.fs, &self.dir, n)?;
        }
        Ok(())
    }
}

/// Why a MANIFEST write failed, and whether CURRENT already names the new MANIFEST.
pub struct ManifestFailure {
    error: Error,
    current_switched: bool,
}

impl From<Error> for ManifestFailure {
    fn from(error: Error) -> Self {
        ManifestFailure {
            error,
            current_switched: false,
        }
    }
}

/// Points CURRENT at MANIFEST-`manifest` (content "MANIFEST-000005\n"): written to a temp
/// file, synced, renamed over CURRENT, directory synced, so a crash leaves the old or the
/// new CURRENT, never a torn one.
pub fn set_current_file(fs: &dyn FileSystem, dir: &Path, manifest: FileNumber) -> Result<()> {
    switch_current_file(fs, dir, manifest).map_err(|f| f.error)
}

fn switch_current_file(
    fs: &dyn FileSystem,
    dir: &Path,
    manifest: FileNumber,
) -> Result<(), ManifestFailure> {
    let descriptor = descriptor_file_name(dir, manifest);
    let name = descriptor
        .file_name()
        .and_then(|n| n.to_str())
        .expect("descriptor_file_name yields an ASCII file name");
    let tmp = temp_file_name(dir, manifest);
    let renamed = write_file(fs, &tmp, format!("{name}\n").as_bytes(), true)
        .and_then(|()| fs.rename(&tmp, &current_file_name(dir)));
    if let Err(error) = renamed {
        let _ = fs.remove_file(&tmp);
        return Err(error.into());
    }
    fs.sync_dir(dir).map_err(|error| ManifestFailure {
        error,
        current_switched: true,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::fs::{FileLock, PosixFs, RandomAccessFile, SequentialFile, WritableFile};
    use crate::key::ValueType;
    use crate::version::testing::{self, new_db};

    fn meta(number: u64, smallest: &str, largest: &str) -> FileMetaData {
        testing::file(number, smallest, largest, 1000 + number)
    }

    fn layout(v: &Version) -> Vec<Vec<FileMetaData>> {
        v.files
            .iter()
            .map(|files| files.iter().map(|f| FileMetaData::clone(f)).collect())
            .collect()
    }

    fn read_current(dir: &Path) -> String {
        let bytes = std::fs::read(current_file_name(dir)).expect("read CURRENT");
        String::from_utf8(bytes).expect("utf8")
    }

    /// A new DB opened through a [`FlakyFs`], failures switched off.
    fn flaky_db() -> (
        tempfile::TempDir,
        Arc<FlakyFs>,
        Arc<dyn FileSystem>,
        VersionSet,
    ) {
        let (dir, _) = new_db();
        let flaky = Arc::new(FlakyFs::default());
        let fs: Arc<dyn FileSystem> = flaky.clone();
        let vs = recovered(dir.path(), &fs).expect("recover");
        (dir, flaky, fs, vs)
    }

    fn recovered(dir: &Path, fs: &Arc<dyn FileSystem>) -> Result<VersionSet> {
        let mut vs = VersionSet::new(dir, Arc::clone(fs));
        vs.recover()?;
        Ok(vs)
    }

    #[test]
    fn new_db_recovers_with_initial_counters() {
        let (dir, fs) = new_db();
        assert_eq!(read_current(dir.path()), "MANIFEST-000001\n");
        let mut names = fs.children(dir.path()).expect("ls");
        names.sort();
        assert_eq!(names, vec!["CURRENT", "MANIFEST-000001"]);
        let mut vs = recovered(dir.path(), &fs).expect("recover");
        assert_eq!(vs.log_number(), FileNumber(0));
        assert_eq!(vs.prev_log_number(), FileNumber(0));
        assert_eq!(vs.last_sequence(), SequenceNumber(0));
        assert_eq!(vs.manifest_file_number(), FileNumber(1));
        assert_eq!(vs.new_file_number(), FileNumber(2));
        assert!(vs.live_files().is_empty());
    }

    #[test]
    fn applied_edits_survive_reopen() {
        let (dir, fs) = new_db();
        let mut vs = recovered(dir.path(), &fs).expect("recover");
        let mut edits = Vec::new();
        for (level, smallest, largest) in
            [(0, "a", "m"), (0, "c", "z"), (1, "a", "c"), (2, "d", "f")]
        {
            let n = vs.new_file_number();
            let mut e = VersionEdit::default();
            e.add_file(level, meta(n.0, smallest, largest));
            edits.push(e);
        }
        let log = vs.new_file_number();
        for (i, e) in edits.iter_mut().enumerate() {
            vs.set_last_sequence(SequenceNumber(100 * (i as u64 + 1)));
            if i == 2 {
                e.log_number = Some(log);
            }
            vs.log_and_apply(e).expect("log_and_apply");
        }
        // Move the first level-0 file down, delete the level-2 file, set a compact pointer.
        let l0 = vs.current().files[0][0].clone();
        let l2 = vs.current().files[2][0].number;
        let mut e = VersionEdit::default();
        e.delete_file(0, l0.number);
        e.add_file(1, meta(l0.number.0, "n", "p"));
        e.delete_file(2, l2);
        let pointer = InternalKey::new(b"k", SequenceNumber(7), ValueType::Value);
        e.compact_pointers.push((1, pointer.clone()));
        vs.log_and_apply(&mut e).expect("log_and_apply");
        let next = vs.new_file_number();

        let before = vs.current();
        assert_eq!(before.num_files(0), 1);
        assert_eq!(before.num_files(1), 2);
        assert_eq!(before.num_files(2), 0);

        let mut reopened = recovered(dir.path(), &fs).expect("recover");
        assert_eq!(layout(&reopened.current()), layout(&before));
        assert_eq!(reopened.log_number(), log);
        assert_eq!(reopened.last_sequence(), SequenceNumber(400));
        assert_eq!(reopened.compact_pointer(1), Some(&pointer));
        assert_eq!(reopened.live_files(), vs.live_files());
        assert_eq!(reopened.num_level_files(1), 2);
        // The last edit recorded the counter as it stood before `next` was handed out.
        assert_eq!(reopened.new_file_number(), next);
        assert!(next > vs.manifest_file_number());
    }

    #[test]
    fn each_recovery_starts_a_new_manifest() {
        let (dir, fs) = new_db();
        let mut vs = recovered(dir.path(), &fs).expect("recover");
        let mut e = VersionEdit::default();
        e.add_file(0, meta(vs.new_file_number().0, "a", "b"));
        vs.log_and_apply(&mut e).expect("apply");
        let first = vs.manifest_file_number();
        assert_ne!(first, FileNumber(1));
        assert_eq!(read_current(dir.path()), format!("MANIFEST-{first}\n"));
        // A second edit in the same lifetime appends to the same MANIFEST.
        let mut e = VersionEdit::default();
        e.add_file(0, meta(vs.new_file_number().0, "c", "d"));
        vs.log_and_apply(&mut e).expect("apply");
        assert_eq!(vs.manifest_file_number(), first);
        drop(vs);

        let mut vs = recovered(dir.path(), &fs).expect("recover");
        assert_eq!(vs.manifest_file_number(), first);
        vs.log_and_apply(&mut VersionEdit::default())
            .expect("apply");
        let second = vs.manifest_file_number();
        assert!(second > first);
        assert_eq!(read_current(dir.path()), format!("MANIFEST-{second}\n"));
        assert!(fs.exists(&descriptor_file_name(dir.path(), second)));
        // The new MANIFEST holds the whole state on its own.
        let vs = recovered(dir.path(), &fs).expect("recover");
        assert_eq!(vs.num_level_files(0), 2);
    }

    #[test]
    fn files_of_an_older_version_stay_live_while_it_is_held() {
        let (dir, fs) = new_db();
        let mut vs = recovered(dir.path(), &fs).expect("recover");
        let mut e = VersionEdit::default();
        e.add_file(0, meta(vs.new_file_number().0, "a", "b"));
        vs.log_and_apply(&mut e).expect("apply");
        let old = vs.current();
        let old_file = old.files[0][0].number;
        let mut e = VersionEdit::default();
        e.delete_file(0, old_file);
        e.add_file(1, meta(vs.new_file_number().0, "a", "b"));
        vs.log_and_apply(&mut e).expect("apply");
        assert!(vs.live_files().contains(&old_file), "a reader holds it");
        drop(old);
        assert!(!vs.live_files().contains(&old_file));
        assert_eq!(vs.live_files().len(), 1);
    }

    #[test]
    fn file_numbers_are_reused_only_when_last() {
        let (dir, fs) = new_db();
        let mut vs = recovered(dir.path(), &fs).expect("recover");
        let a = vs.new_file_number();
        let b = vs.new_file_number();
        vs.reuse_file_number(a);
        assert_eq!(vs.new_file_number(), FileNumber(b.0 + 1));
        let c = vs.new_file_number();
        vs.reuse_file_number(c);
        assert_eq!(vs.new_file_number(), c);
        vs.mark_file_number_used(FileNumber(100));
        assert_eq!(vs.new_file_number(), FileNumber(101));
        vs.mark_file_number_used(FileNumber(50));
        assert_eq!(vs.new_file_number(), FileNumber(102));
    }

    #[test]
    fn log_number_outside_the_allocated_range_is_refused() {
        let (dir, fs) = new_db();
        let mut vs = recovered(dir.path(), &fs).expect("recover");
        let mut e = VersionEdit {
            log_number: Some(FileNumber(1000)),
            ..VersionEdit::default()
        };
        assert!(matches!(
            vs.log_and_apply(&mut e),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(read_current(dir.path()), "MANIFEST-000001\n");
    }

    #[test]
    fn failed_switch_to_new_manifest_keeps_old_state_and_removes_it() {
        let (dir, flaky, fs, mut vs) = flaky_db();
        let mut e = VersionEdit::default();
        e.add_file(0, meta(vs.new_file_number().0, "a", "b"));
        let attempted = FileNumber(vs.new_file_number().0 + 1);
        flaky.fail_rename.store(true, Ordering::SeqCst);
        assert!(vs.log_and_apply(&mut e.clone()).is_err());
        assert_eq!(vs.num_level_files(0), 0);
        assert_eq!(vs.manifest_file_number(), FileNumber(1));
        assert!(!fs.exists(&descriptor_file_name(dir.path(), attempted)));
        assert!(!fs.exists(&temp_file_name(dir.path(), attempted)));
        assert_eq!(read_current(dir.path()), "MANIFEST-000001\n");

        flaky.fail_rename.store(false, Ordering::SeqCst);
        vs.log_and_apply(&mut e).expect("retry");
        assert!(vs.manifest_file_number() > attempted);
        assert_eq!(vs.num_level_files(0), 1);
        let reopened = recovered(dir.path(), &fs).expect("recover");
        assert_eq!(layout(&reopened.current()), layout(&vs.current()));
    }

    #[test]
    fn failed_dir_sync_after_switch_keeps_the_manifest_current_names() {
        let (dir, flaky, fs, mut vs) = flaky_db();
        let mut e = VersionEdit::default();
        e.add_file(0, meta(vs.new_file_number().0, "a", "b"));
        flaky.fail_sync_dir.store(true, Ordering::SeqCst);
        assert!(vs.log_and_apply(&mut e).is_err());
        flaky.fail_sync_dir.store(false, Ordering::SeqCst);
        assert_eq!(vs.num_level_files(0), 0, "the old version stays current");
        let named = vs.manifest_file_number();
        assert_eq!(read_current(dir.path()), format!("MANIFEST-{named}\n"));
        assert!(fs.exists(&descriptor_file_name(dir.path(), named)));
        // What is on disk is what CURRENT names: a reopen sees the edit.
        let reopened = recovered(dir.path(), &fs).expect("recover");
        assert_eq!(reopened.num_level_files(0), 1);
    }

    #[test]
    fn failed_append_abandons_the_open_manifest() {
        let (dir, flaky, fs, mut vs) = flaky_db();
        let mut e = VersionEdit::default();
        e.add_file(0, meta(vs.new_file_number().0, "a", "b"));
        vs.log_and_apply(&mut e).expect("apply");
        let first = vs.manifest_file_number();

        flaky.fail_sync.store(true, Ordering::SeqCst);
        let mut lost = VersionEdit::default();
        lost.add_file(0, meta(vs.new_file_number().0, "c", "d"));
        assert!(vs.log_and_apply(&mut lost).is_err());
        assert_eq!(vs.num_level_files(0), 1, "the old version stays current");
        flaky.fail_sync.store(false, Ordering::SeqCst);

        // The failed edit may have reached the old MANIFEST; a fresh one replaces it.
        let mut e = VersionEdit::default();
        e.add_file(1, meta(vs.new_file_number().0, "x", "y"));
        vs.log_and_apply(&mut e).expect("apply");
        assert!(vs.manifest_file_number() > first);
        let reopened = recovered(dir.path(), &fs).expect("recover");
        assert_eq!(layout(&reopened.current()), layout(&vs.current()));
        assert_eq!(reopened.num_level_files(0), 1);
    }

    /// PosixFs with switchable failures of rename, directory sync and writable-file syncs.
    #[derive(Debug, Default)]
    struct FlakyFs {
        fail_rename: AtomicBool,
        fail_sync_dir: AtomicBool,
        fail_sync: Arc<AtomicBool>,
    }

    struct FlakyFile {
        inner: Box<dyn WritableFile>,
        fail_sync: Arc<AtomicBool>,
    }

    impl WritableFile for FlakyFile {
        fn append(&mut self, data: &[u8]) -> Result<()> {
            self.inner.append(data)
        }
        fn flush(&mut self) -> Result<()> {
            self.inner.flush()
        }
        fn sync(&mut self) -> Result<()> {
            if self.fail_sync.load(Ordering::SeqCst) {
                return Err(Error::io("sync", std::io::Error::other("injected")));
            }
            self.inner.sync()
        }
    }

    impl FileSystem for FlakyFs {
        fn create_dir_all(&self, dir: &Path) -> Result<()> {
            PosixFs.create_dir_all(dir)
        }
        fn new_writable_file(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
            Ok(Box::new(FlakyFile {
                inner: PosixFs.new_writable_file(path)?,
                fail_sync: Arc::clone(&self.fail_sync),
            }))
        }
        fn new_sequential_file(&self, path: &Path) -> Result<Box<dyn SequentialFile>> {
            PosixFs.new_sequential_file(path)
        }
        fn new_random_access_file(&self, path: &Path) -> Result<Box<dyn RandomAccessFile>> {
            PosixFs.new_random_access_file(path)
        }
        fn exists(&self, path: &Path) -> bool {
            PosixFs.exists(path)
        }
        fn children(&self, dir: &Path) -> Result<Vec<String>> {
            PosixFs.children(dir)
        }
        fn remove_file(&self, path: &Path) -> Result<()> {
            PosixFs.remove_file(path)
        }
        fn rename(&self, from: &Path, to: &Path) -> Result<()> {
            if self.fail_rename.load(Ordering::SeqCst) {
                return Err(Error::io("rename", std::io::Error::other("injected")));
            }
            PosixFs.rename(from, to)
        }
        fn file_size(&self, path: &Path) -> Result<u64> {
            PosixFs.file_size(path)
        }
        fn sync_dir(&self, dir: &Path) -> Result<()> {
            if self.fail_sync_dir.load(Ordering::SeqCst) {
                return Err(Error::io("sync_dir", std::io::Error::other("injected")));
            }
            PosixFs.sync_dir(dir)
        }
        fn lock_file(&self, path: &Path) -> Result<FileLock> {
            PosixFs.lock_file(path)
        }
    }
}
