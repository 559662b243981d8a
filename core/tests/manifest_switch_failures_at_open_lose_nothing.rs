//! A new MANIFEST — and with it the swap of CURRENT — is started only at open: while a Db
//! runs it appends to one MANIFEST, and a failed append is sticky. So failures of the swap
//! are aimed at open: creating or writing the new MANIFEST, writing CURRENT's temp file,
//! renaming it over CURRENT, and the directory sync that makes the rename durable. Each
//! fails the open with an Io error, leaves CURRENT naming a complete MANIFEST, and a
//! reopen on a healthy file system finds every write and leaves no orphan file behind.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{
    assert_no_orphan_files, copy_dir, files_of_type, get, options, put, read_current, value_for,
};
use siltdb::filename::FileType;
use siltdb::fs::fault::{FaultInjectionFs, FsOp};
use siltdb::fs::PosixFs;
use siltdb::{Db, ErrorKind, FlushOptions, Options};

const KEYS: u64 = 1500;

fn key(i: u64) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

/// A closed DB with some keys in tables and the rest only in its WAL, so that the open
/// under test replays a log and flushes it before it swaps the MANIFEST.
fn populated_db() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(
        dir.path(),
        Options {
            write_buffer_size: 16 << 10,
            ..options()
        },
    )
    .expect("open");
    for i in 0..KEYS {
        put(&db, &key(i), &value_for(i, 60));
        if i == KEYS / 2 {
            db.flush(&FlushOptions { wait: true }).expect("flush");
        }
    }
    db.close().expect("close");
    assert!(!files_of_type(dir.path(), FileType::Table).is_empty());
    dir
}

fn faulty(fs: &Arc<FaultInjectionFs>) -> Options {
    Options {
        fs: fs.clone(),
        ..options()
    }
}

/// Opens `dir` with `op` on files matching `pattern` failing after `skip` matching calls;
/// the open must fail with Io.
fn open_must_fail(dir: &Path, op: FsOp, pattern: &str, skip: usize) {
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    fs.fail(op, pattern, skip, usize::MAX);
    let err = Db::open(dir, faulty(&fs)).expect_err("the open must fail");
    assert_eq!(err.kind(), ErrorKind::Io, "{op:?} {pattern}: {err}");
    assert!(fs.failures_injected() > 0);
}

/// A healthy reopen finds every key; afterwards no orphan file is left.
fn assert_intact(dir: &Path) {
    let db = Db::open(dir, options()).expect("reopen on a healthy file system");
    for i in 0..KEYS {
        assert_eq!(get(&db, &key(i)), Some(value_for(i, 60)), "key {i} lost");
    }
    db.close().expect("close");
    assert_no_orphan_files(dir);
}

/// CURRENT names an existing MANIFEST, and it is the only MANIFEST left.
fn assert_current_names_the_only_manifest(dir: &Path) {
    let current = read_current(dir);
    let manifests = files_of_type(dir, FileType::Manifest);
    assert_eq!(manifests.len(), 1, "manifests on disk: {manifests:?}");
    assert_eq!(current, format!("MANIFEST-{:06}\n", manifests[0]));
}

#[test]
fn a_failed_current_rename_keeps_the_old_current_and_loses_nothing() {
    let dir = populated_db();
    let before = read_current(dir.path());
    open_must_fail(dir.path(), FsOp::Rename, "CURRENT", 0);
    assert_eq!(
        read_current(dir.path()),
        before,
        "CURRENT must be untouched"
    );
    assert_current_names_the_only_manifest(dir.path());
    assert!(files_of_type(dir.path(), FileType::Temp).is_empty());
    assert_intact(dir.path());
}

#[test]
fn a_failed_directory_sync_after_the_current_rename_keeps_the_new_manifest() {
    let dir = populated_db();
    // Count the directory syncs of a healthy open of a copy: the last one is the one that
    // makes CURRENT's rename durable.
    let probe = tempfile::tempdir().expect("tempdir");
    copy_dir(dir.path(), probe.path());
    let counting = FaultInjectionFs::new(Arc::new(PosixFs));
    let db = Db::open(probe.path(), faulty(&counting)).expect("probe open");
    let syncs = counting.calls(FsOp::SyncDir);
    drop(db);
    assert!(
        syncs >= 2,
        "an open syncs the directory for the WAL and CURRENT"
    );

    let before = read_current(dir.path());
    open_must_fail(dir.path(), FsOp::SyncDir, "", syncs - 1);
    let after = read_current(dir.path());
    assert_ne!(after, before, "the rename itself succeeded");
    let named = after.trim_end().trim_start_matches("MANIFEST-");
    let named: u64 = named.parse().expect("CURRENT names a MANIFEST");
    assert!(
        files_of_type(dir.path(), FileType::Manifest).contains(&named),
        "the MANIFEST CURRENT names must not be deleted"
    );
    assert_intact(dir.path());
}

#[test]
fn a_failed_manifest_creation_at_open_loses_nothing() {
    let dir = populated_db();
    let before = read_current(dir.path());
    open_must_fail(dir.path(), FsOp::Create, "MANIFEST", 0);
    assert_eq!(read_current(dir.path()), before);
    assert_current_names_the_only_manifest(dir.path());
    assert_intact(dir.path());
}

#[test]
fn a_failed_manifest_write_at_open_removes_the_new_manifest() {
    let dir = populated_db();
    let before = read_current(dir.path());
    open_must_fail(dir.path(), FsOp::Write, "MANIFEST", 0);
    assert_eq!(read_current(dir.path()), before);
    assert_current_names_the_only_manifest(dir.path());
    assert_intact(dir.path());
}

#[test]
fn a_failed_manifest_sync_at_open_removes_the_new_manifest() {
    let dir = populated_db();
    open_must_fail(dir.path(), FsOp::Sync, "MANIFEST", 0);
    assert_current_names_the_only_manifest(dir.path());
    assert_intact(dir.path());
}

#[test]
fn a_failed_write_of_currents_temp_file_leaves_no_temp_file() {
    let dir = populated_db();
    let before = read_current(dir.path());
    open_must_fail(dir.path(), FsOp::Write, "dbtmp", 0);
    assert_eq!(read_current(dir.path()), before);
    assert!(files_of_type(dir.path(), FileType::Temp).is_empty());
    assert_current_names_the_only_manifest(dir.path());
    assert_intact(dir.path());
}

#[test]
fn a_crash_after_a_failed_swap_still_opens_with_everything() {
    // The rename went through but its directory sync failed; then the machine dies, which
    // may undo the rename. Either MANIFEST CURRENT can name must still be complete.
    let dir = populated_db();
    let probe = tempfile::tempdir().expect("tempdir");
    copy_dir(dir.path(), probe.path());
    let counting = FaultInjectionFs::new(Arc::new(PosixFs));
    drop(Db::open(probe.path(), faulty(&counting)).expect("probe open"));
    let syncs = counting.calls(FsOp::SyncDir);

    let before = read_current(dir.path());
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    fs.fail(FsOp::SyncDir, "", syncs - 1, 1);
    let err = Db::open(dir.path(), faulty(&fs)).expect_err("the open must fail");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_ne!(read_current(dir.path()), before, "the rename went through");
    fs.drop_unsynced_data().expect("crash");
    assert_eq!(read_current(dir.path()), before, "the crash undid it");
    assert_intact(dir.path());
}
