//! What the engine says about itself, for C: `siltdb_property_value` (LevelDB's property
//! names, text values) and `siltdb_get_stats` (the same facts as a struct, no parsing).

use std::ffi::{c_char, c_int, CStr};
use std::mem::size_of;
use std::ptr;

use siltdb_core::{DbStats, LevelStats};

use crate::args;
use crate::buffer;
use crate::db::siltdb_t;
use crate::status::{self, ErrPtr, Failure, SILTDB_OK};

/// Levels in a siltdb (and LevelDB) database: 0 to 6.
pub const SILTDB_NUM_LEVELS: usize = 7;

/// One level in `siltdb_stats_t`. Field order is ABI; fields are only appended.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct siltdb_level_stats_t {
    /// Table files on the level now.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Flushes and compactions whose output landed on this level since open.
    pub compactions: u64,
    /// Wall-clock time they took.
    pub compaction_micros: u64,
    /// Bytes they read from table files (0 for flushes).
    pub bytes_read: u64,
    /// Bytes of table files they wrote.
    pub bytes_written: u64,
}

/// A snapshot of the engine's counters, filled by `siltdb_get_stats`. Counters run from
/// `siltdb_open`. Field order is ABI; fields are only appended (after `levels`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct siltdb_stats_t {
    /// Flushes that installed their table (one per completed event with SILTDB_OK; an
    /// empty memtable's flush writes no file but counts).
    pub flushes_completed: u64,
    /// Flushes that failed (completed events with an error status).
    pub flushes_failed: u64,
    /// Table bytes written by flushes.
    pub bytes_flushed: u64,
    /// Major compactions finished.
    pub compactions_completed: u64,
    /// Times a writer was delayed or had to wait.
    pub write_stalls: u64,
    /// Time writers spent delayed or waiting.
    pub write_stall_micros: u64,
    /// Panics caught in listener callbacks (Rust or Python listeners; C cannot panic).
    pub listener_panics: u64,
    /// Levels 0 to 6.
    pub levels: [siltdb_level_stats_t; SILTDB_NUM_LEVELS],
    /// Batches written (a put or delete is a batch of one). Appended in 0.1.1.
    pub writes: u64,
    /// WAL records written: group commit makes one record of each group of writes.
    pub write_groups: u64,
    /// WAL fsyncs made for sync writes, one per group.
    pub wal_syncs: u64,
}

/// The size of the first version of `siltdb_stats_t`: the least `out_size` accepted. It
/// stays this value when fields are appended.
const STATS_V1_SIZE: usize = 7 * 8 + SILTDB_NUM_LEVELS * 6 * 8;

impl siltdb_stats_t {
    fn from_engine(stats: &DbStats) -> siltdb_stats_t {
        let mut levels = [siltdb_level_stats_t::default(); SILTDB_NUM_LEVELS];
        for (out, level) in levels.iter_mut().zip(&stats.levels) {
            *out = level_stats(level);
        }
        siltdb_stats_t {
            flushes_completed: stats.flushes_completed,
            flushes_failed: stats.flushes_failed,
            bytes_flushed: stats.bytes_flushed,
            compactions_completed: stats.compactions_completed,
            write_stalls: stats.write_stalls,
            write_stall_micros: stats.write_stall_micros,
            listener_panics: stats.listener_panics,
            levels,
            writes: stats.writes,
            write_groups: stats.write_groups,
            wal_syncs: stats.wal_syncs,
        }
    }
}

fn level_stats(level: &LevelStats) -> siltdb_level_stats_t {
    siltdb_level_stats_t {
        files: level.files as u64,
        bytes: level.bytes,
        compactions: level.compaction.count,
        compaction_micros: level.compaction.micros,
        bytes_read: level.compaction.bytes_read,
        bytes_written: level.compaction.bytes_written,
    }
}

/// Fills `*out` with the database's counters and per-level figures. Pass
/// `out_size = sizeof(siltdb_stats_t)`: a program built against an older header gets the
/// fields it knows, one built against a newer header gets 0 in fields this library does
/// not know. `out_size` below the first version's size fails with SILTDB_INVALID_ARGUMENT,
/// a closed database with SILTDB_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn siltdb_get_stats(
    db: *mut siltdb_t,
    out: *mut siltdb_stats_t,
    out_size: usize,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: `db` is NULL or a live handle.
        let db = unsafe { args::handle(db, "db") }?;
        if out.is_null() {
            return Err(Failure::invalid_argument("out is NULL"));
        }
        if out_size < STATS_V1_SIZE {
            return Err(Failure::invalid_argument(format!(
                "out_size {out_size} is smaller than siltdb_stats_t ({STATS_V1_SIZE} bytes)"
            )));
        }
        let stats = siltdb_stats_t::from_engine(&db.db.stats()?);
        let known = size_of::<siltdb_stats_t>();
        let copied = out_size.min(known);
        // SAFETY: header contract: `out` points to `out_size` writable bytes; `stats` is a
        // plain-data local of `known` bytes, so the first `copied` bytes of both are valid
        // and cannot overlap; the bytes past `known` are only zeroed.
        unsafe {
            let dst = out.cast::<u8>();
            let src: *const siltdb_stats_t = &stats;
            ptr::copy_nonoverlapping(src.cast::<u8>(), dst, copied);
            ptr::write_bytes(dst.add(copied), 0, out_size - copied);
        }
        Ok(SILTDB_OK)
    })
}

/// The value of property `name` as a NUL-terminated string, to free with `siltdb_free`, or
/// NULL for an unknown name (or a NULL argument, or a closed database). Numbers are in
/// decimal, as LevelDB. Names: `leveldb.num-files-at-level<N>` (N = 0..6),
/// `leveldb.stats`, `leveldb.sstables`, `leveldb.approximate-memory-usage`,
/// `siltdb.num-immutable-mem-table`, `siltdb.mem-table-flush-pending`,
/// `siltdb.background-error` (empty when there is none), `siltdb.num-flushes`,
/// `siltdb.cur-size-active-mem-table`, `siltdb.num-writes`, `siltdb.num-write-groups`,
/// `siltdb.num-wal-syncs`, `siltdb.num-write-stalls`, `siltdb.write-stall-micros`.
#[no_mangle]
pub unsafe extern "C" fn siltdb_property_value(
    db: *mut siltdb_t,
    name: *const c_char,
) -> *mut c_char {
    status::no_unwind(|| {
        // SAFETY: header contract: `db` is NULL or a live handle.
        let db = unsafe { db.as_ref() }?;
        if name.is_null() {
            return None;
        }
        // SAFETY: header contract: a non-NULL `name` is NUL-terminated.
        let name = unsafe { CStr::from_ptr(name) }.to_str().ok()?;
        let value = db.db.property(name)?;
        buffer::malloc_value(value.as_bytes()).ok()
    })
    .ok()
    .flatten()
    .unwrap_or(ptr::null_mut())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_version_size_is_the_struct_today() {
        // When fields are appended this test changes, STATS_V1_SIZE does not.
        assert_eq!(size_of::<siltdb_stats_t>(), STATS_V1_SIZE + 3 * 8);
        assert_eq!(STATS_V1_SIZE, 392);
    }

    #[test]
    fn engine_levels_land_in_order() {
        let mut engine = DbStats {
            levels: vec![LevelStats::default(); SILTDB_NUM_LEVELS],
            flushes_completed: 3,
            ..DbStats::default()
        };
        engine.levels[2].files = 5;
        engine.levels[2].compaction.count = 4;
        let c = siltdb_stats_t::from_engine(&engine);
        assert_eq!(c.flushes_completed, 3);
        assert_eq!((c.levels[2].files, c.levels[2].compactions), (5, 4));
        assert_eq!(c.levels[0].files, 0);
    }
}
