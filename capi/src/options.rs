//! Option handles: `siltdb_options_t` (open), `siltdb_writeoptions_t`, `siltdb_readoptions_t`.
//! Setters store what C passed; `siltdb_open` validates it, so a bad value fails the open
//! with SILTDB_INVALID_ARGUMENT instead of being silently clamped.

use std::ffi::{c_int, c_void};

use siltdb_core::{CompressionType, Options, ReadOptions, WriteOptions};

use crate::events::{siltdb_flush_callback_t, siltdb_write_stall_callback_t, CListeners};
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
    level0_slowdown_writes_trigger: c_int,
    level0_stop_writes_trigger: c_int,
    /// Registered as one engine listener by each open.
    listeners: CListeners,
}

impl siltdb_options_t {
    fn new() -> siltdb_options_t {
        let engine = Options::default();
        siltdb_options_t {
            compression: match engine.compression {
                CompressionType::None => SILTDB_NO_COMPRESSION,
                CompressionType::Snappy => SILTDB_SNAPPY_COMPRESSION,
            },
            bloom_bits_per_key: as_c_int(engine.bloom_bits_per_key),
            max_open_files: as_c_int(engine.max_open_files),
            level0_slowdown_writes_trigger: as_c_int(engine.level0_slowdown_writes_trigger),
            level0_stop_writes_trigger: as_c_int(engine.level0_stop_writes_trigger),
            listeners: CListeners::default(),
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
        options.max_open_files = count("max_open_files", self.max_open_files)?;
        options.level0_slowdown_writes_trigger = count(
            "level0_slowdown_writes_trigger",
            self.level0_slowdown_writes_trigger,
        )?;
        options.level0_stop_writes_trigger = count(
            "level0_stop_writes_trigger",
            self.level0_stop_writes_trigger,
        )?;
        options.listeners.extend(self.listeners.to_listener());
        Ok(options)
    }
}

fn as_c_int(v: usize) -> c_int {
    c_int::try_from(v).unwrap_or(c_int::MAX)
}

/// A count C passed as an int: negative is INVALID_ARGUMENT naming the setting.
fn count(name: &str, v: c_int) -> Result<usize, Failure> {
    usize::try_from(v).map_err(|_| Failure::invalid_argument(format!("{name} {v} is negative")))
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

/// Bytes of decoded data blocks kept in memory for reads (default 8 MiB, LevelDB's
/// default cache size); 0 turns the block cache off. Only blocks whose checksum was
/// verified are cached.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_block_cache_size(
    opts: *mut siltdb_options_t,
    bytes: usize,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.block_cache_size = bytes) }
}

/// Bytes of table files that point lookups may hold whole in memory (default 256 MiB; 0
/// for none). A table is loaded once lookups have read as many bytes of it from disk as
/// the file holds, and is then read in place, with no system call or copy; each block's
/// checksum is still verified, once. The memory is given back when the table is closed.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_resident_table_budget(
    opts: *mut siltdb_options_t,
    bytes: usize,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.resident_table_budget = bytes) }
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

/// Level-0 file count at which each write is delayed by 200 us (default 8), reported as
/// SILTDB_STALL_DELAYED. Must not exceed the stop trigger, or `siltdb_open` fails with
/// SILTDB_INVALID_ARGUMENT, as does a negative value.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_level0_slowdown_writes_trigger(
    opts: *mut siltdb_options_t,
    v: c_int,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.level0_slowdown_writes_trigger = v) }
}

/// Level-0 file count at which writes wait for compaction (default 12), reported as
/// SILTDB_STALL_STOPPED. 0 or a negative value makes `siltdb_open` fail with
/// SILTDB_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_level0_stop_writes_trigger(
    opts: *mut siltdb_options_t,
    v: c_int,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.level0_stop_writes_trigger = v) }
}

/// Flush the memtable when the database closes, so the data is in table files rather than
/// only in the log (a flush with reason SILTDB_FLUSH_SHUTDOWN; default 0).
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_flush_on_close(opts: *mut siltdb_options_t, v: u8) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.engine.flush_on_close = v != 0) }
}

/// Calls `on_begin` when a flush starts and `on_completed` when it ends, successfully or
/// not, with `ctx` and a `siltdb_flush_info_t` (see "Listeners" above). Either may be NULL;
/// both NULL removes the flush listener, and a second call replaces the first. Every
/// database opened with these options calls them, flushes during its recovery included.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_flush_listener(
    opts: *mut siltdb_options_t,
    on_begin: siltdb_flush_callback_t,
    on_completed: siltdb_flush_callback_t,
    ctx: *mut c_void,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.listeners.set_flush(on_begin, on_completed, ctx)) }
}

/// Calls `on_change` with `ctx` whenever writers start or stop being delayed or stopped
/// (see "Listeners" above). NULL removes it; a second call replaces the first.
#[no_mangle]
pub unsafe extern "C" fn siltdb_options_set_write_stall_listener(
    opts: *mut siltdb_options_t,
    on_change: siltdb_write_stall_callback_t,
    ctx: *mut c_void,
) {
    // SAFETY: header contract: NULL or a live handle from its _create.
    unsafe { set(opts, |o| o.listeners.set_stall(on_change, ctx)) }
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
        opts.max_open_files = 10;
        opts.level0_slowdown_writes_trigger = -1;
        assert!(failure_of(&opts).contains("level0_slowdown_writes_trigger -1 is negative"));
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
