//! `FaultInjectionFs`: a [`FileSystem`] wrapper for failure and crash tests. It fails chosen
//! operations on chosen files, counts calls so a test can aim at "the Nth write", and
//! simulates a machine crash by throwing away what was never made durable.
//!
//! The crash model ([`FaultInjectionFs::drop_unsynced_data`]), for files and renames made
//! through this wrapper (files it never wrote are left alone):
//! - a file's durable length is its length at its last successful `sync` (0 if never synced);
//!   bytes past it are cut off, including bytes still buffered in an open handle;
//! - a file name that did not exist before this fs created it is durable only once its
//!   directory has been synced (`sync_dir`); otherwise the file is removed whole;
//! - a `rename` is durable only once the directory of its destination has been synced;
//!   otherwise it is undone: the file goes back to its old name and whatever the
//!   destination held before (read and kept in memory at rename time) is written back;
//! - `remove_file` is durable at once (a real crash could resurrect the file; not modelled);
//! - handles opened before the crash are dead afterwards: their writes and syncs fail;
//! - a log made by `new_log_file` keeps the size it had at the crash: an inner fs that
//!   sizes logs ahead of their contents leaves zeros after what the crash kept, as a
//!   real crash does (only a closed handle trims them);
//! - syncs of a file's [`SyncHandle`] (a table synced behind its writer) can be failed
//!   as `Sync` calls, but what they sync is not counted durable: only the file's own
//!   `sync` is, and that is all the engine relies on.
//!
//! [`FaultInjectionFs::drop_unsynced_data_keeping`] is the same crash, except that each
//! file may keep a prefix of its unsynced tail, as when the OS had written some dirty
//! pages back before the machine died: logs then end in a torn record.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::{
    read_file_to_vec, FileLock, FileSystem, RandomAccessFile, SequentialFile, SyncHandle,
    WritableFile,
};
use crate::error::{Error, Result};

/// The operations a fault can be aimed at.
///
/// `Create` is `new_writable_file` or `new_log_file`; `Write` is `WritableFile::append` (not `flush`);
/// `Sync` is `WritableFile::sync`; `Open` is opening a file for reading (sequential or
/// random access); `Read` is each read call on such a file; `Rename` matches when either
/// name contains the pattern; `SyncDir` matches on the directory's own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsOp {
    Create,
    Write,
    Sync,
    Rename,
    Remove,
    Read,
    SyncDir,
    Open,
}

/// One armed fault: let `skip` matching calls through, then fail `times` of them.
struct Fault {
    op: FsOp,
    pattern: String,
    skip: usize,
    times: usize,
}

/// What a crash would leave of one file written through this fs.
struct FileRecord {
    /// Identifies the handle that writes the file, so its syncs find the record after a rename.
    id: u64,
    synced_len: u64,
    /// The name was created by this fs and its directory has not been synced since.
    unsynced_name: bool,
    /// Made by `new_log_file`, which may size the file ahead of its contents.
    log: bool,
}

/// A rename whose destination directory has not been synced yet.
struct PendingRename {
    from: PathBuf,
    to: PathBuf,
    /// What `to` held before, restored if the rename is undone.
    displaced: Option<(Vec<u8>, Option<FileRecord>)>,
}

/// The inner writable file, shared with the fs so a crash can close it.
struct OpenWritable {
    file: Option<Box<dyn WritableFile>>,
    appended: u64,
}

#[derive(Default)]
struct State {
    faults: Vec<Fault>,
    failures_injected: usize,
    calls: HashMap<FsOp, usize>,
    files: HashMap<PathBuf, FileRecord>,
    renames: Vec<PendingRename>,
    handles: Vec<Weak<Mutex<OpenWritable>>>,
    next_id: u64,
}

impl State {
    /// Counts a call of `op` on `paths` and decides whether it fails.
    fn check(&mut self, op: FsOp, paths: &[&Path]) -> Result<()> {
        *self.calls.entry(op).or_default() += 1;
        let mut fire = false;
        for fault in self.faults.iter_mut() {
            if fault.op != op || !paths.iter().any(|p| name_matches(p, &fault.pattern)) {
                continue;
            }
            if fault.skip > 0 {
                fault.skip -= 1;
            } else if !fire && fault.times > 0 {
                fire = true;
                if fault.times != usize::MAX {
                    fault.times -= 1;
                }
            }
        }
        self.faults.retain(|f| f.times > 0);
        if !fire {
            return Ok(());
        }
        self.failures_injected += 1;
        let path = paths.first().copied().unwrap_or(Path::new(""));
        Err(Error::io(
            format!("{}: injected fault", path.display()),
            std::io::Error::other("injected fault"),
        ))
    }
}

fn name_matches(path: &Path, pattern: &str) -> bool {
    pattern.is_empty()
        || path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains(pattern))
}

/// The directory holding `path`, with a bare file name living in ".".
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let b = if b.as_os_str().is_empty() {
        Path::new(".")
    } else {
        b
    };
    a == b
}

/// A file system that fails on request and can forget unsynced data.
/// Thread-safety: `Send + Sync`; one mutex guards the fault list and the crash bookkeeping
/// and is never held across a call into the inner file system, except during a crash.
pub struct FaultInjectionFs {
    inner: Arc<dyn FileSystem>,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for FaultInjectionFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultInjectionFs")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl FaultInjectionFs {
    pub fn new(inner: Arc<dyn FileSystem>) -> Arc<FaultInjectionFs> {
        Arc::new(FaultInjectionFs {
            inner,
            state: Arc::new(Mutex::new(State::default())),
        })
    }

    /// Fails calls of `op` on files whose name contains `pattern` ("" matches every file):
    /// the first `skip` matching calls succeed, the next `times` fail with
    /// `Error::Io { context: "<path>: injected fault", kind: Other, .. }`, then calls
    /// succeed again. `times == usize::MAX` fails until [`clear_faults`](Self::clear_faults).
    /// Several faults may be armed at once; one call fires at most one of them.
    pub fn fail(&self, op: FsOp, pattern: &str, skip: usize, times: usize) {
        self.state.lock().faults.push(Fault {
            op,
            pattern: pattern.to_string(),
            skip,
            times,
        });
    }

    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// How many injected failures have fired.
    pub fn failures_injected(&self) -> usize {
        self.state.lock().failures_injected
    }

    /// Calls of `op` seen so far, failed ones included.
    pub fn calls(&self, op: FsOp) -> usize {
        self.state.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// Simulates a machine crash as described in the module docs, then starts afresh: what
    /// survived counts as durable, armed faults stay armed, and the fs keeps working.
    /// Call it after dropping (or at least no longer using) whatever writes through this fs.
    pub fn drop_unsynced_data(&self) -> Result<()> {
        self.drop_unsynced_data_keeping(|_, _| 0)
    }

    /// [`drop_unsynced_data`](Self::drop_unsynced_data), except that a file whose name is
    /// durable keeps `keep(path, unsynced_len)` bytes (at most `unsynced_len`) of the tail
    /// written since its last sync.
    pub fn drop_unsynced_data_keeping(
        &self,
        mut keep: impl FnMut(&Path, u64) -> u64,
    ) -> Result<()> {
        let mut st = self.state.lock();
        // Logs' sizes before the handles close (closing trims a log to its contents).
        let crash_sizes: HashMap<PathBuf, u64> = st
            .files
            .iter()
            .filter(|(path, record)| record.log && self.inner.exists(path))
            .map(|(path, _)| Ok((path.clone(), self.inner.file_size(path)?)))
            .collect::<Result<_>>()?;
        // Closing the handles first pushes their buffered bytes to the OS, as a process
        // would on its way down; the cut below then removes them with the rest of the tail.
        for handle in std::mem::take(&mut st.handles) {
            if let Some(handle) = handle.upgrade() {
                drop(handle.lock().file.take());
            }
        }
        for rename in std::mem::take(&mut st.renames).into_iter().rev() {
            if self.inner.exists(&rename.to) {
                self.inner.rename(&rename.to, &rename.from)?;
                if let Some(record) = st.files.remove(&rename.to) {
                    st.files.insert(rename.from.clone(), record);
                }
            }
            if let Some((bytes, record)) = rename.displaced {
                self.rewrite(&rename.to, &bytes)?;
                if let Some(record) = record {
                    st.files.insert(rename.to, record);
                }
            }
        }
        for (path, record) in std::mem::take(&mut st.files) {
            if !self.inner.exists(&path) {
                continue;
            }
            if record.unsynced_name {
                self.inner.remove_file(&path)?;
                continue;
            }
            let size = self.inner.file_size(&path)?;
            let unsynced = size.saturating_sub(record.synced_len);
            let keep_len = match unsynced {
                0 => size,
                _ => record.synced_len + keep(&path, unsynced).min(unsynced),
            };
            let crash_size = crash_sizes.get(&path).copied().unwrap_or(0).max(keep_len);
            if keep_len < size || crash_size > size {
                let as_len = |n: u64| {
                    usize::try_from(n).map_err(|_| {
                        Error::invalid_argument(format!("{}: file too large", path.display()))
                    })
                };
                let mut kept = self
                    .inner
                    .new_random_access_file(&path)?
                    .read_at(0, as_len(keep_len)?)?;
                kept.resize(as_len(crash_size)?, 0);
                self.rewrite(&path, &kept)?;
            }
        }
        Ok(())
    }

    /// Creates a file through `create` with the `Create` fault check, and tracks what a
    /// crash would leave of it.
    fn track_writable(
        &self,
        path: &Path,
        log: bool,
        create: impl FnOnce(&Path) -> Result<Box<dyn WritableFile>>,
    ) -> Result<Box<dyn WritableFile>> {
        self.state.lock().check(FsOp::Create, &[path])?;
        let existed = self.inner.exists(path);
        let file = create(path)?;
        let handle = Arc::new(Mutex::new(OpenWritable {
            file: Some(file),
            appended: 0,
        }));
        let mut st = self.state.lock();
        st.next_id += 1;
        let id = st.next_id;
        let unsynced_name = match st.files.get(path) {
            Some(old) => old.unsynced_name,
            None => !existed,
        };
        st.files.insert(
            path.to_path_buf(),
            FileRecord {
                id,
                synced_len: 0,
                unsynced_name,
                log,
            },
        );
        st.handles.retain(|h| h.strong_count() > 0);
        st.handles.push(Arc::downgrade(&handle));
        Ok(Box::new(FaultWritableFile {
            handle,
            id,
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }

    /// Replaces `path`'s contents with `bytes`, durably, bypassing faults and bookkeeping.
    fn rewrite(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut file = self.inner.new_writable_file(path)?;
        file.append(bytes)?;
        file.sync()
    }
}

impl FileSystem for FaultInjectionFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.inner.create_dir_all(dir)
    }

    fn new_writable_file(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        self.track_writable(path, false, |p| self.inner.new_writable_file(p))
    }

    fn new_log_file(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        self.track_writable(path, true, |p| self.inner.new_log_file(p))
    }

    fn new_sequential_file(&self, path: &Path) -> Result<Box<dyn SequentialFile>> {
        self.state.lock().check(FsOp::Open, &[path])?;
        let inner = self.inner.new_sequential_file(path)?;
        Ok(Box::new(FaultSequentialFile {
            inner,
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }

    fn new_random_access_file(&self, path: &Path) -> Result<Box<dyn RandomAccessFile>> {
        self.state.lock().check(FsOp::Open, &[path])?;
        let inner = self.inner.new_random_access_file(path)?;
        Ok(Box::new(FaultRandomAccessFile {
            inner,
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }

    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }

    fn children(&self, dir: &Path) -> Result<Vec<String>> {
        self.inner.children(dir)
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        self.state.lock().check(FsOp::Remove, &[path])?;
        self.inner.remove_file(path)?;
        let mut st = self.state.lock();
        st.files.remove(path);
        // Removal is durable, so nothing a rename displaced into `path` can come back.
        st.renames.retain(|r| r.to != path);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.state.lock().check(FsOp::Rename, &[from, to])?;
        let displaced_bytes = if self.inner.exists(to) {
            Some(read_file_to_vec(self.inner.as_ref(), to)?)
        } else {
            None
        };
        self.inner.rename(from, to)?;
        let mut st = self.state.lock();
        let displaced_record = st.files.remove(to);
        if let Some(record) = st.files.remove(from) {
            st.files.insert(to.to_path_buf(), record);
        }
        st.renames.push(PendingRename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            displaced: displaced_bytes.map(|bytes| (bytes, displaced_record)),
        });
        Ok(())
    }

    fn file_size(&self, path: &Path) -> Result<u64> {
        self.inner.file_size(path)
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.state.lock().check(FsOp::SyncDir, &[dir])?;
        self.inner.sync_dir(dir)?;
        let mut st = self.state.lock();
        st.renames.retain(|r| !same_dir(dir_of(&r.to), dir));
        for (path, record) in st.files.iter_mut() {
            if same_dir(dir_of(path), dir) {
                record.unsynced_name = false;
            }
        }
        Ok(())
    }

    fn lock_file(&self, path: &Path) -> Result<FileLock> {
        self.inner.lock_file(path)
    }
}

/// A writable file that counts what was appended and what was synced.
struct FaultWritableFile {
    handle: Arc<Mutex<OpenWritable>>,
    id: u64,
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

impl FaultWritableFile {
    fn dead(&self) -> Error {
        dead_handle(&self.path)
    }
}

/// The error of a handle used after a simulated crash closed it.
fn dead_handle(path: &Path) -> Error {
    Error::io(
        format!("{}: used after a simulated crash", path.display()),
        std::io::Error::other("file handle closed by drop_unsynced_data"),
    )
}

impl WritableFile for FaultWritableFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.state.lock().check(FsOp::Write, &[&self.path])?;
        let mut open = self.handle.lock();
        let file = open.file.as_mut().ok_or_else(|| self.dead())?;
        file.append(data)?;
        open.appended += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let mut open = self.handle.lock();
        open.file.as_mut().ok_or_else(|| self.dead())?.flush()
    }

    fn sync(&mut self) -> Result<()> {
        self.state.lock().check(FsOp::Sync, &[&self.path])?;
        let synced_len = {
            let mut open = self.handle.lock();
            open.file.as_mut().ok_or_else(|| self.dead())?.sync()?;
            open.appended
        };
        // The handle lock is released first: a crash takes the state lock, then handles.
        let mut st = self.state.lock();
        if let Some(record) = st.files.values_mut().find(|r| r.id == self.id) {
            record.synced_len = synced_len;
        }
        Ok(())
    }

    fn sync_handle(&self) -> Result<Option<Box<dyn SyncHandle>>> {
        let inner = {
            let open = self.handle.lock();
            open.file
                .as_ref()
                .ok_or_else(|| self.dead())?
                .sync_handle()?
        };
        Ok(inner.map(|inner| {
            Box::new(FaultSyncHandle {
                inner,
                handle: Arc::clone(&self.handle),
                path: self.path.clone(),
                state: Arc::clone(&self.state),
            }) as Box<dyn SyncHandle>
        }))
    }
}

/// A file's second handle for syncs behind its writer: each sync is a `Sync` call that a
/// fault can fail, and dies with the file's handles at a simulated crash.
struct FaultSyncHandle {
    inner: Box<dyn SyncHandle>,
    handle: Arc<Mutex<OpenWritable>>,
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

impl SyncHandle for FaultSyncHandle {
    fn sync(&self) -> Result<()> {
        self.state.lock().check(FsOp::Sync, &[&self.path])?;
        if self.handle.lock().file.is_none() {
            return Err(dead_handle(&self.path));
        }
        self.inner.sync()
    }
}

struct FaultSequentialFile {
    inner: Box<dyn SequentialFile>,
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

impl SequentialFile for FaultSequentialFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.state.lock().check(FsOp::Read, &[&self.path])?;
        self.inner.read(buf)
    }
}

struct FaultRandomAccessFile {
    inner: Box<dyn RandomAccessFile>,
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

impl RandomAccessFile for FaultRandomAccessFile {
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        self.state.lock().check(FsOp::Read, &[&self.path])?;
        self.inner.read_at(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{write_file, PosixFs};

    fn setup() -> (tempfile::TempDir, Arc<FaultInjectionFs>) {
        let dir = tempfile::tempdir().expect("tempdir");
        (dir, FaultInjectionFs::new(Arc::new(PosixFs)))
    }

    fn contents(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("read back")
    }

    fn assert_injected(result: Result<()>, name: &str) {
        match result {
            Err(Error::Io { context, kind, .. }) => {
                assert_eq!(kind, std::io::ErrorKind::Other);
                assert!(context.ends_with(": injected fault"), "{context}");
                assert!(context.contains(name), "{context} should name {name}");
            }
            other => panic!("expected an injected fault on {name}, got {other:?}"),
        }
    }

    /// Performs one call of `op` on a file (or directory) called `name`, preparing what
    /// it needs with other ops first.
    fn do_op(fs: &FaultInjectionFs, dir: &Path, op: FsOp, name: &str) -> Result<()> {
        let path = dir.join(name);
        match op {
            FsOp::Create => fs.new_writable_file(&path).map(drop),
            FsOp::Write => fs.new_writable_file(&path)?.append(b"x"),
            FsOp::Sync => fs.new_writable_file(&path)?.sync(),
            FsOp::Rename => {
                write_file(fs, &path, b"r", false)?;
                fs.rename(&path, &dir.join(format!("{name}.renamed")))
            }
            FsOp::Remove => {
                write_file(fs, &path, b"r", false)?;
                fs.remove_file(&path)
            }
            FsOp::Read => {
                write_file(fs, &path, b"data", false)?;
                let mut buf = [0u8; 4];
                fs.new_sequential_file(&path)?.read(&mut buf).map(drop)
            }
            FsOp::SyncDir => {
                fs.create_dir_all(&path)?;
                fs.sync_dir(&path)
            }
            FsOp::Open => {
                write_file(fs, &path, b"data", false)?;
                fs.new_random_access_file(&path).map(drop)
            }
        }
    }

    #[test]
    fn every_op_fails_by_pattern_for_the_given_count() {
        use FsOp::*;
        for op in [Create, Write, Sync, Rename, Remove, Read, SyncDir, Open] {
            let (dir, fs) = setup();
            fs.fail(op, "victim", 1, 2);
            let d = dir.path();
            do_op(&fs, d, op, "other-1").unwrap_or_else(|e| panic!("{op:?} other: {e}"));
            do_op(&fs, d, op, "victim-1").unwrap_or_else(|e| panic!("{op:?} skipped: {e}"));
            assert_injected(do_op(&fs, d, op, "victim-2"), "victim-2");
            do_op(&fs, d, op, "other-2").unwrap_or_else(|e| panic!("{op:?} other: {e}"));
            assert_injected(do_op(&fs, d, op, "victim-3"), "victim-3");
            do_op(&fs, d, op, "victim-4").unwrap_or_else(|e| panic!("{op:?} healed: {e}"));
            assert_eq!(fs.failures_injected(), 2, "{op:?}");
            assert_eq!(fs.calls(op), 6, "{op:?}");
        }
    }

    #[test]
    fn random_access_reads_can_fail_too() {
        let (dir, fs) = setup();
        let path = dir.path().join("000005.ldb");
        write_file(fs.as_ref(), &path, b"table", true).expect("write");
        let file = fs.new_random_access_file(&path).expect("open");
        fs.fail(FsOp::Read, ".ldb", 0, 1);
        assert_injected(file.read_at(0, 5).map(drop), "000005.ldb");
        assert_eq!(file.read_at(0, 5).expect("second read"), b"table");
    }

    #[test]
    fn unlimited_fault_lasts_until_cleared() {
        let (dir, fs) = setup();
        let mut file = fs
            .new_writable_file(&dir.path().join("000003.log"))
            .expect("create");
        fs.fail(FsOp::Write, "", 0, usize::MAX);
        for _ in 0..10 {
            assert_injected(file.append(b"x"), "000003.log");
        }
        fs.clear_faults();
        file.append(b"x").expect("healed");
        assert_eq!(fs.failures_injected(), 10);
        assert_eq!(fs.calls(FsOp::Write), 11);
    }

    #[test]
    fn aims_at_the_nth_write_of_one_file() {
        let (dir, fs) = setup();
        let mut log = fs
            .new_writable_file(&dir.path().join("000003.log"))
            .expect("log");
        let mut table = fs
            .new_writable_file(&dir.path().join("000004.ldb"))
            .expect("ldb");
        fs.fail(FsOp::Write, ".log", 2, 1);
        log.append(b"1").expect("first");
        table.append(b"t").expect("other file does not count");
        log.append(b"2").expect("second");
        assert_injected(log.append(b"3"), "000003.log");
        log.append(b"4").expect("fourth");
        log.flush().expect("flush");
        assert_eq!(contents(&dir.path().join("000003.log")), b"124");
        assert_eq!(fs.calls(FsOp::Write), 5);
        assert_eq!(fs.calls(FsOp::Sync), 0);
    }

    #[test]
    fn crash_cuts_unsynced_tails_and_kills_open_handles() {
        let (dir, fs) = setup();
        let path = dir.path().join("000003.log");
        let mut log = fs.new_writable_file(&path).expect("create");
        fs.sync_dir(dir.path()).expect("sync dir");
        log.append(b"abc").expect("append");
        log.sync().expect("sync");
        log.append(b"def").expect("append");
        log.flush().expect("flush");
        // Written behind the fault fs's back: not its business.
        let outsider = dir.path().join("LOG");
        std::fs::write(&outsider, b"untouched").expect("outsider");

        fs.drop_unsynced_data().expect("crash");
        assert_eq!(contents(&path), b"abc");
        assert_eq!(contents(&outsider), b"untouched");
        assert!(log.append(b"ghi").is_err(), "old handle must be dead");
        assert!(log.sync().is_err());
        drop(log);
        assert_eq!(contents(&path), b"abc");
    }

    #[test]
    fn crash_may_keep_part_of_an_unsynced_tail() {
        let (dir, fs) = setup();
        let log_path = dir.path().join("000003.log");
        let table_path = dir.path().join("000004.ldb");
        let mut log = fs.new_writable_file(&log_path).expect("log");
        let mut table = fs.new_writable_file(&table_path).expect("table");
        fs.sync_dir(dir.path()).expect("sync dir");
        log.append(b"synced").expect("append");
        log.sync().expect("sync");
        log.append(b"0123456789").expect("append");
        table.append(b"abc").expect("append");
        let mut asked = Vec::new();
        fs.drop_unsynced_data_keeping(|path, unsynced| {
            asked.push((path.to_path_buf(), unsynced));
            if path == log_path {
                4
            } else {
                99 // more than there is: the whole tail stays
            }
        })
        .expect("crash");
        asked.sort();
        assert_eq!(asked, vec![(log_path.clone(), 10), (table_path.clone(), 3)]);
        assert_eq!(contents(&log_path), b"synced0123");
        assert_eq!(contents(&table_path), b"abc");
        assert!(log.append(b"x").is_err(), "handles die as in any crash");
    }

    #[test]
    fn crash_leaves_an_open_log_at_its_size_and_a_closed_one_trimmed() {
        let (dir, fs) = setup();
        let open_path = dir.path().join("000003.log");
        let closed_path = dir.path().join("000002.log");
        let mut closed = fs.new_log_file(&closed_path).expect("create");
        let mut log = fs.new_log_file(&open_path).expect("create");
        fs.sync_dir(dir.path()).expect("sync dir");
        closed.append(b"old wal").expect("append");
        closed.sync().expect("sync");
        drop(closed);
        log.append(b"synced").expect("append");
        log.sync().expect("sync");
        log.append(b"lost").expect("append");
        log.flush().expect("flush");
        let size = std::fs::metadata(&open_path).expect("stat").len();
        assert!(
            size > 10,
            "PosixFs sizes a log ahead of its contents: {size}"
        );

        fs.drop_unsynced_data().expect("crash");
        let after = contents(&open_path);
        assert_eq!(after.len() as u64, size, "the zeros past the contents stay");
        assert_eq!(&after[..6], b"synced");
        assert!(
            after[6..].iter().all(|&b| b == 0),
            "the unsynced append is gone"
        );
        assert_eq!(contents(&closed_path), b"old wal");
    }

    #[test]
    fn sync_handles_fail_on_faults_die_in_a_crash_and_make_nothing_durable() {
        let (dir, fs) = setup();
        let path = dir.path().join("000005.ldb");
        let mut table = fs.new_writable_file(&path).expect("create");
        fs.sync_dir(dir.path()).expect("sync dir");
        let behind = table
            .sync_handle()
            .expect("sync handle")
            .expect("PosixFs files have sync handles");
        table.append(b"abc").expect("append");
        table.flush().expect("flush");
        behind.sync().expect("sync behind the writer");
        fs.fail(FsOp::Sync, ".ldb", 0, 1);
        assert_injected(behind.sync(), "000005.ldb");
        assert_eq!(fs.calls(FsOp::Sync), 2);

        fs.drop_unsynced_data().expect("crash");
        assert_eq!(contents(&path), b"", "only the file's own sync counts");
        assert!(behind.sync().is_err(), "it dies with the file's handles");
    }

    #[test]
    fn crash_drops_bytes_still_buffered_in_a_handle() {
        let (dir, fs) = setup();
        let path = dir.path().join("000007.ldb");
        let mut table = fs.new_writable_file(&path).expect("create");
        fs.sync_dir(dir.path()).expect("sync dir");
        table.append(&[9u8; 100]).expect("append");
        fs.drop_unsynced_data().expect("crash");
        assert!(path.exists(), "the name was made durable");
        assert_eq!(contents(&path), b"");
    }

    #[test]
    fn crash_removes_new_files_whose_directory_was_never_synced() {
        let (dir, fs) = setup();
        let synced_name = dir.path().join("000005.ldb");
        write_file(fs.as_ref(), &synced_name, b"kept", true).expect("write");
        fs.sync_dir(dir.path()).expect("sync dir");
        let unsynced_name = dir.path().join("000006.ldb");
        write_file(fs.as_ref(), &unsynced_name, b"lost", true).expect("write synced data");
        fs.drop_unsynced_data().expect("crash");
        assert_eq!(contents(&synced_name), b"kept");
        assert!(
            !unsynced_name.exists(),
            "file data was synced but its name was not"
        );
    }

    #[test]
    fn crash_undoes_renames_not_followed_by_a_directory_sync() {
        let (dir, fs) = setup();
        let current = dir.path().join("CURRENT");
        let tmp = dir.path().join("000009.dbtmp");
        write_file(fs.as_ref(), &current, b"MANIFEST-000001\n", true).expect("current");
        write_file(fs.as_ref(), &tmp, b"MANIFEST-000009\n", true).expect("tmp");
        fs.sync_dir(dir.path()).expect("sync dir");
        fs.rename(&tmp, &current).expect("rename");
        assert_eq!(contents(&current), b"MANIFEST-000009\n");

        fs.drop_unsynced_data().expect("crash");
        assert_eq!(contents(&current), b"MANIFEST-000001\n");
        assert_eq!(contents(&tmp), b"MANIFEST-000009\n");

        // The fs keeps working: the same swap, made durable this time, survives.
        fs.rename(&tmp, &current).expect("rename again");
        fs.sync_dir(dir.path()).expect("sync dir");
        fs.drop_unsynced_data().expect("second crash");
        assert_eq!(contents(&current), b"MANIFEST-000009\n");
        assert!(!tmp.exists());
    }

    #[test]
    fn crash_undoes_rename_of_a_never_dir_synced_file_entirely() {
        let (dir, fs) = setup();
        let current = dir.path().join("CURRENT");
        write_file(fs.as_ref(), &current, b"old\n", true).expect("current");
        fs.sync_dir(dir.path()).expect("sync dir");
        let tmp = dir.path().join("000010.dbtmp");
        write_file(fs.as_ref(), &tmp, b"new\n", true).expect("tmp");
        fs.rename(&tmp, &current).expect("rename");
        fs.drop_unsynced_data().expect("crash");
        assert_eq!(contents(&current), b"old\n");
        assert!(!tmp.exists(), "the temp file's name was never durable");
    }

    #[test]
    fn removal_is_durable_at_once() {
        let (dir, fs) = setup();
        let path = dir.path().join("000002.log");
        write_file(fs.as_ref(), &path, b"wal", true).expect("write");
        fs.sync_dir(dir.path()).expect("sync dir");
        fs.remove_file(&path).expect("remove");
        fs.drop_unsynced_data().expect("crash");
        assert!(!path.exists());
    }
}
