//! `repair_db` rebuilds a database whose MANIFEST and CURRENT are gone: every key, from
//! tables on several levels and from the WAL, is back after repair.

mod common;

use std::collections::BTreeMap;

use common::{files_of_type, mix64};
use siltdb::filename::FileType;
use siltdb::{repair_db, Db, ErrorKind, Options, ReadOptions, WriteOptions};

#[test]
fn repair_after_losing_manifest_and_current_restores_all_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    let opts = Options {
        create_if_missing: true,
        write_buffer_size: 32 << 10,
        ..Options::default()
    };
    let mut model = BTreeMap::new();
    let db = Db::open(path, opts.clone()).expect("open");
    let w = WriteOptions::default();
    for round in 0..4u64 {
        for j in 0..1500u64 {
            let x = mix64(round * 10_000 + j);
            let k = format!("k{:05}", x % 4000).into_bytes();
            let v = format!("v{round}-{j}").into_bytes();
            db.put(&w, &k, &v).expect("put");
            model.insert(k, v);
        }
        if round == 1 {
            db.compact_range(None, None).expect("compact");
        }
    }
    // The tail stays in the WAL.
    db.put(&w, b"wal-only", b"from the log").expect("put");
    model.insert(b"wal-only".to_vec(), b"from the log".to_vec());
    assert_eq!(
        repair_db(path, &opts).expect_err("open").kind(),
        ErrorKind::Busy
    );
    db.close().expect("close");
    assert!(!files_of_type(path, FileType::Table).is_empty());
    assert!(!files_of_type(path, FileType::Log).is_empty());

    for n in files_of_type(path, FileType::Manifest) {
        std::fs::remove_file(path.join(format!("MANIFEST-{n:06}"))).expect("rm manifest");
    }
    std::fs::remove_file(path.join("CURRENT")).expect("rm CURRENT");
    let opts_no_create = Options {
        create_if_missing: false,
        ..opts.clone()
    };
    assert!(
        Db::open(path, opts_no_create.clone()).is_err(),
        "broken before repair"
    );

    repair_db(path, &opts).expect("repair");
    let db = Db::open(path, opts_no_create).expect("open after repair");
    let got: BTreeMap<Vec<u8>, Vec<u8>> = db
        .iter(&ReadOptions::default())
        .expect("iter")
        .entries()
        .collect::<Result<_, _>>()
        .expect("entries");
    assert_eq!(got.len(), model.len());
    assert!(got == model, "every key with its latest value");
    for (k, v) in model.iter().step_by(37) {
        assert_eq!(common::get(&db, k).as_ref(), Some(v), "get {k:?}");
    }
    // New writes land after the recovered sequence.
    db.put(&w, b"wal-only", b"newer").expect("put");
    assert_eq!(common::get(&db, b"wal-only"), Some(b"newer".to_vec()));
}
