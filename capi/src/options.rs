//! Option handles: `siltdb_options_t` (open), `siltdb_writeoptions_t`, `siltdb_readoptions_t`.
//! Setters store what C passed; `siltdb_open` validates it, so a bad value fails the open
//! with SILTDB_INVALID_ARGUMENT instead of being silently clamped.

use std::ffi::c_int;

use siltdb_core::{CompressionType, Options, ReadOptions, WriteOptions};

use crate::status::{no_unwind, Failure};

/// Blocks are stored uncompressed.
pub const SILTDB_NO_COMPRESSION: c_int = 0;
/// Blocks are snappy-compressed (the default, as LevelDB).
pub const SILTDB_SNAPPY_COMPRESSION: c_int = 1;

/// Options for `siltdb_open`; starts with LevelDB's defaults.
pub struct siltdb_options_t {
    engine: Options,
    // C's ints are kept as given and checked by `to_engine`, so a later valid set can undo
    // an earlier bad one.
    compression: c_int,
    bloom_bits_per_key: c_int,
    max_open_files: c_int,
}

impl siltdb_options_t {
    fn new() -> siltdb_options_t {
        let engine = Options::default();
        siltdb_options_t {
            compression: match engine.compression {
                CompressionType::None => SILTDB_NO_COMPRESSION,
                CompressionType::Snappy => SILTDB_SNAPPY_COMPRESSION,
            },
            bloom_bits_per_key: c_int::try_from(engine.bloom_bits_per_key).unwrap_or(c_int::MAX),
            max_open_files: c_int::try_from(engine.max_open_files).unwrap_or(c_int::MAX),
            engine,
        }
    }

    /// The engine's options, or INVALID_ARGUMENT naming the setting C got wrong.
    pub(crate) fn to_engine(&self) -> Result<Options, Failure> {
        let mut options = self.engine.clone();
        options.compression = match self.compression {
            SILTDB_NO_COMPRESSION => CompressionType::None,
            SILTDB_SNAPPY_COMPRESSION => CompressionType::Snappy,
            other => {
                return Err(Failure::invalid_argument(format!(
                    "compression {other} is neither SILTDB_NO_COMPRESSION (0) nor \
                     SILTDB_SNAPPY_COMPRESSION (1)"
                )))
            }
        };
        options.bloom_bits_per_key = usize::try_from(self.bloom_bits_per_key).map_err(|_| {
            Failure::invalid_argument(format!(
                "bloom_bits_per_key {} is negative (0 disables the filter)",
                self.bloom_bits_per_key
            ))
        })?;
        options.max_open_files = usize::try_from(self.max_open_files).map_err(|_| {
            Failure::invalid_argument(format!(
                "max_open_files {} is negative",
                self.max_open_files
            ))
        })?;
        Ok(options)
    }
}

/// Applies `set` to the options behind `opts`; NULL is a no-op, and a panic is swallowed
/// (a setter has no way to report one).
///
/// # Safety
/// `opts` is NULL or a live handle from its `_create`, not in use by another thread.
unsafe fn set<T>(opts: *mut T, set: impl FnOnce(&mut T)) {
    let _ = no_unwind(|| {
        // SAFETY: by this function's contract a non-NULL `opts` is live and unaliased.
        if let Some(opts) = unsafe { opts.as_mut() } {
            set(opts);
        }
    });
}

/// Moves `value` to the heap for C, or returns NULL if that panicked.
fn create<T>(value: impl FnOnce() -> T) -> *mut T {
    no_unwind(|| Box::into_raw(Box::new(value()))).unwrap_or(std::ptr::null_mut())
}

/// Frees a handle from [`create`]; NULL is a no-op.
///
/// # Safety
/// `handle` is NULL or came from [`create`] and is destroyed once.
unsafe fn destroy<T>(handle: *mut T) {
    let _ = no_unwind(|| {
        if !handle.is_null() {
            // SAFETY: by this function's contract, from Box::into_raw and not yet freed.
            drop(unsafe { Box::from_raw(handle) });
        }
    });
}

/// New open options with LevelDB's defaults. Free with `siltdb_options_destroy`.
#[no_mangle]
pub extern "C" fn siltdb_options_create() -> *mut siltdb_options_t {
    create(siltdb_options_t::new)
}

/// Frees open options; NULL is a no-op. A database opened with them does not need them.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_destroy(opts: *mut siltdb_options_t) {
    // SAFETY: header contract: NULL or a handle from its _create, destroyed once.
    unsafe { destroy(opts) }
}

/// Create the database if it is missing (default 0).
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_create_if_missing(opts: *mut siltdb_options_t, v: u8) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.create_if_missing = v != 0) }
}

/// Fail the open with SILTDB_INVALID_ARGUMENT if the database exists (default 0).
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_error_if_exists(opts: *mut siltdb_options_t, v: u8) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.error_if_exists = v != 0) }
}

/// Bytes of writes buffered in memory before they are flushed to a table (default 4 MiB).
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_write_buffer_size(
    opts: *mut siltdb_options_t,
    bytes: usize,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.write_buffer_size = bytes) }
}

/// Check aggressively for corruption; a corrupt log fails the open (default 0).
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_paranoid_checks(opts: *mut siltdb_options_t, v: u8) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.paranoid_checks = v != 0) }
}

/// SILTDB_NO_COMPRESSION or SILTDB_SNAPPY_COMPRESSION (default); any other value makes
/// `siltdb_open` fail with SILTDB_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_compression(opts: *mut siltdb_options_t, v: c_int) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.compression = v) }
}

/// Bloom filter bits per key for new tables (default 10); 0 disables the filter, a negative
/// value makes `siltdb_open` fail with SILTDB_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_bloom_bits_per_key(
    opts: *mut siltdb_options_t,
    v: c_int,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.bloom_bits_per_key = v) }
}

/// Approximate uncompressed bytes per table block (default 4096).
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_block_size(opts: *mut siltdb_options_t, bytes: usize) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.block_size = bytes) }
}

/// Table files kept open (default 1000); a negative value makes `siltdb_open` fail with
/// SILTDB_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_max_open_files(opts: *mut siltdb_options_t, v: c_int) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.max_open_files = v) }
}

/// Options for one write.
pub struct siltdb_writeoptions_t {
    pub(crate) engine: WriteOptions,
}

/// New write options (sync off). Free with `siltdb_writeoptions_destroy`.
#[no_mangle]
pub extern "C" fn siltdb_writeoptions_create() -> *mut siltdb_writeoptions_t {
    create(|| siltdb_writeoptions_t {
        engine: WriteOptions::default(),
    })
}

/// fsync the log before the write returns, so it survives a machine crash (default 0).
#[no_mangle]
pub unsafe extern "C" fn siltdb_writeoptions_set_sync(opts: *mut siltdb_writeoptions_t, v: u8) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.sync = v != 0) }
}

/// Frees write options; NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_writeoptions_destroy(opts: *mut siltdb_writeoptions_t) {
    // SAFETY: header contract: NULL or a handle from its _create, destroyed once.
    unsafe { destroy(opts) }
}

/// Options for one read.
pub struct siltdb_readoptions_t {
    pub(crate) engine: ReadOptions,
}

/// New read options (verify_checksums on, fill_cache on). Free with
/// `siltdb_readoptions_destroy`.
#[no_mangle]
pub extern "C" fn siltdb_readoptions_create() -> *mut siltdb_readoptions_t {
    create(|| siltdb_readoptions_t {
        engine: ReadOptions::default(),
    })
}

/// Frees read options; NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_readoptions_destroy(opts: *mut siltdb_readoptions_t) {
    // SAFETY: header contract: NULL or a handle from its _create, destroyed once.
    unsafe { destroy(opts) }
}

/// Verify block checksums on this read (default 1).
#[no_mangle]
pub unsafe extern "C" fn siltdb_readoptions_set_verify_checksums(
    opts: *mut siltdb_readoptions_t,
    v: u8,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.verify_checksums = v != 0) }
}

/// Keep the blocks this read loads in the block cache (default 1).
#[no_mangle]
pub unsafe extern "C" fn siltdb_readoptions_set_fill_cache(opts: *mut siltdb_readoptions_t, v: u8) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.fill_cache = v != 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure_of(opts: &siltdb_options_t) -> String {
        format!("{:?}", opts.to_engine().err())
    }

    #[test]
    fn defaults_are_the_engines() {
        let opts = siltdb_options_t::new();
        let engine = opts.to_engine().ok();
        assert_eq!(
            engine.map(|o| (o.compression, o.bloom_bits_per_key, o.max_open_files)),
            Some((CompressionType::Snappy, 10, 1000))
        );
    }

    #[test]
    fn unknown_compression_fails_until_set_right() {
        let mut opts = siltdb_options_t::new();
        opts.compression = 7;
        assert!(failure_of(&opts).contains("compression 7"));
        opts.compression = SILTDB_NO_COMPRESSION;
        assert_eq!(
            opts.to_engine().ok().map(|o| o.compression),
            Some(CompressionType::None)
        );
    }

    #[test]
    fn negative_counts_are_rejected() {
        let mut opts = siltdb_options_t::new();
        opts.bloom_bits_per_key = -1;
        assert!(failure_of(&opts).contains("bloom_bits_per_key -1"));
        opts.bloom_bits_per_key = 0;
        opts.max_open_files = -5;
        assert!(failure_of(&opts).contains("max_open_files -5"));
    }

    #[test]
    fn setters_on_null_are_no_ops() {
        // SAFETY: NULL is allowed for every setter.
        unsafe {
            siltdb_options_set_compression(std::ptr::null_mut(), 1);
            siltdb_writeoptions_set_sync(std::ptr::null_mut(), 1);
            siltdb_readoptions_set_fill_cache(std::ptr::null_mut(), 0);
        }
    }
}
