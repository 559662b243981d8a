//! The workload of the crash loop, shared by the child (`crash-writer`) and the parent
//! test: operation `n` of a run is a pure function of the run's seed and `n`, so the
//! parent knows every write the child was asked to make from its acknowledged numbers.
//!
//! Keys are random over a fixed key space, so every flush overlaps the tables below it
//! and level-0 compactions rewrite level 1 again and again; with LevelDB's default
//! triggers and a small write buffer, a SIGKILL often lands mid-flush or mid-compaction.

use siltdb::{Options, WriteBatch};

/// One operation of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: u64,
        value: Vec<u8>,
        sync: bool,
    },
    Delete {
        key: u64,
        sync: bool,
    },
    /// Applied atomically: all records or none. `None` deletes. A key may appear twice;
    /// the later record wins.
    Batch {
        records: Vec<(u64, Option<Vec<u8>>)>,
        sync: bool,
    },
    Flush {
        wait: bool,
    },
    /// `compact_range` over the keys `[begin, end]`.
    CompactRange {
        begin: u64,
        end: u64,
    },
}

/// Keys are `base * SLOTS + slot` with `base < KEY_BASES`; slot 7 is never written, so
/// the parent can check that those keys stay absent.
pub const KEY_BASES: u64 = 2048;
pub const SLOTS: u64 = 8;
pub const NEVER_WRITTEN_SLOT: u64 = 7;
pub const MAX_BATCH: u64 = 6;

/// The bytes of key number `k`.
pub fn key_bytes(k: u64) -> Vec<u8> {
    format!("key{k:012}").into_bytes()
}

/// A mixing function (splitmix64's finaliser): independent-looking bits per (seed, n, i).
fn mix(seed: u64, n: u64, i: u64) -> u64 {
    let mut z =
        seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A value naming the operation and record that wrote it, so a stale value never equals
/// the current one.
fn value(seed: u64, n: u64, record: u64) -> Vec<u8> {
    let mut v = format!("value-{n}-{record}-").into_bytes();
    let len = 20 + (mix(seed, n, 100 + record) % 280) as usize;
    v.resize(len, b'a' + (mix(seed, n, 200 + record) % 26) as u8);
    v
}

/// A random writable key (never slot 7).
fn random_key(seed: u64, n: u64, i: u64) -> u64 {
    let base = mix(seed, n, 300 + i) % KEY_BASES;
    let slot = mix(seed, n, 400 + i) % NEVER_WRITTEN_SLOT;
    base * SLOTS + slot
}

/// Operation `n` of the run with `seed`: per mille, 2 compact_range, 10 flushes, 150
/// deletes, 200 batches, the rest puts; one write in ten is synced.
pub fn op(seed: u64, n: u64) -> Op {
    let sync = mix(seed, n, 1) % 10 == 0;
    match mix(seed, n, 0) % 1000 {
        0..=1 => {
            let (a, b) = (random_key(seed, n, 0), random_key(seed, n, 1));
            Op::CompactRange {
                begin: a.min(b),
                end: a.max(b),
            }
        }
        2..=11 => Op::Flush {
            wait: mix(seed, n, 2) % 2 == 0,
        },
        12..=161 => Op::Delete {
            key: random_key(seed, n, 0),
            sync,
        },
        162..=361 => {
            let count = 2 + mix(seed, n, 3) % (MAX_BATCH - 1);
            let records = (0..count)
                .map(|i| {
                    let key = random_key(seed, n, i);
                    let delete = mix(seed, n, 500 + i) % 4 == 0;
                    (key, (!delete).then(|| value(seed, n, i)))
                })
                .collect();
            Op::Batch { records, sync }
        }
        _ => Op::Put {
            key: random_key(seed, n, 0),
            value: value(seed, n, 0),
            sync,
        },
    }
}

impl Op {
    /// What the operation does to the data, in order; empty for a flush or compaction.
    pub fn records(&self) -> Vec<(u64, Option<Vec<u8>>)> {
        match self {
            Op::Put { key, value, .. } => vec![(*key, Some(value.clone()))],
            Op::Delete { key, .. } => vec![(*key, None)],
            Op::Batch { records, .. } => records.clone(),
            Op::Flush { .. } | Op::CompactRange { .. } => Vec::new(),
        }
    }
}

/// The `WriteBatch` holding `records`.
pub fn write_batch(records: &[(u64, Option<Vec<u8>>)]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (k, v) in records {
        match v {
            Some(v) => batch.put(&key_bytes(*k), v),
            None => batch.delete(&key_bytes(*k)),
        }
    }
    batch
}

/// The options of the child and of the parent's reopen: a 32 KiB write buffer so that
/// flushes run all the time, and LevelDB's default compaction triggers, so that level 0
/// is compacted every few flushes.
pub fn options() -> Options {
    Options {
        create_if_missing: true,
        write_buffer_size: 32 << 10,
        ..Options::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_is_a_pure_function_of_seed_and_number() {
        for n in 0..1000 {
            assert_eq!(op(42, n), op(42, n));
        }
        assert!((0..100).any(|n| op(1, n) != op(2, n)));
    }

    #[test]
    fn the_workload_mixes_every_kind_of_operation() {
        let ops: Vec<Op> = (0..5000).map(|n| op(7, n)).collect();
        let count = |f: fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count();
        assert!(count(|o| matches!(o, Op::Put { sync: true, .. })) > 100);
        assert!(count(|o| matches!(o, Op::Put { sync: false, .. })) > 2000);
        assert!(count(|o| matches!(o, Op::Delete { .. })) > 500);
        assert!(count(|o| matches!(o, Op::Batch { .. })) > 500);
        assert!(count(|o| matches!(o, Op::Flush { .. })) > 20);
        assert!(count(|o| matches!(o, Op::CompactRange { .. })) > 2);
    }

    #[test]
    fn keys_are_random_within_the_key_space_and_slot_7_is_never_written() {
        let mut bases = std::collections::HashSet::new();
        for n in 0..5000 {
            for (k, _) in op(3, n).records() {
                assert!(k < KEY_BASES * SLOTS);
                assert_ne!(k % SLOTS, NEVER_WRITTEN_SLOT);
                bases.insert(k / SLOTS);
            }
        }
        assert!(
            bases.len() as u64 > KEY_BASES * 9 / 10,
            "keys spread over the space"
        );
    }
}
