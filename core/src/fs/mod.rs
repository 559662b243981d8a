//! The file system seam. Everything the engine does to disk goes through [`FileSystem`],
//! so tests can swap in [`fault::FaultInjectionFs`], which fails chosen operations or
//! forgets unsynced bytes the way a machine crash would.

pub mod fault;
mod lock;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{IoSliceMut, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Result};

pub use lock::FileLock;

/// A file written front to back: WAL, table, MANIFEST, CURRENT's temp file.
pub trait WritableFile: Send {
    fn append(&mut self, data: &[u8]) -> Result<()>;
    /// Hands buffered bytes to the OS (survives a process crash, not a machine crash).
    fn flush(&mut self) -> Result<()>;
    /// Flushes and makes the bytes durable (fdatasync).
    fn sync(&mut self) -> Result<()>;
    /// A second handle on the file, for another thread to make durable what this one
    /// has flushed so far while appends go on (so the kernel writes a big file back as
    /// it grows, not all at the final `sync`). `None`, the default, when there is none.
    fn sync_handle(&self) -> Result<Option<Box<dyn SyncHandle>>> {
        Ok(None)
    }
}

/// See [`WritableFile::sync_handle`].
pub trait SyncHandle: Send {
    /// Makes durable (fdatasync) every byte the file's writer had flushed when it began.
    /// The kernel reports a failed write-back once per open file, and this handle may
    /// share the writer's: an error here counts as the file's own, and its `sync` may
    /// not report it again.
    fn sync(&self) -> Result<()>;
}

/// A file read front to back: WAL and MANIFEST replay.
pub trait SequentialFile: Send {
    /// Reads up to `buf.len()` bytes; 0 means end of file.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
}

/// A file read at offsets by many threads at once: tables.
pub trait RandomAccessFile: Send + Sync {
    /// Reads up to `len` bytes at `offset`; fewer only at end of file.
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>>;

    /// Reads up to `buf.len()` bytes at `offset` into `buf`, returning how many; fewer
    /// only at end of file. Lets a caller reuse one buffer for many reads; the default
    /// goes through `read_at` (and so through whatever faults a wrapper injects there).
    fn read_at_into(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let data = self.read_at(offset, buf.len())?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    /// Fills `bufs` in turn from the bytes at `offset` onwards, returning how many were
    /// read in all; fewer only at end of file. Lets a sequential reader fetch several
    /// blocks, each into its own buffer, in one system call; the default reads buffer by
    /// buffer through `read_at_into`.
    fn read_vectored_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> Result<usize> {
        let mut total = 0;
        for buf in bufs.iter_mut() {
            let n = self.read_at_into(offset + total as u64, buf)?;
            total += n;
            if n < buf.len() {
                break;
            }
        }
        Ok(total)
    }
}

/// Operations on a directory of files. Implementations are shared across threads.
pub trait FileSystem: Send + Sync + fmt::Debug {
    fn create_dir_all(&self, dir: &Path) -> Result<()>;
    /// Creates `path`, truncating any existing file.
    fn new_writable_file(&self, path: &Path) -> Result<Box<dyn WritableFile>>;
    /// Creates a write-ahead log at `path`, truncating any existing file. A log is synced
    /// after small appends, so an implementation may size the file ahead of its contents
    /// (the unwritten space reads as zeros, which log readers skip as LevelDB's do) and
    /// trim it when the handle is dropped. Defaults to [`FileSystem::new_writable_file`].
    fn new_log_file(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        self.new_writable_file(path)
    }
    fn new_sequential_file(&self, path: &Path) -> Result<Box<dyn SequentialFile>>;
    fn new_random_access_file(&self, path: &Path) -> Result<Box<dyn RandomAccessFile>>;
    fn exists(&self, path: &Path) -> bool;
    /// Names (not paths) of the entries in `dir`.
    fn children(&self, dir: &Path) -> Result<Vec<String>>;
    fn remove_file(&self, path: &Path) -> Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Removes an empty directory (`destroy_db`). Defaults to the real file system.
    fn remove_dir(&self, dir: &Path) -> Result<()> {
        std::fs::remove_dir(dir).map_err(|e| Error::io(dir.display().to_string(), e))
    }
    fn file_size(&self, path: &Path) -> Result<u64>;
    /// Makes the directory's entries (creations, renames) durable.
    fn sync_dir(&self, dir: &Path) -> Result<()>;
    /// Takes the `LOCK` file; Busy if another process or another Db in this process holds it.
    fn lock_file(&self, path: &Path) -> Result<FileLock>;
}

/// Reads a whole file (CURRENT, small test files).
pub fn read_file_to_vec(fs: &dyn FileSystem, path: &Path) -> Result<Vec<u8>> {
    let mut file = fs.new_sequential_file(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Writes `data` to `path`, optionally syncing it.
pub fn write_file(fs: &dyn FileSystem, path: &Path, data: &[u8], sync: bool) -> Result<()> {
    let mut file = fs.new_writable_file(path)?;
    file.append(data)?;
    if sync {
        file.sync()
    } else {
        file.flush()
    }
}

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct PosixFs;

/// 64 KiB, as LevelDB's `PosixWritableFile`: small appends cost a memcpy, not a syscall.
const WRITE_BUFFER: usize = 64 * 1024;

/// How far ahead of its contents a log file's size is set, in steps of this many bytes.
/// An fdatasync after an append that grew the file must also write the inode (the size
/// changed); inside the already-set size it need not. Here a 138-byte append plus
/// fdatasync took 145–170 µs growing the file and 120–154 µs inside a sparse extension.
/// The extension is a hole: it takes no disk blocks, only apparent size until the trim.
const LOG_EXTENSION: u64 = 1 << 20;

/// Unwritten space always left past a log's contents: one whole log block, so an append
/// torn short by a crash is followed by a block of zeros, which tells the log reader the
/// writer stopped there (rather than that the log is damaged).
const LOG_SLACK: u64 = 32 * 1024;
const _: () = assert!(LOG_SLACK as usize >= crate::log::BLOCK_SIZE);

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path.display().to_string(), e)
}

/// Appends with `pwrite` at an offset it tracks (every writable file starts empty):
/// `write` in a process with threads takes the file's position lock on every call, which
/// the WAL's one write per put pays for nothing.
struct PosixWritableFile {
    file: File,
    buf: Vec<u8>,
    path: String,
    /// Where the next byte goes; `None` after a failed write, whose partial bytes leave
    /// the end unknown: every later write fails rather than leave a hole or overwrite.
    offset: Option<u64>,
    /// Logs only: keep the file's size set ahead of `offset` (see [`LOG_EXTENSION`]).
    /// Cleared if setting the size fails: the file then grows with each write, as other
    /// files do, and the writes report their own errors.
    extend: bool,
    /// The size last set ahead of the contents (0 if never); the drop trims back to them.
    extended_to: u64,
}

impl PosixWritableFile {
    fn create(path: &Path, extend: bool) -> Result<PosixWritableFile> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io_err(path))?;
        Ok(PosixWritableFile {
            file,
            buf: Vec::with_capacity(WRITE_BUFFER),
            path: path.display().to_string(),
            offset: Some(0),
            extend,
            extended_to: 0,
        })
    }

    fn flush_buffer(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.extend_for(self.buf.len());
            let res = write_at_end(&self.file, &mut self.offset, &self.path, &self.buf);
            self.buf.clear();
            res?;
        }
        Ok(())
    }

    /// Sets a log's size past the next `len` bytes and [`LOG_SLACK`] if they would reach
    /// beyond it.
    fn extend_for(&mut self, len: usize) {
        let Some(at) = self.offset.filter(|_| self.extend) else {
            return;
        };
        let needed = at + len as u64 + LOG_SLACK;
        if needed <= self.extended_to {
            return;
        }
        let target = needed.div_ceil(LOG_EXTENSION) * LOG_EXTENSION;
        match self.file.set_len(target) {
            Ok(()) => self.extended_to = target,
            Err(_) => self.extend = false,
        }
    }
}

/// Writes `data` at `*offset` and moves it past; see `PosixWritableFile::offset`.
fn write_at_end(file: &File, offset: &mut Option<u64>, path: &str, data: &[u8]) -> Result<()> {
    let Some(at) = offset.take() else {
        return Err(Error::io(
            path.to_string(),
            std::io::Error::other("an earlier write to this file failed"),
        ));
    };
    file.write_all_at(data, at)
        .map_err(|e| Error::io(path.to_string(), e))?;
    *offset = Some(at + data.len() as u64);
    Ok(())
}

impl WritableFile for PosixWritableFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        if self.buf.len() + data.len() > WRITE_BUFFER {
            self.flush_buffer()?;
        }
        if data.len() >= WRITE_BUFFER {
            self.extend_for(data.len());
            return write_at_end(&self.file, &mut self.offset, &self.path, data);
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.flush_buffer()
    }

    fn sync(&mut self) -> Result<()> {
        self.flush_buffer()?;
        self.file
            .sync_data()
            .map_err(|e| Error::io(self.path.clone(), e))
    }

    fn sync_handle(&self) -> Result<Option<Box<dyn SyncHandle>>> {
        let file = self
            .file
            .try_clone()
            .map_err(io_err(Path::new(&self.path)))?;
        Ok(Some(Box::new(PosixSyncHandle {
            file,
            path: self.path.clone(),
        })))
    }
}

/// A duplicate of a [`PosixWritableFile`]'s descriptor.
struct PosixSyncHandle {
    file: File,
    path: String,
}

impl SyncHandle for PosixSyncHandle {
    fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(self.path.clone(), e))
    }
}

impl Drop for PosixWritableFile {
    fn drop(&mut self) {
        // Best effort: an error here has nobody to report to; callers that care flush first.
        let _ = self.flush_buffer();
        // A log handed back ends where its contents end. After a failed write the end is
        // unknown, and the zeros past it are harmless, so the file is left as it is.
        if let Some(at) = self.offset {
            if self.extended_to > at {
                let _ = self.file.set_len(at);
            }
        }
    }
}

struct PosixSequentialFile {
    file: File,
    path: String,
}

impl SequentialFile for PosixSequentialFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.file.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(self.path.clone(), e)),
            }
        }
    }
}

struct PosixRandomAccessFile {
    file: File,
    path: String,
    /// Held across the seek and readv of a vectored read (the only use of the file
    /// position; positional reads ignore it).
    cursor: parking_lot::Mutex<()>,
}

impl RandomAccessFile for PosixRandomAccessFile {
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let filled = self.read_at_into(offset, &mut buf)?;
        buf.truncate(filled);
        Ok(buf)
    }

    fn read_at_into(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self
                .file
                .read_at(&mut buf[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(self.path.clone(), e)),
            }
        }
        Ok(filled)
    }

    fn read_vectored_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> Result<usize> {
        let err = |e| Error::io(self.path.clone(), e);
        let got = {
            let _cursor = self.cursor.lock();
            (&self.file).seek(SeekFrom::Start(offset)).map_err(err)?;
            let mut slices: Vec<IoSliceMut<'_>> =
                bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
            loop {
                match (&self.file).read_vectored(&mut slices) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(err(e)),
                }
            }
        };
        // A short read (end of file, or the kernel stopped early): finish each buffer with
        // positional reads.
        let mut unclaimed = got;
        let mut total = 0;
        for buf in bufs.iter_mut() {
            let mut filled = unclaimed.min(buf.len());
            unclaimed -= filled;
            if filled < buf.len() {
                filled +=
                    self.read_at_into(offset + (total + filled) as u64, &mut buf[filled..])?;
            }
            total += filled;
            if filled < buf.len() {
                break;
            }
        }
        Ok(total)
    }
}

/// Opens a table for reading without access-time updates: point reads pread a block per
/// table, and with atime on the kernel checks (and may write) the inode's atime each time.
/// O_NOATIME is refused for a file someone else owns; that file is opened plainly.
#[cfg(target_os = "linux")]
fn open_for_random_reads(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => File::open(path),
        other => other,
    }
}

#[cfg(not(target_os = "linux"))]
fn open_for_random_reads(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

impl FileSystem for PosixFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))
    }

    fn new_writable_file(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(PosixWritableFile::create(path, false)?))
    }

    fn new_log_file(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(PosixWritableFile::create(path, true)?))
    }

    fn new_sequential_file(&self, path: &Path) -> Result<Box<dyn SequentialFile>> {
        let file = File::open(path).map_err(io_err(path))?;
        Ok(Box::new(PosixSequentialFile {
            file,
            path: path.display().to_string(),
        }))
    }

    fn new_random_access_file(&self, path: &Path) -> Result<Box<dyn RandomAccessFile>> {
        let file = open_for_random_reads(path).map_err(io_err(path))?;
        Ok(Box::new(PosixRandomAccessFile {
            file,
            path: path.display().to_string(),
            cursor: parking_lot::Mutex::new(()),
        }))
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn children(&self, dir: &Path) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        std::fs::remove_file(path).map_err(io_err(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to).map_err(io_err(from))
    }

    fn file_size(&self, path: &Path) -> Result<u64> {
        std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(io_err(path))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    }

    fn lock_file(&self, path: &Path) -> Result<FileLock> {
        FileLock::acquire(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_rename_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = PosixFs;
        let a = dir.path().join("a");
        let mut w = fs.new_writable_file(&a).expect("create");
        w.append(b"hello ").expect("append");
        w.append(&vec![b'x'; WRITE_BUFFER + 10])
            .expect("append big");
        w.append(b"end").expect("append");
        w.sync().expect("sync");
        drop(w);
        assert_eq!(
            fs.file_size(&a).expect("size"),
            6 + WRITE_BUFFER as u64 + 10 + 3
        );
        let r = fs.new_random_access_file(&a).expect("open");
        assert_eq!(r.read_at(0, 6).expect("read"), b"hello ");
        let tail = r.read_at(6 + WRITE_BUFFER as u64 + 10, 100).expect("read");
        assert_eq!(tail, b"end");
        let (mut x, mut y, mut z) = ([0u8; 4], [0u8; 2], [7u8; 10]);
        let n = r
            .read_vectored_at(2, &mut [&mut x[..], &mut y[..]])
            .expect("readv");
        assert_eq!((n, &x, &y), (6, b"llo ", b"xx"));
        // Past the end: the buffers are filled as far as the file goes.
        let n = r
            .read_vectored_at(6 + WRITE_BUFFER as u64 + 9, &mut [&mut y[..], &mut z[..]])
            .expect("readv at end");
        assert_eq!((n, &y, &z[..2]), (4, b"xe", &b"nd"[..]));
        let b = dir.path().join("b");
        fs.rename(&a, &b).expect("rename");
        fs.sync_dir(dir.path()).expect("sync dir");
        assert!(!fs.exists(&a));
        assert_eq!(fs.children(dir.path()).expect("ls"), vec!["b".to_string()]);
        fs.remove_file(&b).expect("remove");
        assert!(matches!(fs.remove_file(&b), Err(Error::Io { .. })));
    }

    /// A log's size runs ahead of its contents as a hole (no disk blocks), by whole
    /// extensions with a block of slack, and the drop trims it back; other files never
    /// run ahead.
    #[test]
    fn a_log_is_sized_ahead_of_its_contents_and_trimmed_on_drop() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("000005.log");
        let mut log = PosixFs.new_log_file(&path).expect("create");
        log.append(b"first record").expect("append");
        log.sync().expect("sync");
        let meta = std::fs::metadata(&path).expect("stat");
        assert_eq!(meta.len(), LOG_EXTENSION);
        assert!(
            meta.blocks() * 512 < LOG_EXTENSION / 4,
            "{} blocks",
            meta.blocks()
        );
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(&bytes[..12], b"first record");
        assert!(bytes[12..].iter().all(|&b| b == 0));

        // Contents within LOG_SLACK of the extension's end push it one extension further.
        let fill = vec![7u8; (LOG_EXTENSION - LOG_SLACK) as usize - 12];
        log.append(&fill).expect("append up to the slack");
        log.flush().expect("flush");
        assert_eq!(PosixFs.file_size(&path).expect("size"), LOG_EXTENSION);
        log.append(b"x").expect("append into the slack");
        log.flush().expect("flush");
        assert_eq!(PosixFs.file_size(&path).expect("size"), 2 * LOG_EXTENSION);
        drop(log);
        let contents = LOG_EXTENSION - LOG_SLACK + 1;
        assert_eq!(PosixFs.file_size(&path).expect("size"), contents);

        let plain = dir.path().join("000006.ldb");
        let mut table = PosixFs.new_writable_file(&plain).expect("create");
        table.append(b"table bytes").expect("append");
        table.sync().expect("sync");
        assert_eq!(PosixFs.file_size(&plain).expect("size"), 11);
    }

    /// /dev/full fails every write with ENOSPC: the failure is reported, and later
    /// appends fail too instead of writing at an offset the partial write made unknown.
    #[test]
    fn a_failed_write_fails_every_later_one() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let mut w = PosixFs.new_writable_file(full).expect("open /dev/full");
        w.append(b"record").expect("buffered, not written yet");
        let first = w.flush().expect_err("ENOSPC");
        assert!(first.to_string().contains("/dev/full"), "{first}");
        w.append(b"more").expect("buffered");
        let later = w.sync().expect_err("poisoned");
        assert!(later.to_string().contains("earlier write"), "{later}");
        let big = w.append(&vec![0u8; WRITE_BUFFER]).expect_err("poisoned");
        assert!(big.to_string().contains("earlier write"), "{big}");
    }
}
