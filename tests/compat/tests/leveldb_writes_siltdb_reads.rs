//! The real LevelDB writes a database — 100,000 keys in shuffled order with overwrites
//! and deletes, small write buffer and table files so that it flushes and compacts into
//! many tables on several levels, a full manual compaction, more writes, and a tail left in
//! its WAL — and closes; siltdb opens it and reads every key back, and LevelDB reads the
//! directory siltdb recovered. Run with LevelDB's default options (snappy, no filter) and
//! with a 10-bit bloom filter; the first run also reads a copy with every `.ldb` renamed
//! to the legacy `.sst`.

use siltdb_compat::leveldb_test;

leveldb_test! {
    fn siltdb_reads_leveldb_default_options() {
        scenario::leveldb_then_siltdb(None, true);
    }
}

leveldb_test! {
    fn siltdb_reads_leveldb_with_bloom_filter() {
        scenario::leveldb_then_siltdb(Some(10), false);
    }
}

#[cfg(has_leveldb)]
mod scenario {
    use std::path::Path;

    use siltdb::{Db, Options, ReadOptions};
    use siltdb_compat::layout::{
        copy_dir, rename_ldb_to_sst, table_bytes, tables_containing, wal_bytes,
    };
    use siltdb_compat::leveldb_ffi::{LevelDb, LevelOptions};
    use siltdb_compat::model::{absent_keys, key, leveldb_batch, value, Model, Op};

    /// Keys LevelDB writes: enough for tables on three levels with its small buffers.
    const N: u64 = 100_000;
    /// Coprime with N: `k * STRIDE % N` visits every key once, in shuffled order.
    const STRIDE: u64 = 7919;
    const BLOOM_FILTER_NAME: &[u8] = b"filter.leveldb.BuiltinBloomFilter2";

    fn leveldb_options(bloom_bits: Option<i32>) -> LevelOptions {
        LevelOptions {
            create_if_missing: true,
            bloom_bits_per_key: bloom_bits,
            // Small memtables and files: many flushes, many compactions, many tables.
            write_buffer_size: Some(256 << 10),
            max_file_size: Some(256 << 10),
            ..LevelOptions::default()
        }
    }

    fn write(ldb: &LevelDb, model: &mut Model, ops: &[Op]) {
        ldb.write(&leveldb_batch(ops)).expect("LevelDB write");
        model.apply_all(ops);
    }

    pub fn leveldb_then_siltdb(bloom_bits: Option<i32>, legacy_names: bool) {
        let label = format!("LevelDB bloom {bloom_bits:?}");
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("db");
        let mut model = Model::default();
        let absent = absent_keys(2_000);

        let levels = leveldb_writes(&dir, bloom_bits, &mut model);
        let populated = levels.iter().filter(|&&n| n > 0).count();
        assert!(
            populated >= 2,
            "{label}: tables on one level only: {levels:?}"
        );
        let wal = wal_bytes(&dir).expect("WAL size");
        assert!(
            wal > 0,
            "{label}: LevelDB's last writes should be in its WAL"
        );
        let (filtered, tables) = tables_containing(&dir, BLOOM_FILTER_NAME).expect("tables");
        let expected = if bloom_bits.is_some() { tables } else { 0 };
        assert_eq!(
            filtered, expected,
            "{label}: tables with a bloom filter, of {tables}"
        );
        let tables_size = table_bytes(&dir).expect("table bytes");

        // The copy is taken before siltdb's recovery changes anything: LevelDB's files only.
        let legacy = legacy_names.then(|| {
            let legacy = tmp.path().join("db-sst");
            copy_dir(&dir, &legacy).expect("copy the DB");
            let renamed = rename_ldb_to_sst(&legacy).expect("rename .ldb to .sst");
            assert_eq!(renamed, tables, "{label}: every table renamed");
            (legacy, renamed)
        });
        let checked = siltdb_reads(&dir, &model, &absent, &format!("{label}, .ldb"));
        let legacy = legacy.map(|(legacy, renamed)| {
            let checked = siltdb_reads(&legacy, &model, &absent, &format!("{label}, .sst"));
            format!(" and {checked} keys with its {renamed} tables renamed .sst")
        });
        // LevelDB reads the directory siltdb recovered (its WAL now in a siltdb table).
        let ldb = LevelDb::open(&dir, &LevelOptions::default())
            .unwrap_or_else(|e| panic!("{label}: LevelDB refused the DB siltdb recovered: {e}"));
        let scanned = model.verify_scan("LevelDB scan after siltdb", ldb.iter());
        ldb.close();
        println!(
            "{label}: LevelDB wrote {} ops ({} live, {} deleted; tables per level {levels:?}, \
             {tables} tables, {tables_size} bytes, {wal} WAL bytes); siltdb checked {checked} \
             keys{}; LevelDB scanned {scanned} after siltdb's recovery",
            model.ops(),
            model.live().len(),
            model.deleted().len(),
            legacy.unwrap_or_default()
        );
    }

    /// LevelDB's writes; returns its tables per level just before it closes.
    fn leveldb_writes(dir: &Path, bloom_bits: Option<i32>, model: &mut Model) -> Vec<usize> {
        let ldb = LevelDb::open(dir, &leveldb_options(bloom_bits)).expect("LevelDB open");
        let mut ops = Vec::new();
        for k in 0..N {
            let i = k * STRIDE % N;
            ops.push(Op::Put(key(i), value(i, 0)));
            if i % 11 == 4 {
                ops.push(Op::Delete(key(i)));
            }
            if ops.len() >= 100 {
                write(&ldb, model, &ops);
                ops.clear();
            }
        }
        write(&ldb, model, &ops);
        // Everything down to the last level with files; then newer tables above it.
        ldb.compact_range(None, None);
        for k in 0..15_000 {
            let i = k * 6007 % N;
            let op = if k % 5 == 0 {
                Op::Delete(key(i))
            } else {
                Op::Put(key(i), value(i, 1))
            };
            ldb.write(&leveldb_batch(std::slice::from_ref(&op)))
                .expect("LevelDB write");
            model.apply(&op);
        }
        // A tail smaller than the write buffer: still only in the WAL at close.
        for k in 0..500 {
            let i = k * 397 % N;
            let op = if k % 4 == 0 {
                Op::Delete(key(i))
            } else {
                Op::Put(key(i), format!("wal-tail-{k}").into_bytes())
            };
            write(&ldb, model, std::slice::from_ref(&op));
        }
        // Records longer than a 32 KiB log block: fragments FIRST, MIDDLE, LAST.
        write(&ldb, model, &[Op::Put(key(3001), value(3001, 2))]);
        write(&ldb, model, &[Op::Put(Vec::new(), Vec::new())]);
        let levels = ldb.files_per_level();
        ldb.close();
        levels
    }

    fn siltdb_reads(dir: &Path, model: &Model, absent: &[Vec<u8>], label: &str) -> usize {
        let db = Db::open(dir, Options::default())
            .unwrap_or_else(|e| panic!("{label}: siltdb refused LevelDB's DB: {e}"));
        let checked = model.verify_gets(label, absent, |k| {
            db.get(&ReadOptions::default(), k)
                .map_err(|e| e.to_string())
        });
        db.close().expect("siltdb close");
        checked
    }
}
