//! Open-time reading of the MANIFEST: CURRENT names it, every edit in it is replayed into a
//! Version, and the counters it recorded are collected. Damage fails the replay; a torn
//! last record (a crash mid-append) is dropped, as the log reader does.

use std::path::Path;

use crate::error::{Error, Result};
use crate::filename::{
    current_file_name, descriptor_file_name, parse_file_name, FileNumber, FileType,
};
use crate::fs::{read_file_to_vec, FileSystem};
use crate::key::{InternalKey, SequenceNumber, BYTEWISE_COMPARATOR_NAME};
use crate::log;

use super::builder::Builder;
use super::edit::VersionEdit;
use super::version::{Version, NUM_LEVELS};

/// What a MANIFEST describes, ready for `VersionSet::recover` to install.
pub(super) struct Replayed {
    pub version: Version,
    /// The MANIFEST that CURRENT names.
    pub manifest_number: FileNumber,
    pub next_file_number: FileNumber,
    pub log_number: FileNumber,
    pub prev_log_number: FileNumber,
    pub last_sequence: SequenceNumber,
    pub compact_pointers: [Option<InternalKey>; NUM_LEVELS],
}

/// Reads CURRENT (which must end in '\n') and replays the MANIFEST it names.
pub(super) fn replay_manifest(fs: &dyn FileSystem, dir: &Path) -> Result<Replayed> {
    let manifest_number = read_current(fs, dir)?;
    let manifest_path = descriptor_file_name(dir, manifest_number);
    let in_manifest = |e: Error| Error::corruption(format!("{}: {e}", manifest_path.display()));
    let file = match fs.new_sequential_file(&manifest_path) {
        Err(Error::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }) => {
            return Err(Error::corruption(format!(
                "CURRENT points to a non-existent file {}",
                manifest_path.display()
            )))
        }
        other => other?,
    };

    let mut reader = log::Reader::new(file, true);
    let mut builder = Builder::new(&Version::default());
    let mut log_number = None;
    let mut prev_log_number = None;
    let mut next_file_number = None;
    let mut last_sequence = None;
    let mut compact_pointers: [Option<InternalKey>; NUM_LEVELS] = Default::default();
    while let Some(record) = reader.read_record()? {
        let edit = VersionEdit::decode(&record).map_err(|e| {
            let at = reader.last_record_offset();
            Error::corruption(format!("{} at offset {at}: {e}", manifest_path.display()))
        })?;
        if let Some(name) = &edit.comparator {
            if name != BYTEWISE_COMPARATOR_NAME {
                return Err(Error::invalid_argument(format!(
                    "{name} does not match existing comparator {BYTEWISE_COMPARATOR_NAME}"
                )));
            }
        }
        builder.apply(&edit).map_err(in_manifest)?;
        log_number = edit.log_number.or(log_number);
        prev_log_number = edit.prev_log_number.or(prev_log_number);
        next_file_number = edit.next_file_number.or(next_file_number);
        last_sequence = edit.last_sequence.or(last_sequence);
        for (level, key) in edit.compact_pointers {
            compact_pointers[level] = Some(key);
        }
    }
    // A skipped record could have been any edit: replaying around it would build a wrong
    // file list, so damage anywhere fails the open.
    if let Some(c) = reader.take_corruptions().first() {
        return Err(Error::corruption(format!(
            "{}: {} at offset {} ({} bytes dropped)",
            manifest_path.display(),
            c.reason,
            c.offset,
            c.bytes_dropped
        )));
    }
    let missing =
        |what: &str| Error::corruption(format!("{}: no {what} entry", manifest_path.display()));
    Ok(Replayed {
        next_file_number: next_file_number.ok_or_else(|| missing("meta-nextfile"))?,
        log_number: log_number.ok_or_else(|| missing("meta-lognumber"))?,
        last_sequence: last_sequence.ok_or_else(|| missing("last-sequence-number"))?,
        prev_log_number: prev_log_number.unwrap_or(FileNumber(0)),
        version: builder.finish().map_err(in_manifest)?,
        manifest_number,
        compact_pointers,
    })
}

/// The MANIFEST number CURRENT names.
fn read_current(fs: &dyn FileSystem, dir: &Path) -> Result<FileNumber> {
    let path = current_file_name(dir);
    let contents = read_file_to_vec(fs, &path)?;
    let name = contents
        .strip_suffix(b"\n")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Error::corruption(format!(
                "{}: CURRENT file does not end with newline",
                path.display()
            ))
        })?;
    let name = String::from_utf8_lossy(name);
    match parse_file_name(&name) {
        Some((n, FileType::Manifest)) => Ok(n),
        _ => Err(Error::corruption(format!(
            "{}: names {name:?}, which is not a MANIFEST",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::version::testing::{file, new_db, write_manifest};
    use crate::version::{set_current_file, VersionSet};

    fn manifest_1(dir: &Path) -> std::path::PathBuf {
        descriptor_file_name(dir, FileNumber(1))
    }

    fn corruption_message(fs: &dyn FileSystem, dir: &Path) -> String {
        match replay_manifest(fs, dir) {
            Err(Error::Corruption(m)) => m,
            Err(other) => panic!("expected Corruption, got {other}"),
            Ok(_) => panic!("expected Corruption, replay succeeded"),
        }
    }

    #[test]
    fn new_db_replays_to_initial_counters() {
        let (dir, fs) = new_db();
        let r = replay_manifest(&*fs, dir.path()).expect("replay");
        assert_eq!(r.manifest_number, FileNumber(1));
        assert_eq!(r.next_file_number, FileNumber(2));
        assert_eq!(r.log_number, FileNumber(0));
        assert_eq!(r.prev_log_number, FileNumber(0));
        assert_eq!(r.last_sequence, SequenceNumber(0));
        assert_eq!(r.version.live_files().count(), 0);
    }

    #[test]
    fn bad_current_files_are_corruption() {
        let (dir, fs) = new_db();
        let current = current_file_name(dir.path());
        for (contents, what) in [
            (&b"MANIFEST-000001"[..], "newline"),
            (b"", "newline"),
            (b"\n", "newline"),
            (b"MANIFEST-000009\n", "non-existent"),
            (b"000001.log\n", "not a MANIFEST"),
        ] {
            std::fs::write(&current, contents).expect("write CURRENT");
            let m = corruption_message(&*fs, dir.path());
            assert!(m.contains(what), "{contents:?}: {m}");
        }
        std::fs::remove_file(&current).expect("rm");
        let err = replay_manifest(&*fs, dir.path()).err().expect("no CURRENT");
        assert_eq!(err.kind(), ErrorKind::Io);
    }

    #[test]
    fn garbage_manifest_is_corruption() {
        let (dir, fs) = new_db();
        // Valid log framing around a record that is not a VersionEdit (tag 8 is retired).
        let mut garbage = Vec::new();
        VersionEdit::new_db().encode(&mut garbage);
        garbage.extend_from_slice(&[0x08, 0x01]);
        let bad = VersionEdit::decode(&garbage).expect_err("tag 8");
        assert!(bad.to_string().contains("tag 8"));
        let mut log = log::Writer::new(
            fs.new_writable_file(&manifest_1(dir.path()))
                .expect("create"),
        );
        log.add_record(&garbage).expect("add");
        log.sync().expect("sync");
        drop(log);
        let m = corruption_message(&*fs, dir.path());
        assert!(m.contains("tag 8") && m.contains("offset 0"), "{m}");
        // Bytes that do not even frame as log records.
        std::fs::write(manifest_1(dir.path()), vec![0xabu8; 3000]).expect("write");
        let m = corruption_message(&*fs, dir.path());
        assert!(m.contains("MANIFEST-000001"), "{m}");
    }

    #[test]
    fn manifest_missing_a_counter_is_corruption() {
        let (dir, fs) = new_db();
        for (edit, what) in [
            (
                VersionEdit {
                    next_file_number: None,
                    ..VersionEdit::new_db()
                },
                "meta-nextfile",
            ),
            (
                VersionEdit {
                    log_number: None,
                    ..VersionEdit::new_db()
                },
                "meta-lognumber",
            ),
            (
                VersionEdit {
                    last_sequence: None,
                    ..VersionEdit::new_db()
                },
                "last-sequence-number",
            ),
        ] {
            write_manifest(&*fs, &manifest_1(dir.path()), &[edit]);
            let m = corruption_message(&*fs, dir.path());
            assert!(m.contains(what), "{m}");
        }
    }

    #[test]
    fn foreign_comparator_is_invalid_argument() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = crate::fs::PosixFs;
        let edit = VersionEdit {
            comparator: Some("foo".to_string()),
            ..VersionEdit::new_db()
        };
        write_manifest(&fs, &manifest_1(dir.path()), &[edit]);
        set_current_file(&fs, dir.path(), FileNumber(1)).expect("CURRENT");
        let err = replay_manifest(&fs, dir.path()).err().expect("refused");
        assert!(
            matches!(&err, Error::InvalidArgument(m)
                if m.contains("foo") && m.contains(BYTEWISE_COMPARATOR_NAME)),
            "{err}"
        );
    }

    #[test]
    fn torn_manifest_tail_is_tolerated_but_damage_is_not() {
        let (dir, fs) = new_db();
        let mut vs = VersionSet::new(dir.path(), fs.clone());
        vs.recover().expect("recover");
        for (smallest, largest) in [("a", "b"), ("c", "d")] {
            let mut e = VersionEdit::default();
            e.add_file(1, file(vs.new_file_number().0, smallest, largest, 1));
            vs.log_and_apply(&mut e).expect("apply");
        }
        let manifest = descriptor_file_name(dir.path(), vs.manifest_file_number());
        drop(vs);
        let full = std::fs::read(&manifest).expect("read");

        // Crash in the middle of the last append: everything before it is still there.
        for cut in [1, 5, 12] {
            std::fs::write(&manifest, &full[..full.len() - cut]).expect("truncate");
            let r = replay_manifest(&*fs, dir.path()).expect("replay torn");
            assert_eq!(r.version.num_files(1), 1, "cut {cut}");
        }

        // A flipped byte in the first record is damage: replay refuses.
        let mut damaged = full.clone();
        damaged[10] ^= 0x01;
        std::fs::write(&manifest, &damaged).expect("write");
        let m = corruption_message(&*fs, dir.path());
        assert!(m.contains("checksum") && m.contains("offset 0"), "{m}");
    }

    #[test]
    fn overlapping_files_in_manifest_are_corruption() {
        let (dir, fs) = new_db();
        let mut overlap = VersionEdit::default();
        overlap.add_file(1, file(5, "a", "m", 1));
        overlap.add_file(1, file(6, "k", "z", 1));
        write_manifest(
            &*fs,
            &manifest_1(dir.path()),
            &[VersionEdit::new_db(), overlap],
        );
        let m = corruption_message(&*fs, dir.path());
        assert!(m.contains("overlap"), "{m}");
    }

    #[test]
    fn later_edits_override_counters_and_compact_pointers() {
        let (dir, fs) = new_db();
        let pointer =
            |k: &[u8]| InternalKey::new(k, SequenceNumber(3), crate::key::ValueType::Value);
        let mut second = VersionEdit {
            log_number: Some(FileNumber(7)),
            prev_log_number: Some(FileNumber(6)),
            next_file_number: Some(FileNumber(9)),
            last_sequence: Some(SequenceNumber(55)),
            ..VersionEdit::default()
        };
        second.compact_pointers.push((2, pointer(b"a")));
        second.compact_pointers.push((2, pointer(b"b")));
        write_manifest(
            &*fs,
            &manifest_1(dir.path()),
            &[VersionEdit::new_db(), second],
        );
        let r = replay_manifest(&*fs, dir.path()).expect("replay");
        assert_eq!(r.log_number, FileNumber(7));
        assert_eq!(r.prev_log_number, FileNumber(6));
        assert_eq!(r.next_file_number, FileNumber(9));
        assert_eq!(r.last_sequence, SequenceNumber(55));
        assert_eq!(r.compact_pointers[2], Some(pointer(b"b")));
    }
}
