//! LevelDB through its C API (`leveldb/c.h`), declared here by hand so that the crate
//! builds without the header. Compiled only when build.rs found libleveldb
//! (`cfg(have_leveldb)`); otherwise `open` reports that LevelDB is not installed.

use crate::engine::{Engine, EngineConfig};

/// What is printed in place of LevelDB's results when the library is absent.
pub const NOT_INSTALLED: &str = "SKIPPED: libleveldb not installed";

/// Whether this binary was linked against LevelDB.
pub const AVAILABLE: bool = cfg!(have_leveldb);

#[cfg(not(have_leveldb))]
pub fn open(_dir: &std::path::Path, _config: &EngineConfig) -> Result<Box<dyn Engine>, String> {
    Err(NOT_INSTALLED.to_string())
}

#[cfg(not(have_leveldb))]
pub fn version() -> String {
    "LevelDB (not installed)".to_string()
}

#[cfg(have_leveldb)]
pub use linked::{open, version};

#[cfg(have_leveldb)]
#[allow(non_camel_case_types)] // the C API's type names
mod linked {
    use std::ffi::{c_char, c_int, c_void, CStr, CString};
    use std::path::Path;
    use std::ptr;

    use super::{Engine, EngineConfig};
    use crate::flags::Compression;

    #[repr(C)]
    struct leveldb_t(c_void);
    #[repr(C)]
    struct leveldb_options_t(c_void);
    #[repr(C)]
    struct leveldb_readoptions_t(c_void);
    #[repr(C)]
    struct leveldb_writeoptions_t(c_void);
    #[repr(C)]
    struct leveldb_iterator_t(c_void);
    #[repr(C)]
    struct leveldb_filterpolicy_t(c_void);
    #[repr(C)]
    struct leveldb_cache_t(c_void);

    type size_t = usize;

    // The subset of leveldb/c.h (LevelDB 1.23) the benchmark uses; build.rs links it.
    extern "C" {
        fn leveldb_open(
            options: *const leveldb_options_t,
            name: *const c_char,
            errptr: *mut *mut c_char,
        ) -> *mut leveldb_t;
        fn leveldb_close(db: *mut leveldb_t);
        fn leveldb_put(
            db: *mut leveldb_t,
            options: *const leveldb_writeoptions_t,
            key: *const c_char,
            keylen: size_t,
            val: *const c_char,
            vallen: size_t,
            errptr: *mut *mut c_char,
        );
        fn leveldb_get(
            db: *mut leveldb_t,
            options: *const leveldb_readoptions_t,
            key: *const c_char,
            keylen: size_t,
            vallen: *mut size_t,
            errptr: *mut *mut c_char,
        ) -> *mut c_char;
        fn leveldb_create_iterator(
            db: *mut leveldb_t,
            options: *const leveldb_readoptions_t,
        ) -> *mut leveldb_iterator_t;
        fn leveldb_property_value(db: *mut leveldb_t, propname: *const c_char) -> *mut c_char;
        fn leveldb_compact_range(
            db: *mut leveldb_t,
            start_key: *const c_char,
            start_key_len: size_t,
            limit_key: *const c_char,
            limit_key_len: size_t,
        );
        fn leveldb_iter_destroy(it: *mut leveldb_iterator_t);
        fn leveldb_iter_valid(it: *const leveldb_iterator_t) -> u8;
        fn leveldb_iter_seek_to_first(it: *mut leveldb_iterator_t);
        fn leveldb_iter_next(it: *mut leveldb_iterator_t);
        fn leveldb_iter_key(it: *const leveldb_iterator_t, klen: *mut size_t) -> *const c_char;
        fn leveldb_iter_value(it: *const leveldb_iterator_t, vlen: *mut size_t) -> *const c_char;
        fn leveldb_iter_get_error(it: *const leveldb_iterator_t, errptr: *mut *mut c_char);
        fn leveldb_options_create() -> *mut leveldb_options_t;
        fn leveldb_options_destroy(o: *mut leveldb_options_t);
        fn leveldb_options_set_filter_policy(
            o: *mut leveldb_options_t,
            p: *mut leveldb_filterpolicy_t,
        );
        fn leveldb_options_set_create_if_missing(o: *mut leveldb_options_t, v: u8);
        fn leveldb_options_set_write_buffer_size(o: *mut leveldb_options_t, v: size_t);
        fn leveldb_options_set_cache(o: *mut leveldb_options_t, c: *mut leveldb_cache_t);
        fn leveldb_options_set_compression(o: *mut leveldb_options_t, v: c_int);
        fn leveldb_filterpolicy_create_bloom(bits_per_key: c_int) -> *mut leveldb_filterpolicy_t;
        fn leveldb_filterpolicy_destroy(p: *mut leveldb_filterpolicy_t);
        fn leveldb_readoptions_create() -> *mut leveldb_readoptions_t;
        fn leveldb_readoptions_destroy(o: *mut leveldb_readoptions_t);
        fn leveldb_writeoptions_create() -> *mut leveldb_writeoptions_t;
        fn leveldb_writeoptions_destroy(o: *mut leveldb_writeoptions_t);
        fn leveldb_writeoptions_set_sync(o: *mut leveldb_writeoptions_t, v: u8);
        fn leveldb_cache_create_lru(capacity: size_t) -> *mut leveldb_cache_t;
        fn leveldb_cache_destroy(c: *mut leveldb_cache_t);
        fn leveldb_free(ptr: *mut c_void);
        fn leveldb_major_version() -> c_int;
        fn leveldb_minor_version() -> c_int;
    }

    pub fn version() -> String {
        // SAFETY: both functions take no arguments and return a constant.
        let (major, minor) = unsafe { (leveldb_major_version(), leveldb_minor_version()) };
        format!("LevelDB {major}.{minor}")
    }

    /// Takes ownership of a message LevelDB malloc'ed into an `errptr`.
    fn take_error(err: *mut c_char) -> Result<(), String> {
        if err.is_null() {
            return Ok(());
        }
        // SAFETY: LevelDB sets errptr to a NUL-terminated string from malloc (strdup);
        // it is read once and freed once, with LevelDB's own free.
        let msg = unsafe {
            let msg = CStr::from_ptr(err).to_string_lossy().into_owned();
            leveldb_free(err.cast());
            msg
        };
        Err(msg)
    }

    /// An open LevelDB and the option objects it keeps pointers to (the filter policy
    /// and cache must outlive the database).
    struct LevelDbEngine {
        db: *mut leveldb_t,
        options: *mut leveldb_options_t,
        filter: *mut leveldb_filterpolicy_t,
        cache: *mut leveldb_cache_t,
        read: *mut leveldb_readoptions_t,
        write: *mut leveldb_writeoptions_t,
        write_sync: *mut leveldb_writeoptions_t,
    }

    // SAFETY: a LevelDB `DB` is safe for concurrent use from many threads (its docs:
    // "A DB may be safely accessed from multiple threads without any external
    // synchronization"); the option objects are only read after construction.
    unsafe impl Send for LevelDbEngine {}
    unsafe impl Sync for LevelDbEngine {}

    pub fn open(dir: &Path, config: &EngineConfig) -> Result<Box<dyn Engine>, String> {
        let name = CString::new(dir.to_string_lossy().as_bytes())
            .map_err(|_| format!("{}: path contains a NUL byte", dir.display()))?;
        // SAFETY: every create function returns a fresh object (never NULL in 1.23, which
        // aborts on allocation failure); each is owned by `engine` and destroyed exactly
        // once in its Drop, after the database that points at them is closed.
        let mut engine = unsafe {
            let options = leveldb_options_create();
            let filter = if config.bloom_bits > 0 {
                let bits = c_int::try_from(config.bloom_bits).unwrap_or(c_int::MAX);
                leveldb_filterpolicy_create_bloom(bits)
            } else {
                ptr::null_mut()
            };
            let cache = match config.cache_size {
                Some(bytes) => leveldb_cache_create_lru(bytes),
                None => ptr::null_mut(), // LevelDB then makes its own 8 MiB cache
            };
            leveldb_options_set_create_if_missing(options, u8::from(config.create_if_missing));
            leveldb_options_set_write_buffer_size(options, config.write_buffer_size);
            leveldb_options_set_compression(
                options,
                match config.compression {
                    Compression::None => 0,
                    Compression::Snappy => 1,
                },
            );
            if !filter.is_null() {
                leveldb_options_set_filter_policy(options, filter);
            }
            if !cache.is_null() {
                leveldb_options_set_cache(options, cache);
            }
            let write_sync = leveldb_writeoptions_create();
            leveldb_writeoptions_set_sync(write_sync, 1);
            LevelDbEngine {
                db: ptr::null_mut(),
                options,
                filter,
                cache,
                read: leveldb_readoptions_create(),
                write: leveldb_writeoptions_create(),
                write_sync,
            }
        };
        let mut err = ptr::null_mut();
        // SAFETY: options and name are valid for the call; err is a valid out-pointer.
        engine.db = unsafe { leveldb_open(engine.options, name.as_ptr(), &mut err) };
        take_error(err).map_err(|e| format!("leveldb open: {e}"))?;
        if engine.db.is_null() {
            return Err("leveldb open: returned NULL without an error".to_string());
        }
        Ok(Box::new(engine))
    }

    impl Engine for LevelDbEngine {
        fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), String> {
            let opts = if sync { self.write_sync } else { self.write };
            let mut err = ptr::null_mut();
            // SAFETY: db and opts are live; key/value pointers are valid for their
            // lengths for the call (LevelDB copies them).
            unsafe {
                leveldb_put(
                    self.db,
                    opts,
                    key.as_ptr().cast(),
                    key.len(),
                    value.as_ptr().cast(),
                    value.len(),
                    &mut err,
                );
            }
            take_error(err)
        }

        fn get(&self, key: &[u8]) -> Result<bool, String> {
            let mut len = 0;
            let mut err = ptr::null_mut();
            // SAFETY: as put; the returned value is a malloc'ed copy we free once.
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
            take_error(err)?;
            if value.is_null() {
                return Ok(false);
            }
            // SAFETY: non-NULL result of leveldb_get, owned by us.
            unsafe { leveldb_free(value.cast()) };
            Ok(true)
        }

        fn scan(&self, limit: usize, each: &mut dyn FnMut(usize)) -> Result<(), String> {
            // SAFETY: the iterator is created from the live db, used only while valid,
            // and destroyed once before returning; key/value pointers are only measured.
            unsafe {
                let it = leveldb_create_iterator(self.db, self.read);
                leveldb_iter_seek_to_first(it);
                let mut n = 0;
                while n < limit && leveldb_iter_valid(it) != 0 {
                    let (mut klen, mut vlen) = (0, 0);
                    leveldb_iter_key(it, &mut klen);
                    leveldb_iter_value(it, &mut vlen);
                    each(klen + vlen);
                    n += 1;
                    leveldb_iter_next(it);
                }
                let mut err = ptr::null_mut();
                leveldb_iter_get_error(it, &mut err);
                leveldb_iter_destroy(it);
                take_error(err)
            }
        }

        fn flush(&self) -> Result<(), String> {
            // LevelDB has no flush call. CompactRange first flushes the memtable and
            // waits for it; over a range past every key ("\xff" * 8 .. * 9; keys are
            // ASCII digits) it then finds no files to compact.
            let start = [0xffu8; 8];
            let limit = [0xffu8; 9];
            // SAFETY: db is live; both keys are valid for their lengths.
            unsafe {
                leveldb_compact_range(
                    self.db,
                    start.as_ptr().cast(),
                    start.len(),
                    limit.as_ptr().cast(),
                    limit.len(),
                );
            }
            Ok(())
        }

        fn compact(&self) -> Result<(), String> {
            // SAFETY: db is live; null keys with length 0 are the C API's open ends.
            unsafe {
                leveldb_compact_range(self.db, ptr::null(), 0, ptr::null(), 0);
            }
            Ok(())
        }

        fn property(&self, name: &str) -> Option<String> {
            let name = CString::new(name).ok()?;
            // SAFETY: db is live, name is NUL-terminated; a non-NULL result is a
            // malloc'ed NUL-terminated string we free once.
            unsafe {
                let value = leveldb_property_value(self.db, name.as_ptr());
                if value.is_null() {
                    return None;
                }
                let text = CStr::from_ptr(value).to_string_lossy().into_owned();
                leveldb_free(value.cast());
                Some(text)
            }
        }

        fn close(self: Box<Self>) -> Result<(), String> {
            drop(self); // leveldb_close reports nothing
            Ok(())
        }
    }

    impl Drop for LevelDbEngine {
        fn drop(&mut self) {
            // SAFETY: each pointer was created in `open` and is destroyed exactly once
            // here; the database goes first because it points at the options objects.
            unsafe {
                if !self.db.is_null() {
                    leveldb_close(self.db);
                }
                leveldb_options_destroy(self.options);
                if !self.filter.is_null() {
                    leveldb_filterpolicy_destroy(self.filter);
                }
                if !self.cache.is_null() {
                    leveldb_cache_destroy(self.cache);
                }
                leveldb_readoptions_destroy(self.read);
                leveldb_writeoptions_destroy(self.write);
                leveldb_writeoptions_destroy(self.write_sync);
            }
        }
    }
}
