//! The few functions of LevelDB's C API (`leveldb/c.h`) the compatibility tests call, and
//! a small safe wrapper over them: [`LevelDb`], [`LevelBatch`], [`LevelIter`]. Compiled
//! only when build.rs found the system library (`cfg(has_leveldb)`).

#![warn(clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr;

/// Declares opaque C handle types, named as in `c.h`.
macro_rules! opaque {
    ($($name:ident),* $(,)?) => {$(
        #[allow(non_camel_case_types)]
        #[repr(C)]
        struct $name {
            _private: [u8; 0],
        }
    )*};
}

opaque!(
    leveldb_t,
    leveldb_options_t,
    leveldb_readoptions_t,
    leveldb_writeoptions_t,
    leveldb_writebatch_t,
    leveldb_iterator_t,
    leveldb_filterpolicy_t,
    leveldb_comparator_t,
);

type CompareFn = extern "C" fn(*mut c_void, *const c_char, usize, *const c_char, usize) -> c_int;
type NameFn = extern "C" fn(*mut c_void) -> *const c_char;
type DestructorFn = extern "C" fn(*mut c_void);

#[allow(non_camel_case_types)]
type leveldb_err = *mut c_char;

extern "C" {
    fn leveldb_open(
        options: *const leveldb_options_t,
        name: *const c_char,
        errptr: *mut leveldb_err,
    ) -> *mut leveldb_t;
    fn leveldb_close(db: *mut leveldb_t);
    fn leveldb_put(
        db: *mut leveldb_t,
        options: *const leveldb_writeoptions_t,
        key: *const c_char,
        keylen: usize,
        val: *const c_char,
        vallen: usize,
        errptr: *mut leveldb_err,
    );
    fn leveldb_delete(
        db: *mut leveldb_t,
        options: *const leveldb_writeoptions_t,
        key: *const c_char,
        keylen: usize,
        errptr: *mut leveldb_err,
    );
    fn leveldb_write(
        db: *mut leveldb_t,
        options: *const leveldb_writeoptions_t,
        batch: *mut leveldb_writebatch_t,
        errptr: *mut leveldb_err,
    );
    fn leveldb_get(
        db: *mut leveldb_t,
        options: *const leveldb_readoptions_t,
        key: *const c_char,
        keylen: usize,
        vallen: *mut usize,
        errptr: *mut leveldb_err,
    ) -> *mut c_char;
    fn leveldb_create_iterator(
        db: *mut leveldb_t,
        options: *const leveldb_readoptions_t,
    ) -> *mut leveldb_iterator_t;
    fn leveldb_property_value(db: *mut leveldb_t, propname: *const c_char) -> *mut c_char;
    fn leveldb_compact_range(
        db: *mut leveldb_t,
        start_key: *const c_char,
        start_key_len: usize,
        limit_key: *const c_char,
        limit_key_len: usize,
    );

    fn leveldb_iter_destroy(it: *mut leveldb_iterator_t);
    fn leveldb_iter_valid(it: *const leveldb_iterator_t) -> u8;
    fn leveldb_iter_seek_to_first(it: *mut leveldb_iterator_t);
    fn leveldb_iter_next(it: *mut leveldb_iterator_t);
    fn leveldb_iter_key(it: *const leveldb_iterator_t, klen: *mut usize) -> *const c_char;
    fn leveldb_iter_value(it: *const leveldb_iterator_t, vlen: *mut usize) -> *const c_char;
    fn leveldb_iter_get_error(it: *const leveldb_iterator_t, errptr: *mut leveldb_err);

    fn leveldb_writebatch_create() -> *mut leveldb_writebatch_t;
    fn leveldb_writebatch_destroy(b: *mut leveldb_writebatch_t);
    fn leveldb_writebatch_put(
        b: *mut leveldb_writebatch_t,
        key: *const c_char,
        klen: usize,
        val: *const c_char,
        vlen: usize,
    );
    fn leveldb_writebatch_delete(b: *mut leveldb_writebatch_t, key: *const c_char, klen: usize);

    fn leveldb_options_create() -> *mut leveldb_options_t;
    fn leveldb_options_destroy(o: *mut leveldb_options_t);
    fn leveldb_options_set_comparator(o: *mut leveldb_options_t, c: *mut leveldb_comparator_t);
    fn leveldb_options_set_filter_policy(o: *mut leveldb_options_t, p: *mut leveldb_filterpolicy_t);
    fn leveldb_options_set_create_if_missing(o: *mut leveldb_options_t, v: u8);
    fn leveldb_options_set_paranoid_checks(o: *mut leveldb_options_t, v: u8);
    fn leveldb_options_set_write_buffer_size(o: *mut leveldb_options_t, v: usize);
    fn leveldb_options_set_max_file_size(o: *mut leveldb_options_t, v: usize);
    fn leveldb_options_set_compression(o: *mut leveldb_options_t, v: c_int);

    fn leveldb_comparator_create(
        state: *mut c_void,
        destructor: DestructorFn,
        compare: CompareFn,
        name: NameFn,
    ) -> *mut leveldb_comparator_t;
    fn leveldb_comparator_destroy(c: *mut leveldb_comparator_t);
    fn leveldb_filterpolicy_create_bloom(bits_per_key: c_int) -> *mut leveldb_filterpolicy_t;
    fn leveldb_filterpolicy_destroy(p: *mut leveldb_filterpolicy_t);

    fn leveldb_readoptions_create() -> *mut leveldb_readoptions_t;
    fn leveldb_readoptions_destroy(o: *mut leveldb_readoptions_t);
    fn leveldb_readoptions_set_verify_checksums(o: *mut leveldb_readoptions_t, v: u8);
    fn leveldb_readoptions_set_fill_cache(o: *mut leveldb_readoptions_t, v: u8);
    fn leveldb_writeoptions_create() -> *mut leveldb_writeoptions_t;
    fn leveldb_writeoptions_destroy(o: *mut leveldb_writeoptions_t);

    fn leveldb_free(ptr: *mut c_void);
    fn leveldb_major_version() -> c_int;
    fn leveldb_minor_version() -> c_int;
}

/// `(major, minor)` of the linked library.
pub fn version() -> (i32, i32) {
    // SAFETY: both functions take nothing and return a constant.
    unsafe { (leveldb_major_version(), leveldb_minor_version()) }
}

/// How to open a LevelDB database. `Default` is LevelDB's own defaults (snappy, no filter,
/// 4 MiB write buffer, 2 MiB files, bytewise comparator).
#[derive(Debug, Clone)]
pub struct LevelOptions {
    pub create_if_missing: bool,
    pub paranoid_checks: bool,
    pub snappy: bool,
    /// Bloom filter bits per key; `None` writes and uses no filter.
    pub bloom_bits_per_key: Option<i32>,
    pub write_buffer_size: Option<usize>,
    pub max_file_size: Option<usize>,
    /// Use [`REVERSE_COMPARATOR_NAME`], a comparator other than LevelDB's bytewise one.
    pub reverse_comparator: bool,
}

impl Default for LevelOptions {
    fn default() -> Self {
        LevelOptions {
            create_if_missing: false,
            paranoid_checks: false,
            snappy: true,
            bloom_bits_per_key: None,
            write_buffer_size: None,
            max_file_size: None,
            reverse_comparator: false,
        }
    }
}

/// The name the reverse comparator records in the MANIFEST.
pub const REVERSE_COMPARATOR_NAME: &str = "test.ReverseComparator";
const REVERSE_COMPARATOR_CNAME: &[u8] = b"test.ReverseComparator\0";

extern "C" fn reverse_compare(
    _state: *mut c_void,
    a: *const c_char,
    alen: usize,
    b: *const c_char,
    blen: usize,
) -> c_int {
    // SAFETY: LevelDB passes two valid slices that live for the duration of the call.
    let (a, b) = unsafe { (bytes(a, alen), bytes(b, blen)) };
    match b.cmp(a) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }
}

extern "C" fn reverse_name(_state: *mut c_void) -> *const c_char {
    REVERSE_COMPARATOR_CNAME.as_ptr().cast()
}

extern "C" fn no_state_to_destroy(_state: *mut c_void) {}

/// A slice over C memory; an empty slice for a null pointer.
///
/// # Safety
/// `ptr` must be null or point to `len` readable bytes that outlive the returned slice.
unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
        unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }
    }
}

/// Turns a C API error out-parameter into a `Result`, freeing the message.
fn check(err: leveldb_err) -> Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: LevelDB sets `err` to a malloc()ed NUL-terminated string, which we own.
    let msg = unsafe { CStr::from_ptr(err) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: `err` came from LevelDB and is freed exactly once, after being copied.
    unsafe { leveldb_free(err.cast()) };
    Err(msg)
}

/// An open LevelDB database. Closed (and every C object it owns destroyed) on drop.
pub struct LevelDb {
    db: *mut leveldb_t,
    options: *mut leveldb_options_t,
    filter: *mut leveldb_filterpolicy_t,
    comparator: *mut leveldb_comparator_t,
    read: *mut leveldb_readoptions_t,
    scan: *mut leveldb_readoptions_t,
    write: *mut leveldb_writeoptions_t,
}

impl LevelDb {
    /// Opens `path`; the error is LevelDB's status message (e.g. "IO error: lock ...").
    pub fn open(path: &Path, opts: &LevelOptions) -> Result<LevelDb, String> {
        let name = CString::new(path.to_string_lossy().into_owned())
            .map_err(|_| format!("{}: path holds a NUL byte", path.display()))?;
        // SAFETY: the constructors take nothing; each object is destroyed exactly once,
        // in Drop (also when the open below fails, because `db` is built first).
        let mut db = unsafe {
            LevelDb {
                db: ptr::null_mut(),
                options: leveldb_options_create(),
                filter: ptr::null_mut(),
                comparator: ptr::null_mut(),
                read: leveldb_readoptions_create(),
                scan: leveldb_readoptions_create(),
                write: leveldb_writeoptions_create(),
            }
        };
        // SAFETY: every pointer was just created and is valid; the filter policy and the
        // comparator outlive the DB because Drop closes the DB before destroying them.
        unsafe {
            let o = db.options;
            leveldb_options_set_create_if_missing(o, u8::from(opts.create_if_missing));
            leveldb_options_set_paranoid_checks(o, u8::from(opts.paranoid_checks));
            leveldb_options_set_compression(o, c_int::from(opts.snappy));
            if let Some(size) = opts.write_buffer_size {
                leveldb_options_set_write_buffer_size(o, size);
            }
            if let Some(size) = opts.max_file_size {
                leveldb_options_set_max_file_size(o, size);
            }
            if let Some(bits) = opts.bloom_bits_per_key {
                db.filter = leveldb_filterpolicy_create_bloom(bits);
                leveldb_options_set_filter_policy(o, db.filter);
            }
            if opts.reverse_comparator {
                db.comparator = leveldb_comparator_create(
                    ptr::null_mut(),
                    no_state_to_destroy,
                    reverse_compare,
                    reverse_name,
                );
                leveldb_options_set_comparator(o, db.comparator);
            }
            // Reads check every block's crc32c: a wrong checksum in a siltdb table fails.
            leveldb_readoptions_set_verify_checksums(db.read, 1);
            leveldb_readoptions_set_verify_checksums(db.scan, 1);
            leveldb_readoptions_set_fill_cache(db.scan, 0);
        }
        let mut err: leveldb_err = ptr::null_mut();
        // SAFETY: `options` and `name` are valid for the call; `err` starts null.
        db.db = unsafe { leveldb_open(db.options, name.as_ptr(), &mut err) };
        check(err)?;
        if db.db.is_null() {
            return Err("leveldb_open returned NULL without an error".to_string());
        }
        Ok(db)
    }

    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let mut err: leveldb_err = ptr::null_mut();
        // SAFETY: the DB and options are open; the slices are valid for the call.
        unsafe {
            leveldb_put(
                self.db,
                self.write,
                key.as_ptr().cast(),
                key.len(),
                value.as_ptr().cast(),
                value.len(),
                &mut err,
            )
        };
        check(err)
    }

    pub fn delete(&self, key: &[u8]) -> Result<(), String> {
        let mut err: leveldb_err = ptr::null_mut();
        // SAFETY: the DB and options are open; the slice is valid for the call.
        unsafe {
            leveldb_delete(
                self.db,
                self.write,
                key.as_ptr().cast(),
                key.len(),
                &mut err,
            )
        };
        check(err)
    }

    pub fn write(&self, batch: &LevelBatch) -> Result<(), String> {
        let mut err: leveldb_err = ptr::null_mut();
        // SAFETY: the DB, options and batch are live; LevelDB only reads the batch.
        unsafe { leveldb_write(self.db, self.write, batch.batch, &mut err) };
        check(err)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let mut err: leveldb_err = ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: the DB and options are open; the key slice is valid for the call.
        let value = unsafe {
            leveldb_get(
                self.db,
                self.read,
                key.as_ptr().cast(),
                key.len(),
                &mut len,
                &mut err,
            )
        };
        check(err)?;
        if value.is_null() {
            return Ok(None);
        }
        // SAFETY: a non-null result is a malloc()ed array of `len` bytes that we own.
        let copy = unsafe { bytes(value, len) }.to_vec();
        // SAFETY: freed exactly once, after the copy.
        unsafe { leveldb_free(value.cast()) };
        Ok(Some(copy))
    }

    /// An iterator over the whole key space, positioned at the first key.
    pub fn iter(&self) -> LevelIter<'_> {
        // SAFETY: the DB and the read options are live for as long as the iterator
        // borrows `self`.
        let it = unsafe { leveldb_create_iterator(self.db, self.scan) };
        // SAFETY: `it` was just created.
        unsafe { leveldb_iter_seek_to_first(it) };
        LevelIter {
            it,
            status_reported: false,
            _db: PhantomData,
        }
    }

    /// Compacts `[start, limit]` (`None` = unbounded), waiting until it is done.
    pub fn compact_range(&self, start: Option<&[u8]>, limit: Option<&[u8]>) {
        let parts = |s: Option<&[u8]>| s.map_or((ptr::null(), 0), |s| (s.as_ptr().cast(), s.len()));
        let (start, start_len) = parts(start);
        let (limit, limit_len) = parts(limit);
        // SAFETY: null means unbounded; otherwise the slices are valid for the call.
        unsafe { leveldb_compact_range(self.db, start, start_len, limit, limit_len) };
    }

    /// A DB property such as `leveldb.num-files-at-level0`.
    pub fn property(&self, name: &str) -> Option<String> {
        let name = CString::new(name).ok()?;
        // SAFETY: the DB is open and `name` is NUL-terminated.
        let value = unsafe { leveldb_property_value(self.db, name.as_ptr()) };
        if value.is_null() {
            return None;
        }
        // SAFETY: a non-null result is a malloc()ed NUL-terminated string that we own.
        let text = unsafe { CStr::from_ptr(value) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: freed exactly once, after the copy.
        unsafe { leveldb_free(value.cast()) };
        Some(text)
    }

    /// Table files per level (0..=6), from `leveldb.num-files-at-levelN`.
    pub fn files_per_level(&self) -> Vec<usize> {
        (0..7)
            .map(|level| {
                self.property(&format!("leveldb.num-files-at-level{level}"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Closes the database (the same as dropping it; reads better in a test).
    pub fn close(self) {}
}

impl Drop for LevelDb {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or a live object created in `open`, destroyed
        // exactly once here; the DB goes first because it refers to the others.
        unsafe {
            if !self.db.is_null() {
                leveldb_close(self.db);
            }
            leveldb_options_destroy(self.options);
            leveldb_readoptions_destroy(self.read);
            leveldb_readoptions_destroy(self.scan);
            leveldb_writeoptions_destroy(self.write);
            if !self.filter.is_null() {
                leveldb_filterpolicy_destroy(self.filter);
            }
            if !self.comparator.is_null() {
                leveldb_comparator_destroy(self.comparator);
            }
        }
    }
}

/// A LevelDB `WriteBatch`.
pub struct LevelBatch {
    batch: *mut leveldb_writebatch_t,
}

impl LevelBatch {
    pub fn new() -> LevelBatch {
        // SAFETY: takes nothing; the batch is destroyed exactly once, in Drop.
        let batch = unsafe { leveldb_writebatch_create() };
        LevelBatch { batch }
    }

    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        // SAFETY: the batch is live; LevelDB copies the slices.
        unsafe {
            leveldb_writebatch_put(
                self.batch,
                key.as_ptr().cast(),
                key.len(),
                value.as_ptr().cast(),
                value.len(),
            )
        };
    }

    pub fn delete(&mut self, key: &[u8]) {
        // SAFETY: the batch is live; LevelDB copies the slice.
        unsafe { leveldb_writebatch_delete(self.batch, key.as_ptr().cast(), key.len()) };
    }
}

impl Default for LevelBatch {
    fn default() -> Self {
        LevelBatch::new()
    }
}

impl Drop for LevelBatch {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed exactly once.
        unsafe { leveldb_writebatch_destroy(self.batch) };
    }
}

/// A LevelDB iterator from the first key to the last; borrowing the `LevelDb` keeps the
/// DB open while it lives. As a Rust `Iterator` it yields owned `(key, value)` pairs and,
/// if LevelDB stopped on an error, that error last.
pub struct LevelIter<'a> {
    it: *mut leveldb_iterator_t,
    status_reported: bool,
    _db: PhantomData<&'a LevelDb>,
}

impl LevelIter<'_> {
    pub fn valid(&self) -> bool {
        // SAFETY: the iterator is live.
        unsafe { leveldb_iter_valid(self.it) != 0 }
    }

    /// The current key. REQUIRES: `valid()`.
    pub fn key(&self) -> &[u8] {
        let mut len = 0usize;
        // SAFETY: the iterator is live and valid; the key stays put until it moves, and
        // moving needs `&mut self`, which this borrow prevents.
        unsafe { bytes(leveldb_iter_key(self.it, &mut len), len) }
    }

    /// The current value. REQUIRES: `valid()`.
    pub fn value(&self) -> &[u8] {
        let mut len = 0usize;
        // SAFETY: as for `key`.
        unsafe { bytes(leveldb_iter_value(self.it, &mut len), len) }
    }

    /// Moves to the next key; does nothing once past the end.
    pub fn advance(&mut self) {
        if !self.valid() {
            return;
        }
        // SAFETY: the iterator is live and valid, as LevelDB requires.
        unsafe { leveldb_iter_next(self.it) };
    }

    /// The error that stopped iteration, if any.
    pub fn status(&self) -> Result<(), String> {
        let mut err: leveldb_err = ptr::null_mut();
        // SAFETY: the iterator is live; `err` starts null.
        unsafe { leveldb_iter_get_error(self.it, &mut err) };
        check(err)
    }
}

impl Iterator for LevelIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.valid() {
            let entry = (self.key().to_vec(), self.value().to_vec());
            self.advance();
            return Some(Ok(entry));
        }
        if self.status_reported {
            return None;
        }
        self.status_reported = true;
        self.status().err().map(Err)
    }
}

impl Drop for LevelIter<'_> {
    fn drop(&mut self) {
        // SAFETY: created in `LevelDb::iter`, destroyed exactly once, before the DB.
        unsafe { leveldb_iter_destroy(self.it) };
    }
}
