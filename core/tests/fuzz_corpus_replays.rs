//! Replays every file of the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through the
//! same harnesses the cargo-fuzz targets run (`fuzz/src/lib.rs`), on stable: each
//! `make test` re-checks the seeds and whatever inputs the fuzzers found worth keeping,
//! without nightly. A harness that panics fails this test with the file's name.
//!
//! The seeds come from real data: `SILTDB_WRITE_FUZZ_SEEDS=1 cargo test -p siltdb --test
//! fuzz_corpus_replays -- --ignored` rewrites them from a freshly written database.

#[allow(dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use siltdb::fs::{FileSystem, PosixFs};
use siltdb::table::{Block, BlockHandle, Footer};
use siltdb::{CompressionType, Db, FlushOptions, Options, WriteBatch, WriteOptions};

type Harness = fn(&[u8]);

const TARGETS: [(&str, Harness); 5] = [
    ("block", harness::block),
    ("table", harness::table),
    ("log_reader", harness::log_reader),
    ("version_edit", harness::version_edit),
    ("write_batch", harness::write_batch),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

#[test]
fn every_corpus_file_passes_its_harness() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (target, run) in TARGETS {
        let dir = corpus_dir().join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target}: no corpus");
        for file in files {
            let data = std::fs::read(&file).expect("read corpus file");
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failures.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    println!("fuzz corpus: {replayed} inputs replayed through 5 harnesses");
    assert!(
        failures.is_empty(),
        "harness panicked on:\n{}",
        failures.join("\n")
    );
}

/// Replays one input from the command line, for a crash artifact:
/// `SILTDB_FUZZ_INPUT=path SILTDB_FUZZ_TARGET=table cargo test --test fuzz_corpus_replays -- --ignored replay_one`.
#[test]
#[ignore = "replays the input named by SILTDB_FUZZ_INPUT"]
fn replay_one() {
    let (Ok(path), Ok(target)) = (
        std::env::var("SILTDB_FUZZ_INPUT"),
        std::env::var("SILTDB_FUZZ_TARGET"),
    ) else {
        return;
    };
    let (_, run) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    run(&std::fs::read(path).expect("read input"));
}

#[test]
#[ignore = "rewrites fuzz/corpus seeds; run with SILTDB_WRITE_FUZZ_SEEDS=1"]
fn write_seed_corpus() {
    if std::env::var("SILTDB_WRITE_FUZZ_SEEDS").is_err() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for (name, compression) in [
        ("raw", CompressionType::None),
        ("snappy", CompressionType::Snappy),
    ] {
        let path = dir.path().join(name);
        let db = Db::open(
            &path,
            Options {
                create_if_missing: true,
                compression,
                block_size: 512,
                ..Options::default()
            },
        )
        .expect("open");
        let w = WriteOptions::default();
        for i in 0..120u32 {
            let value = format!("value-{i}-").repeat(1 + (i % 5) as usize);
            db.put(&w, format!("key{i:05}").as_bytes(), value.as_bytes())
                .expect("put");
            if i % 9 == 0 {
                db.delete(&w, format!("key{:05}", i / 2).as_bytes())
                    .expect("delete");
            }
        }
        db.flush(&FlushOptions { wait: true }).expect("flush");
        let mut batch = WriteBatch::new();
        batch.put(b"batch-a", b"1");
        batch.delete(b"key00003");
        batch.put(b"", b"empty key");
        db.write(&w, &batch).expect("batch");
        for i in 0..20u32 {
            db.put(
                &w,
                format!("wal{i:03}").as_bytes(),
                &vec![b'w'; i as usize * 3],
            )
            .expect("put");
        }
        db.close().expect("close");

        for entry in std::fs::read_dir(&path).expect("ls") {
            let file = entry.expect("entry").path();
            let fname = file
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&file).expect("read");
            if fname.ends_with(".ldb") {
                seeds.push((
                    "table",
                    format!("{name}-{fname}"),
                    [&[0u8][..], &bytes].concat(),
                ));
                if name == "raw" {
                    for (i, block) in table_blocks(&bytes).into_iter().enumerate().take(3) {
                        seeds.push((
                            "block",
                            format!("{name}-{fname}-block{i}"),
                            [&[0u8][..], &block].concat(),
                        ));
                    }
                }
            } else if fname.ends_with(".log") || fname.starts_with("MANIFEST-") {
                seeds.push((
                    "log_reader",
                    format!("{name}-{fname}"),
                    [&[0u8][..], &bytes].concat(),
                ));
                let target = if fname.ends_with(".log") {
                    "write_batch"
                } else {
                    "version_edit"
                };
                for (i, record) in log_records(&file).into_iter().enumerate().take(12) {
                    seeds.push((target, format!("{name}-{fname}-record{i}"), record));
                }
            }
        }
    }
    // Recipes for the round trips (odd first byte).
    seeds.push((
        "block",
        "recipe-small".into(),
        b"\x01\x03\x04key1\x05\x09\x04key2\x10\x01".to_vec(),
    ));
    seeds.push((
        "table",
        "recipe-small".into(),
        b"\x01\x02\x04\x01\x01\x05apple\x30\x07\x06banana\x90\x02".to_vec(),
    ));
    seeds.push((
        "log_reader",
        "recipe-spanning".into(),
        b"\x01\x7f\xff\x11\x00\x05\x22\x40\x00\x33\x12\x34".to_vec(),
    ));

    let corpus = corpus_dir();
    for (target, _) in TARGETS {
        let dir = corpus.join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("corpus dir");
    }
    for (target, name, bytes) in seeds {
        std::fs::write(corpus.join(target).join(format!("seed-{name}")), bytes)
            .expect("write seed");
    }
}

/// The index, meta-index and first data blocks of an uncompressed table, without trailers.
fn table_blocks(bytes: &[u8]) -> Vec<Vec<u8>> {
    let footer = Footer::decode(&bytes[bytes.len() - 48..]).expect("footer");
    let slice = |h: &BlockHandle| bytes[h.offset as usize..(h.offset + h.size) as usize].to_vec();
    let index = slice(&footer.index_handle);
    let block = std::sync::Arc::new(Block::new(index.clone()).expect("index block"));
    let mut it = block.iter(siltdb::key::compare_internal_keys);
    siltdb::iterator::InternalIterator::seek_to_first(&mut it);
    let mut first = siltdb::iterator::InternalIterator::value(&it);
    let data = BlockHandle::decode_from(&mut first).expect("data block handle");
    vec![slice(&data), index, slice(&footer.metaindex_handle)]
}

fn log_records(path: &Path) -> Vec<Vec<u8>> {
    let mut reader =
        siltdb::log::Reader::new(PosixFs.new_sequential_file(path).expect("open"), true);
    let mut out = Vec::new();
    while let Some(record) = reader.read_record().expect("read") {
        out.push(record);
    }
    out
}
