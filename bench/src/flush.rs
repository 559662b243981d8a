//! The `flush` benchmark: fill one memtable to just below `--write_buffer_size`, then
//! time only the flush — siltdb's `flush(wait)`, LevelDB's `compact_range` over an empty
//! range (its way to flush the memtable and wait) — and, for scale, a plain write and
//! fdatasync of as many bytes as the flush wrote.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine::EngineConfig;
use crate::report::{duration, size, BenchResult, Status};
use crate::rss;
use crate::runner::Runner;
use crate::workload::{KeyBuffer, Scatter, ValueGenerator};

/// How full the memtable is made, by LevelDB's accounting: just below the size at
/// which LevelDB would start a flush by itself.
const FILL_FRACTION: f64 = 0.98;

pub fn run(r: &mut Runner<'_>) -> Result<BenchResult, String> {
    let flags = r.flags;
    let w = flags.write_buffer_size;
    let per_entry = leveldb_memtable_bytes_per_entry(16, flags.value_size);
    let entries = ((w as f64 * FILL_FRACTION / per_entry) as u32).clamp(1, i32::MAX as u32);
    let memtable_bytes = f64::from(entries) * per_entry;

    // Both engines get the same entries. The write buffer is set well above them so that
    // neither flushes by itself during the fill (the two engines count a memtable's
    // bytes a little differently); the flush itself does not depend on the setting.
    let fill = EngineConfig {
        write_buffer_size: w.saturating_mul(4),
        ..r.config
    };
    r.fresh(&fill)?;
    r.watchdog.begin("flush", r.dir.clone());
    let progress = r.watchdog.counter();
    let db = r.engine()?;
    let order = Scatter::new(entries);
    let mut keys = KeyBuffer::default();
    let mut values = ValueGenerator::new(flags.compression_ratio);
    for i in 0..entries {
        db.put(
            keys.set(order.get(i)),
            values.generate(flags.value_size),
            false,
        )
        .map_err(|e| format!("put error: {e}"))?;
        progress.set(u64::from(i));
    }
    if !table_file_sizes(&r.dir).is_empty() {
        r.watchdog.end();
        return Ok(BenchResult::not_run(
            "flush",
            Status::Failed("FAILED: a flush ran by itself during the fill".to_string()),
        ));
    }
    let engine_count = db
        .property("leveldb.approximate-memory-usage")
        .and_then(|v| v.parse::<f64>().ok());

    rss::reset_peak();
    r.watchdog.touch();
    let start = Instant::now();
    db.flush().map_err(|e| format!("flush error: {e}"))?;
    let elapsed = start.elapsed();
    r.watchdog.touch();
    let peak = rss::peak_kib();

    let table_bytes: u64 = table_file_sizes(&r.dir).iter().sum();
    let floor = disk_floor(&r.dir, table_bytes);
    r.watchdog.end();
    // Later benchmarks run with the configured write buffer again.
    r.reopen(&r.config.clone())?;

    if table_bytes == 0 {
        return Ok(BenchResult::not_run(
            "flush",
            Status::Failed("FAILED: the flush wrote no table file".to_string()),
        ));
    }
    let mut message = format!(
        "({} buffer: {entries} entries, memtable {}",
        size(w as f64),
        size(memtable_bytes)
    );
    if let Some(count) = engine_count {
        message += &format!(" (engine's count {})", size(count));
    }
    message += &format!(", table {}", size(table_bytes as f64));
    match floor {
        Ok(d) => {
            message += &format!(
                "; write+fdatasync of as many bytes: {})",
                duration(nanos(d))
            )
        }
        Err(e) => message += &format!("; disk floor not measured: {e})"),
    }
    Ok(BenchResult::one_call(
        "flush",
        elapsed,
        memtable_bytes,
        peak,
        message,
    ))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What one entry costs in LevelDB's memtable (`leveldb.approximate-memory-usage`): the
/// arena-encoded entry (varint internal-key length, user key, 8-byte tag, varint value
/// length, value), padding to 8 for the skiplist node allocated after it, and the node (a
/// key pointer and on average 4/3 next pointers, branching factor 4). Entries over 1 KiB
/// get an arena block of their own (plus its pointer, 8). The arena's block pointers and
/// unused block tails add about 1% (measured against LevelDB 1.23 for 10..1000-byte
/// values: within 0.5%).
pub fn leveldb_memtable_bytes_per_entry(key_len: usize, value_len: usize) -> f64 {
    const ARENA_OVERHEAD: f64 = 1.01;
    let internal = key_len + 8;
    let encoded = varint_len(internal) + internal + varint_len(value_len) + value_len;
    let node = 8.0 + 8.0 * 4.0 / 3.0;
    if encoded > 1024 {
        (encoded + 8) as f64 + node * ARENA_OVERHEAD
    } else {
        let padding = (8 - encoded % 8) % 8;
        ((encoded + padding) as f64 + node) * ARENA_OVERHEAD
    }
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Sizes of the table files (`.ldb`, `.sst`) in `dir`.
pub fn table_file_sizes(dir: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".ldb") || name.ends_with(".sst")
        })
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .collect()
}

/// Time to create a file in `dir`, write `bytes` to it in 1 MiB writes and fdatasync it:
/// what the disk allows a flush of that size.
fn disk_floor(dir: &Path, bytes: u64) -> std::io::Result<Duration> {
    let path = dir.join("disk-floor.tmp");
    let chunk = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut file = std::fs::File::create(&path)?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    file.sync_data()?;
    let elapsed = start.elapsed();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leveldb_entry_cost_counts_encoding_and_node() {
        // 16-byte key, 100-byte value: 1 + 24 + 1 + 100 encoded, 2 padding, 8 + 10.67
        // node, 1% arena: LevelDB 1.23 counted 148.5 bytes per entry.
        let cost = leveldb_memtable_bytes_per_entry(16, 100);
        assert!((cost - 148.5).abs() < 0.5, "{cost}");
        // 1000-byte values get blocks of their own: LevelDB counted 1053.8.
        let cost = leveldb_memtable_bytes_per_entry(16, 1000);
        assert!((cost - 1053.8).abs() < 0.5, "{cost}");
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
    }

    #[test]
    fn table_files_are_found_by_extension() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, len) in [("000005.ldb", 10), ("000006.sst", 5), ("000007.log", 99)] {
            std::fs::write(dir.path().join(name), vec![0u8; len]).expect("write");
        }
        let mut sizes = table_file_sizes(dir.path());
        sizes.sort_unstable();
        assert_eq!(sizes, [5, 10]);
        assert!(disk_floor(dir.path(), 3 << 20).is_ok());
        assert!(!dir.path().join("disk-floor.tmp").exists());
    }
}
