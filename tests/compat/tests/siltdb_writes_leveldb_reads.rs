//! siltdb writes a database — 200,000 numbered keys plus special ones, overwrites and
//! deletes, with keys in level-2, level-1 and level-0 tables and in the WAL — and closes;
//! the real LevelDB opens the directory, reads every key, scans the whole key space, writes
//! more and closes; siltdb reopens and sees everything; LevelDB reads siltdb's last writes.
//! Run with snappy on and off and bloom filters on and off.

use siltdb_compat::leveldb_test;

leveldb_test! {
    fn snappy_and_bloom_round_trip() {
        scenario::round_trip(siltdb::CompressionType::Snappy, 10);
    }
}

leveldb_test! {
    fn snappy_without_bloom_round_trip() {
        scenario::round_trip(siltdb::CompressionType::Snappy, 0);
    }
}

leveldb_test! {
    fn uncompressed_with_bloom_round_trip() {
        scenario::round_trip(siltdb::CompressionType::None, 10);
    }
}

leveldb_test! {
    fn uncompressed_without_bloom_round_trip() {
        scenario::round_trip(siltdb::CompressionType::None, 0);
    }
}

#[cfg(has_leveldb)]
mod scenario {
    use std::ops::Range;
    use std::path::Path;

    use siltdb::{CompressionType, Db, FlushOptions, Options, ReadOptions, WriteOptions};
    use siltdb_compat::layout::{files_per_level, table_bytes, tables_containing, wal_bytes};
    use siltdb_compat::leveldb_ffi::{self, LevelDb, LevelOptions};
    use siltdb_compat::model::{
        absent_keys, key, leveldb_batch, siltdb_batch, special_keys, value, Model, Op,
    };

    /// Numbered keys siltdb writes.
    const N: u64 = 200_000;
    /// Keys written per ascending chunk; each chunk ends with a flush.
    const CHUNK: u64 = 25_000;
    /// Small, so that the ascending phase seals and flushes memtables by itself too.
    const WRITE_BUFFER: usize = 1 << 20;
    /// The meta-index key LevelDB looks its bloom filter up by.
    const BLOOM_FILTER_NAME: &[u8] = b"filter.leveldb.BuiltinBloomFilter2";

    fn siltdb_options(compression: CompressionType, bloom_bits: usize) -> Options {
        Options {
            create_if_missing: true,
            write_buffer_size: WRITE_BUFFER,
            compression,
            bloom_bits_per_key: bloom_bits,
            ..Options::default()
        }
    }

    fn leveldb_options(compression: CompressionType, bloom_bits: usize) -> LevelOptions {
        LevelOptions {
            paranoid_checks: true,
            snappy: compression == CompressionType::Snappy,
            bloom_bits_per_key: (bloom_bits > 0).then_some(bloom_bits as i32),
            ..LevelOptions::default()
        }
    }

    fn siltdb_get(db: &Db) -> impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, String> + '_ {
        |k| {
            db.get(&ReadOptions::default(), k)
                .map_err(|e| e.to_string())
        }
    }

    fn write(db: &Db, model: &mut Model, ops: &[Op]) {
        db.write(&WriteOptions::default(), &siltdb_batch(ops))
            .expect("siltdb write");
        model.apply_all(ops);
    }

    /// Ops for keys `range` in ascending key order: a put for each, a second put for
    /// some, a delete (and for half of those a put again) for others.
    fn ascending_ops(range: Range<u64>) -> Vec<Op> {
        let mut ops = Vec::new();
        for i in range {
            ops.push(Op::Put(key(i), value(i, 0)));
            if i % 7 == 3 {
                ops.push(Op::Put(key(i), value(i, 1)));
            }
            if i % 13 == 5 {
                ops.push(Op::Delete(key(i)));
                if i % 2 == 0 {
                    ops.push(Op::Put(key(i), value(i, 2)));
                }
            }
        }
        ops
    }

    /// Overwrites and deletes spread over `range` with stride `step`, stopping before
    /// `budget` memtable bytes so that the batch fits one memtable (no automatic flush).
    fn spread_ops(range: Range<u64>, step: u64, generation: u64, budget: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut used = 0;
        for i in range.step_by(step as usize) {
            let op = if (i / step) % 3 == 0 {
                Op::Delete(key(i))
            } else {
                Op::Put(key(i), value(i, generation))
            };
            used += op.approximate_size();
            if used > budget {
                break;
            }
            ops.push(op);
        }
        ops
    }

    pub fn round_trip(compression: CompressionType, bloom_bits: usize) {
        let (major, minor) = leveldb_ffi::version();
        let label = format!("LevelDB {major}.{minor}, siltdb {compression:?}, bloom {bloom_bits}");
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let mut model = Model::default();
        let absent = absent_keys(2_000);

        siltdb_writes(dir, compression, bloom_bits, &mut model);
        let levels = files_per_level(dir).expect("siltdb's MANIFEST");
        let wal = wal_bytes(dir).expect("WAL size");
        assert!(
            levels[0] >= 2 && levels[1] >= 1 && levels[2] >= 4,
            "{label}: expected tables on levels 0, 1 and 2, got {levels:?}"
        );
        assert!(
            wal > 0,
            "{label}: the last writes should still be in the WAL"
        );
        let (filtered, tables) = tables_containing(dir, BLOOM_FILTER_NAME).expect("tables");
        let expected = if bloom_bits > 0 { tables } else { 0 };
        assert_eq!(
            filtered, expected,
            "{label}: tables with a bloom filter, of {tables}"
        );
        let tables_size = table_bytes(dir).expect("table bytes");

        let ldb = LevelDb::open(dir, &leveldb_options(compression, bloom_bits))
            .unwrap_or_else(|e| panic!("{label}: LevelDB refused siltdb's DB: {e}"));
        let checked = model.verify_gets("LevelDB get", &absent, |k| ldb.get(k));
        let scanned = model.verify_scan("LevelDB scan", ldb.iter());
        println!(
            "{label}: siltdb wrote {} ops (tables per level {levels:?}, {wal} WAL bytes); \
             {tables} tables, {tables_size} bytes; LevelDB checked {checked} keys by get and \
             {scanned} by scan",
            model.ops()
        );

        leveldb_writes_more(&ldb, &mut model);
        let scanned = model.verify_scan("LevelDB scan after its writes", ldb.iter());
        let leveldb_levels = ldb.files_per_level();
        ldb.close();

        let db = Db::open(dir, siltdb_options(compression, bloom_bits))
            .unwrap_or_else(|e| panic!("{label}: siltdb refused the DB LevelDB wrote: {e}"));
        let reread = model.verify_gets("siltdb get after LevelDB", &absent, siltdb_get(&db));
        // One more leg: siltdb writes on top of LevelDB's MANIFEST, LevelDB reads it.
        let ops = spread_ops(0..N + 20_000, 61, 9, WRITE_BUFFER / 2);
        write(&db, &mut model, &ops);
        db.flush(&FlushOptions::default()).expect("siltdb flush");
        db.close().expect("siltdb close");
        let ldb = LevelDb::open(dir, &leveldb_options(compression, bloom_bits))
            .unwrap_or_else(|e| panic!("{label}: LevelDB refused siltdb's reopened DB: {e}"));
        let final_scan = model.verify_scan("LevelDB final scan", ldb.iter());
        ldb.close();
        println!(
            "{label}: LevelDB wrote more (tables per level {leveldb_levels:?}, scan {scanned}); \
             siltdb re-read {reread} keys; LevelDB's final scan matched {final_scan} entries \
             ({} live, {} deleted, {} ops in all)",
            model.live().len(),
            model.deleted().len(),
            model.ops()
        );
    }

    /// siltdb's part: level-2 tables from ascending chunks, a level-1 table from a batch
    /// overlapping a few of them, two level-0 tables from batches over the whole range,
    /// and a tail left in the WAL.
    fn siltdb_writes(
        dir: &Path,
        compression: CompressionType,
        bloom_bits: usize,
        model: &mut Model,
    ) {
        let db = Db::open(dir, siltdb_options(compression, bloom_bits)).expect("siltdb open");
        let flush = || db.flush(&FlushOptions::default()).expect("siltdb flush");
        for chunk in (0..N).step_by(CHUNK as usize) {
            for start in (chunk..chunk + CHUNK).step_by(100) {
                write(&db, model, &ascending_ops(start..start + 100));
            }
            flush();
        }
        // Overlaps only an eighth of level 2, within the grandparent limit: level 1.
        write(
            &db,
            model,
            &spread_ops(N / 4..N / 4 + N / 8, 13, 3, WRITE_BUFFER / 2),
        );
        flush();
        // Overlap level 1: level 0.
        let mut ops = spread_ops(0..N, 97, 4, WRITE_BUFFER / 2);
        ops.extend(special_keys().into_iter().map(|k| Op::Put(k, value(7, 4))));
        write(&db, model, &ops);
        flush();
        write(&db, model, &spread_ops(5..N, 89, 5, WRITE_BUFFER / 2));
        flush();
        // Left in the WAL: no flush before close.
        let specials = special_keys();
        let mut ops = spread_ops(11..N, 71, 6, WRITE_BUFFER / 4);
        ops.push(Op::Delete(specials[1].clone()));
        ops.push(Op::Put(specials[2].clone(), Vec::new()));
        // 64 KiB values: WAL records that span 32 KiB log blocks.
        ops.extend([3001, 6002].map(|i| Op::Put(key(i), value(i, 6))));
        write(&db, model, &ops);
        db.close().expect("siltdb close");
    }

    /// LevelDB's part: new keys in batches, single overwrites and deletes, a manual
    /// compaction over part of siltdb's tables, and a tail in LevelDB's own WAL.
    fn leveldb_writes_more(ldb: &LevelDb, model: &mut Model) {
        for start in (N..N + 20_000).step_by(100) {
            let ops = ascending_ops(start..start + 100);
            ldb.write(&leveldb_batch(&ops)).expect("LevelDB write");
            model.apply_all(&ops);
        }
        for j in 0..5_000u64 {
            let i = j * 37 % N;
            let op = if j % 4 == 0 {
                ldb.delete(&key(i)).expect("LevelDB delete");
                Op::Delete(key(i))
            } else {
                ldb.put(&key(i), &value(i, 7)).expect("LevelDB put");
                Op::Put(key(i), value(i, 7))
            };
            model.apply(&op);
        }
        ldb.compact_range(Some(&key(N / 2)), Some(&key(N / 2 + N / 10)));
        for i in (3..N).step_by(1009) {
            ldb.put(&key(i), &value(i, 8)).expect("LevelDB put");
            model.apply(&Op::Put(key(i), value(i, 8)));
        }
    }
}
