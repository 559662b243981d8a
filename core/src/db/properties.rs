//! What the engine says about itself: `Db::property` with LevelDB's property names (plus
//! `siltdb.*` ones), as text, and `Db::stats`, the same facts as a structured value.

use std::fmt::Write as _;

use super::{Db, DbInner, DbState};
use crate::events::{DbStats, LevelStats};
use crate::key::InternalKey;
use crate::version::NUM_LEVELS;

impl Db {
    /// The value of a property, as text (numbers in decimal, as LevelDB), or `None` for an
    /// unknown name or a closed database. Names:
    /// `leveldb.num-files-at-level<N>`, `leveldb.stats`, `leveldb.sstables`,
    /// `leveldb.approximate-memory-usage`, `siltdb.num-immutable-mem-table`,
    /// `siltdb.mem-table-flush-pending`, `siltdb.background-error`, `siltdb.num-flushes`,
    /// `siltdb.cur-size-active-mem-table`, `siltdb.resident-table-bytes`.
    pub fn property(&self, name: &str) -> Option<String> {
        self.inner().property(name)
    }

    /// Counters and per-level figures, without text to parse.
    pub fn stats(&self) -> crate::Result<DbStats> {
        self.inner().stats()
    }
}

impl DbInner {
    fn property(&self, name: &str) -> Option<String> {
        let st = self.state.lock();
        if st.closed {
            return None;
        }
        if let Some(level) = name.strip_prefix("leveldb.num-files-at-level") {
            let level: usize = level.parse().ok().filter(|l| *l < NUM_LEVELS)?;
            // "leveldb.num-files-at-level+1" parses; LevelDB would not accept it either way.
            if !level_name_is_canonical(name) {
                return None;
            }
            return Some(st.versions.num_level_files(level).to_string());
        }
        match name {
            "leveldb.stats" => Some(leveldb_stats(&st)),
            "leveldb.sstables" => Some(sstables(&st)),
            "leveldb.approximate-memory-usage" => {
                let imm: usize = st
                    .imm
                    .iter()
                    .map(|i| i.mem.approximate_memory_usage())
                    .sum();
                let blocks = self.table_cache.block_cache_usage();
                let resident =
                    self.table_cache.resident_usage() + self.table_cache.resident_spare_usage();
                Some((st.mem.approximate_memory_usage() + imm + blocks + resident).to_string())
            }
            "siltdb.resident-table-bytes" => Some(self.table_cache.resident_usage().to_string()),
            "siltdb.num-immutable-mem-table" => Some(st.imm.len().to_string()),
            "siltdb.mem-table-flush-pending" => Some(u8::from(!st.imm.is_empty()).to_string()),
            "siltdb.background-error" => Some(
                st.bg_error
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            ),
            "siltdb.num-flushes" => Some(st.counters.flushes_completed.to_string()),
            "siltdb.num-writes" => Some(st.counters.writes.to_string()),
            "siltdb.num-write-groups" => Some(st.counters.write_groups.to_string()),
            "siltdb.num-wal-syncs" => Some(st.counters.wal_syncs.to_string()),
            "siltdb.num-write-stalls" => Some(st.counters.write_stalls.to_string()),
            "siltdb.write-stall-micros" => Some(st.counters.write_stall_micros.to_string()),
            "siltdb.cur-size-active-mem-table" => {
                Some(st.mem.approximate_memory_usage().to_string())
            }
            _ => None,
        }
    }

    fn stats(&self) -> crate::Result<DbStats> {
        let st = self.state.lock();
        DbInner::check_open(&st)?;
        let version = st.versions.current();
        let levels = (0..NUM_LEVELS)
            .map(|level| LevelStats {
                files: version.num_files(level),
                bytes: version.level_bytes(level),
                compaction: st.stats[level],
            })
            .collect();
        let c = st.counters;
        Ok(DbStats {
            levels,
            flushes_completed: c.flushes_completed,
            flushes_failed: c.flushes_failed,
            bytes_flushed: c.bytes_flushed,
            compactions_completed: c.compactions_completed,
            write_stalls: c.write_stalls,
            write_stall_micros: c.write_stall_micros,
            listener_panics: self.notifier.panics(),
            writes: c.writes,
            write_groups: c.write_groups,
            wal_syncs: c.wal_syncs,
        })
    }
}

/// Only plain decimal level numbers name a property ("1", not "+1" or "01").
fn level_name_is_canonical(name: &str) -> bool {
    let digits = name.trim_start_matches("leveldb.num-files-at-level");
    digits.len() == 1 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// LevelDB's `leveldb.stats` table, byte for byte in layout.
fn leveldb_stats(st: &DbState) -> String {
    let mut out = String::from(
        "                               Compactions\n\
         Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n\
         --------------------------------------------------\n",
    );
    let version = st.versions.current();
    const MB: f64 = 1048576.0;
    for level in 0..NUM_LEVELS {
        let files = version.num_files(level);
        let s = &st.stats[level];
        if s.micros > 0 || files > 0 {
            let _ = writeln!(
                out,
                "{:3} {:8} {:8.0} {:9.0} {:8.0} {:9.0}",
                level,
                files,
                version.level_bytes(level) as f64 / MB,
                s.micros as f64 / 1e6,
                s.bytes_read as f64 / MB,
                s.bytes_written as f64 / MB
            );
        }
    }
    out
}

/// LevelDB's `Version::DebugString`: per level, ` number:size[smallest .. largest]`.
fn sstables(st: &DbState) -> String {
    let version = st.versions.current();
    let mut out = String::new();
    for level in 0..NUM_LEVELS {
        let _ = writeln!(out, "--- level {level} ---");
        for f in &version.files[level] {
            let _ = writeln!(
                out,
                " {}:{}[{} .. {}]",
                f.number.0,
                f.file_size,
                debug_key(&f.smallest),
                debug_key(&f.largest)
            );
        }
    }
    out
}

/// `'user_key' @ sequence : type`, with non-printable bytes escaped as LevelDB does.
fn debug_key(key: &InternalKey) -> String {
    match key.parse() {
        Some(p) => {
            let mut s = String::from("'");
            for &b in p.user_key {
                if (b' '..=b'~').contains(&b) {
                    s.push(b as char);
                } else {
                    let _ = write!(s, "\\x{b:02x}");
                }
            }
            let _ = write!(s, "' @ {} : {}", p.sequence.0, p.value_type as u8);
            s
        }
        None => "(bad)".to_string(),
    }
}
