//! `remove_obsolete_files`: deletes WAL files older than the current log number, tables
//! no version references, old MANIFESTs and stray temp files — never a file listed in
//! `pending_outputs`, which a running flush is still writing.

use crate::sync::MutexGuard;

use super::notifier::Event;
use super::{DbInner, DbState};
use crate::filename::{parse_file_name, FileType};

impl DbInner {
    /// REQUIRES: the state lock; it is released while files are deleted.
    pub(super) fn remove_obsolete_files(&self, st: &mut MutexGuard<'_, DbState>) {
        if st.bg_error.is_some() {
            // After a failure we cannot tell whether a new version was committed, so a
            // file that looks unreferenced may still be needed.
            return;
        }
        let names = match self.fs.children(&self.dir) {
            Ok(names) => names,
            Err(e) => {
                self.info_log.log(&format!("listing files failed: {e}"));
                return;
            }
        };
        let live = st.versions.live_files();
        let log_number = st.versions.log_number();
        let prev_log_number = st.versions.prev_log_number();
        let manifest_number = st.versions.manifest_file_number();
        let mut doomed = Vec::new();
        for name in names {
            let Some((number, file_type)) = parse_file_name(&name) else {
                continue;
            };
            let keep = match file_type {
                FileType::Log => number >= log_number || number == prev_log_number,
                FileType::Manifest => number >= manifest_number,
                FileType::Table => live.contains(&number) || st.pending_outputs.contains(&number),
                FileType::Temp => st.pending_outputs.contains(&number),
                FileType::Current | FileType::Lock | FileType::InfoLog => true,
            };
            if !keep {
                if file_type == FileType::Table {
                    self.table_cache.evict(number);
                }
                doomed.push((name, file_type, number));
            }
        }
        MutexGuard::unlocked(st, || {
            for (name, file_type, number) in doomed {
                self.info_log.log(&format!("Delete {name}"));
                let path = self.dir.join(&name);
                match self.fs.remove_file(&path) {
                    Ok(()) if file_type == FileType::Table => {
                        self.notifier.emit(Event::TableFileDeleted(number, path));
                    }
                    Ok(()) => {}
                    // Harmless: it is retried after the next flush or reopen.
                    Err(e) => self.info_log.log(&format!("Delete {name} failed: {e}")),
                }
            }
        });
    }
}
