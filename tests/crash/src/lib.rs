//! The workload of the crash loop, shared by the child (`crash-writer`) and the parent
//! test: operation `n` of a run is a pure function of the run's seed and `n`, so the
//! parent knows every write the child was asked to make from its acknowledged numbers.
//!
//! Keys only grow (operation `n` writes keys `8n..8n+6`; deletes hit keys of the last
//! few operations), so flushes rarely overlap and level 0 does not fill up: without major
//! compaction nothing would drain it, and a full level 0 stops writers for good.

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
    /// Applied atomically: all records or none. `None` deletes.
    Batch {
        records: Vec<(u64, Option<Vec<u8>>)>,
        sync: bool,
    },
    Flush {
        wait: bool,
    },
}

/// Key slots per operation; a batch uses at most `MAX_BATCH` of them, so slot 7 of every
/// operation is never written: the parent checks those stay absent.
pub const SLOTS: u64 = 8;
pub const MAX_BATCH: u64 = 6;
pub const NEVER_WRITTEN_SLOT: u64 = 7;

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

fn value(seed: u64, n: u64, slot: u64) -> Vec<u8> {
    let mut v = format!("value-{n}-{slot}-").into_bytes();
    let len = 20 + (mix(seed, n, 100 + slot) % 280) as usize;
    v.resize(len, b'a' + (mix(seed, n, 200 + slot) % 26) as u8);
    v
}

/// A key written by one of the last 16 operations before `n` (if it wrote one).
fn recent_key(seed: u64, n: u64, i: u64) -> Option<u64> {
    let back = 1 + mix(seed, n, 300 + i) % 16;
    let m = n.checked_sub(back)?;
    Some(m * SLOTS + mix(seed, n, 400 + i) % 3)
}

/// Operation `n` of the run with `seed`.
pub fn op(seed: u64, n: u64) -> Op {
    let sync = mix(seed, n, 1) % 10 == 0;
    let pick = mix(seed, n, 0) % 100;
    match pick {
        0 => Op::Flush {
            wait: mix(seed, n, 2) % 2 == 0,
        },
        1..=15 => match recent_key(seed, n, 0) {
            Some(key) => Op::Delete { key, sync },
            None => put(seed, n, sync),
        },
        16..=35 => {
            let count = 2 + mix(seed, n, 3) % (MAX_BATCH - 1);
            let records = (0..count)
                .map(|slot| {
                    let delete = mix(seed, n, 500 + slot) % 4 == 0;
                    match recent_key(seed, n, slot).filter(|_| delete) {
                        Some(k) => (k, None),
                        None => (n * SLOTS + slot, Some(value(seed, n, slot))),
                    }
                })
                .collect();
            Op::Batch { records, sync }
        }
        _ => put(seed, n, sync),
    }
}

fn put(seed: u64, n: u64, sync: bool) -> Op {
    Op::Put {
        key: n * SLOTS,
        value: value(seed, n, 0),
        sync,
    }
}

impl Op {
    /// What the operation does to the data, in order; empty for a flush.
    pub fn records(&self) -> Vec<(u64, Option<Vec<u8>>)> {
        match self {
            Op::Put { key, value, .. } => vec![(*key, Some(value.clone()))],
            Op::Delete { key, .. } => vec![(*key, None)],
            Op::Batch { records, .. } => records.clone(),
            Op::Flush { .. } => Vec::new(),
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

/// The options of the child and of the parent's reopen: small memtables so that flushes
/// run all the time, and level-0 triggers out of reach — every reopen's recovery flush
/// lands on level 0, and without major compaction nothing would ever drain it.
pub fn options() -> Options {
    Options {
        create_if_missing: true,
        write_buffer_size: 32 << 10,
        level0_slowdown_writes_trigger: 1000,
        level0_stop_writes_trigger: 1000,
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
        let ops: Vec<Op> = (0..2000).map(|n| op(7, n)).collect();
        let count = |f: fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count();
        assert!(count(|o| matches!(o, Op::Put { sync: true, .. })) > 20);
        assert!(count(|o| matches!(o, Op::Put { sync: false, .. })) > 500);
        assert!(count(|o| matches!(o, Op::Delete { .. })) > 100);
        assert!(count(|o| matches!(o, Op::Batch { .. })) > 100);
        assert!(count(|o| matches!(o, Op::Flush { .. })) > 5);
    }

    #[test]
    fn writes_stay_in_their_slots_and_slot_7_is_never_written() {
        for n in 0..5000 {
            for (k, v) in op(3, n).records() {
                match v {
                    Some(_) => assert_eq!(k / SLOTS, n, "puts go to the op's own slots"),
                    None => assert!(k / SLOTS < n, "deletes hit earlier operations"),
                }
                assert!(k % SLOTS < MAX_BATCH);
                assert_ne!(k % SLOTS, NEVER_WRITTEN_SLOT);
            }
        }
    }
}
