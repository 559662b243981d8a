//! `approximate_sizes` reports table bytes per key range: about the data written into a
//! range, nothing for an empty or inverted range, and the parts add up to the whole.

mod common;

use siltdb::{Db, FlushOptions, Options, WriteOptions};

#[test]
fn sizes_follow_the_data_in_each_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        create_if_missing: true,
        compression: siltdb::CompressionType::None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    let w = WriteOptions::default();
    // 1000 keys of ~1 KiB under "a", 100 under "b".
    for i in 0..1000 {
        db.put(&w, format!("a{i:05}").as_bytes(), &[b'x'; 1000])
            .expect("put");
    }
    for i in 0..100 {
        db.put(&w, format!("b{i:05}").as_bytes(), &[b'y'; 1000])
            .expect("put");
    }
    assert_eq!(
        db.approximate_sizes(&[(b"a", b"c")]).expect("sizes"),
        vec![0],
        "memtable data is not counted"
    );
    db.flush(&FlushOptions::default()).expect("flush");
    db.compact_range(None, None).expect("compact");

    let sizes = db
        .approximate_sizes(&[
            (b"a", b"b"),
            (b"b", b"c"),
            (b"a", b"c"),
            (b"c", b"d"),
            (b"b", b"a"),
            (b"a00000", b"a00500"),
        ])
        .expect("sizes");
    let near = |got: u64, want: u64| got >= want * 9 / 10 && got <= want * 12 / 10;
    assert!(near(sizes[0], 1_000_000), "a-range {sizes:?}");
    assert!(near(sizes[1], 100_000), "b-range {sizes:?}");
    assert_eq!(sizes[2], sizes[0] + sizes[1]);
    assert_eq!(sizes[3], 0, "empty range");
    assert_eq!(sizes[4], 0, "inverted range");
    assert!(near(sizes[5], 500_000), "half of a {sizes:?}");
}
