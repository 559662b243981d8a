//! The free-text `LOG` file LevelDB keeps in every DB directory (the previous one is kept
//! as `LOG.old`). Lines look like LevelDB's: `2026/11/24-02:45:10.123456 <thread> message`.
//! Failing to write it never fails the database: it is for humans.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::filename::{info_log_file_name, old_info_log_file_name};
use crate::fs::{FileSystem, WritableFile};

pub struct InfoLog {
    file: Mutex<Option<Box<dyn WritableFile>>>,
}

impl InfoLog {
    /// Rotates `LOG` to `LOG.old` and starts a new `LOG`; on failure logs nowhere.
    pub fn open(fs: &dyn FileSystem, dir: &Path) -> InfoLog {
        let path = info_log_file_name(dir);
        if fs.exists(&path) {
            let _ = fs.rename(&path, &old_info_log_file_name(dir));
        }
        InfoLog {
            file: Mutex::new(fs.new_writable_file(&path).ok()),
        }
    }

    pub fn log(&self, msg: &str) {
        let mut guard = self.file.lock();
        if let Some(file) = guard.as_mut() {
            let line = format!(
                "{} {:?} {}\n",
                timestamp(),
                std::thread::current().id(),
                msg
            );
            if file
                .append(line.as_bytes())
                .and_then(|_| file.flush())
                .is_err()
            {
                *guard = None; // stop trying; the database itself is unaffected
            }
        }
    }
}

/// `YYYY/MM/DD-hh:mm:ss.micros` in UTC.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}/{m:02}/{d:02}-{:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
