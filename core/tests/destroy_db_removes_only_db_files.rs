//! `destroy_db` refuses an open database, deletes exactly the files a database owns, and
//! removes the directory when nothing else is left in it.

mod common;

use common::put;
use siltdb::{destroy_db, Db, ErrorKind, FlushOptions};

#[test]
fn destroy_db_deletes_db_files_and_keeps_strangers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let opts = common::options();
    let db = Db::open(&path, opts.clone()).expect("open");
    put(&db, b"a", b"1");
    db.flush(&FlushOptions::default()).expect("flush");
    put(&db, b"b", b"2");

    let err = destroy_db(&path, &opts).expect_err("open database");
    assert_eq!(err.kind(), ErrorKind::Busy);
    assert_eq!(common::get(&db, b"a"), Some(b"1".to_vec()));
    db.close().expect("close");

    std::fs::write(path.join("notes.txt"), b"mine").expect("write stranger");
    destroy_db(&path, &opts).expect("destroy");
    let left: Vec<String> = std::fs::read_dir(&path)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
        .collect();
    assert_eq!(left, vec!["notes.txt".to_string()]);

    std::fs::remove_file(path.join("notes.txt")).expect("remove");
    Db::open(&path, opts.clone())
        .expect("open")
        .close()
        .expect("close");
    destroy_db(&path, &opts).expect("destroy");
    assert!(!path.exists(), "an emptied directory is removed");
    // Destroying what does not exist is fine.
    destroy_db(&path, &opts).expect("destroy missing");
}
