//! One benchmark's outcome, how it is printed (LevelDB's line plus a latency/RSS line),
//! the tab-separated record a per-engine child hands its parent, and the side-by-side
//! table of two engines.

use std::fmt::Write as _;
use std::time::Duration;

/// How a benchmark ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Ok,
    /// Not run, with the reason (printed in place of the numbers).
    Skipped(String),
    /// Ran but failed or stalled; the reason is printed.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub name: String,
    pub status: Status,
    pub micros_per_op: f64,
    pub mb_per_sec: Option<f64>,
    pub ops: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub over_1ms: u64,
    pub peak_rss_kib: Option<u64>,
    /// db_bench's trailing message, e.g. "(1000 ops)" or "(632 of 1000 found)".
    pub message: String,
    /// `--histogram=1`: LevelDB's histogram text, printed under the lines (not part of
    /// the record a child sends its parent).
    pub histogram: Option<String>,
}

impl BenchResult {
    pub fn not_run(name: &str, status: Status) -> BenchResult {
        BenchResult {
            name: name.to_string(),
            status,
            micros_per_op: 0.0,
            mb_per_sec: None,
            ops: 0,
            p50_ns: 0,
            p99_ns: 0,
            p999_ns: 0,
            max_ns: 0,
            over_1ms: 0,
            peak_rss_kib: None,
            message: String::new(),
            histogram: None,
        }
    }

    /// A benchmark that is one timed call (a flush, a compaction): every latency is
    /// that call's, MB/s is `bytes` over its time.
    pub fn one_call(
        name: &str,
        elapsed: Duration,
        bytes: f64,
        peak_rss_kib: Option<u64>,
        message: String,
    ) -> BenchResult {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        BenchResult {
            name: name.to_string(),
            status: Status::Ok,
            micros_per_op: elapsed.as_secs_f64() * 1e6,
            mb_per_sec: Some(bytes / 1_048_576.0 / elapsed.as_secs_f64().max(1e-9)),
            ops: 1,
            p50_ns: ns,
            p99_ns: ns,
            p999_ns: ns,
            max_ns: ns,
            over_1ms: u64::from(ns > 1_000_000),
            peak_rss_kib,
            message,
            histogram: None,
        }
    }

    /// LevelDB's line: `fillrandom   :       1.735 micros/op;   63.8 MB/s (msg)`.
    pub fn leveldb_line(&self) -> String {
        match &self.status {
            Status::Skipped(why) => format!("{:<12} : {why}", self.name),
            Status::Failed(why) => format!("{:<12} : {why}", self.name),
            Status::Ok => {
                let mut extra = self
                    .mb_per_sec
                    .map(|r| format!("{r:6.1} MB/s"))
                    .unwrap_or_default();
                if !self.message.is_empty() {
                    if !extra.is_empty() {
                        extra.push(' ');
                    }
                    extra.push_str(&self.message);
                }
                let sep = if extra.is_empty() { "" } else { " " };
                format!(
                    "{:<12} : {:11.3} micros/op;{sep}{extra}",
                    self.name, self.micros_per_op
                )
            }
        }
    }

    /// The line under it: tail latencies, slow operations and peak RSS.
    pub fn detail_line(&self) -> Option<String> {
        if self.status != Status::Ok {
            return None;
        }
        Some(format!(
            "{:<12}   p50 {} · p99 {} · p99.9 {} · max {} · {} ops > 1 ms · peak RSS {}",
            "",
            duration(self.p50_ns),
            duration(self.p99_ns),
            duration(self.p999_ns),
            duration(self.max_ns),
            self.over_1ms,
            rss(self.peak_rss_kib)
        ))
    }

    /// One line, `@@result` and tab-separated fields, for the parent to parse.
    pub fn to_record(&self) -> String {
        let (status, why) = match &self.status {
            Status::Ok => ("ok", ""),
            Status::Skipped(w) => ("skipped", w.as_str()),
            Status::Failed(w) => ("failed", w.as_str()),
        };
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        format!(
            "{RECORD_PREFIX}{}\t{status}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            clean(&self.name),
            clean(why),
            self.micros_per_op,
            self.mb_per_sec.map(|r| r.to_string()).unwrap_or_default(),
            self.ops,
            self.p50_ns,
            self.p99_ns,
            self.p999_ns,
            self.max_ns,
            self.over_1ms,
            self.peak_rss_kib.map(|r| r.to_string()).unwrap_or_default(),
            clean(&self.message),
        )
    }

    /// Parses a line made by [`to_record`](Self::to_record); `None` for any other line.
    pub fn from_record(line: &str) -> Option<BenchResult> {
        let f: Vec<&str> = line.strip_prefix(RECORD_PREFIX)?.split('\t').collect();
        let [name, status, why, micros, mbs, ops, p50, p99, p999, max, over, rss, message] =
            f.as_slice()
        else {
            return None;
        };
        Some(BenchResult {
            name: name.to_string(),
            status: match *status {
                "ok" => Status::Ok,
                "skipped" => Status::Skipped(why.to_string()),
                "failed" => Status::Failed(why.to_string()),
                _ => return None,
            },
            micros_per_op: micros.parse().ok()?,
            mb_per_sec: optional(mbs)?,
            ops: ops.parse().ok()?,
            p50_ns: p50.parse().ok()?,
            p99_ns: p99.parse().ok()?,
            p999_ns: p999.parse().ok()?,
            max_ns: max.parse().ok()?,
            over_1ms: over.parse().ok()?,
            peak_rss_kib: optional(rss)?,
            message: message.to_string(),
            histogram: None,
        })
    }
}

/// An empty field is `None`; `None` overall when the field does not parse.
fn optional<T: std::str::FromStr>(field: &str) -> Option<Option<T>> {
    if field.is_empty() {
        Some(None)
    } else {
        field.parse().ok().map(Some)
    }
}

/// Marks a machine-readable line in a child's output.
pub const RECORD_PREFIX: &str = "@@result\t";

/// Bytes as KiB below 1 MiB, else MiB.
pub fn size(bytes: f64) -> String {
    if bytes < 1_048_576.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{:.2} MiB", bytes / 1_048_576.0)
    }
}

/// Nanoseconds as µs below 1 ms, else ms.
pub fn duration(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{:.1} us", ns as f64 / 1e3)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}

fn rss(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".to_string())
}

/// The side-by-side table of two engines' results: every benchmark either ran, with
/// the ratio siltdb / leveldb (below 1 means siltdb is faster or smaller).
pub fn side_by_side(silt: &[BenchResult], level: &[BenchResult], order: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<12} {:>12} {:>12} {:>7} | {:>10} {:>10} | {:>9} {:>9} | {:>6} {:>6} | {:>8} {:>8} {:>6}",
        "benchmark",
        "siltdb us/op",
        "leveldb",
        "ratio",
        "p99.9 s",
        "p99.9 l",
        "max s",
        "max l",
        ">1ms s",
        ">1ms l",
        "RSS s",
        "RSS l",
        "ratio"
    );
    for (i, name) in order.iter().enumerate() {
        // A benchmark listed twice (LevelDB runs readrandom twice) gets a row per run.
        let nth = order[..i].iter().filter(|n| *n == name).count();
        let pick = |list: &[BenchResult]| list.iter().filter(|r| &r.name == name).nth(nth).cloned();
        let (a, b) = (pick(silt), pick(level));
        let cell = |r: &Option<BenchResult>| match r {
            Some(r) if r.status == Status::Ok => format!("{:.3}", r.micros_per_op),
            Some(r) if matches!(r.status, Status::Skipped(_)) => "skipped".to_string(),
            Some(BenchResult {
                status: Status::Failed(why),
                ..
            }) if why.starts_with("STALLED") => "STALLED".to_string(),
            Some(_) => "FAILED".to_string(),
            None => "-".to_string(),
        };
        let ok = |r: &Option<BenchResult>| r.clone().filter(|r| r.status == Status::Ok);
        let (oa, ob) = (ok(&a), ok(&b));
        let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) if y > 0.0 => format!("{:.2}", x / y),
            _ => "-".to_string(),
        };
        let lat = |r: &Option<BenchResult>, f: fn(&BenchResult) -> u64| {
            r.as_ref()
                .map(|r| duration(f(r)))
                .unwrap_or_else(|| "-".to_string())
        };
        let count = |r: &Option<BenchResult>| {
            r.as_ref()
                .map(|r| r.over_1ms.to_string())
                .unwrap_or_else(|| "-".to_string())
        };
        let mib = |r: &Option<BenchResult>| {
            r.as_ref()
                .and_then(|r| r.peak_rss_kib)
                .map(|k| k as f64 / 1024.0)
        };
        let mib_cell = |m: Option<f64>| {
            m.map(|m| format!("{m:.1}"))
                .unwrap_or_else(|| "-".to_string())
        };
        let _ = writeln!(
            s,
            "{:<12} {:>12} {:>12} {:>7} | {:>10} {:>10} | {:>9} {:>9} | {:>6} {:>6} | {:>8} {:>8} {:>6}",
            name,
            cell(&a),
            cell(&b),
            ratio(oa.as_ref().map(|r| r.micros_per_op), ob.as_ref().map(|r| r.micros_per_op)),
            lat(&oa, |r| r.p999_ns),
            lat(&ob, |r| r.p999_ns),
            lat(&oa, |r| r.max_ns),
            lat(&ob, |r| r.max_ns),
            count(&oa),
            count(&ob),
            mib_cell(mib(&oa)),
            mib_cell(mib(&ob)),
            ratio(mib(&oa), mib(&ob)),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BenchResult {
        BenchResult {
            name: "fillrandom".to_string(),
            status: Status::Ok,
            micros_per_op: 1.735,
            mb_per_sec: Some(63.8),
            ops: 1_000_000,
            p50_ns: 900,
            p99_ns: 3_100,
            p999_ns: 12_000,
            max_ns: 3_900_000,
            over_1ms: 178,
            peak_rss_kib: Some(40_960),
            message: "(1000 ops)".to_string(),
            histogram: None,
        }
    }

    #[test]
    fn line_has_leveldb_db_bench_format() {
        assert_eq!(
            sample().leveldb_line(),
            "fillrandom   :       1.735 micros/op;   63.8 MB/s (1000 ops)"
        );
        let mut r = sample();
        r.mb_per_sec = None;
        r.message.clear();
        assert_eq!(r.leveldb_line(), "fillrandom   :       1.735 micros/op;");
        let detail = sample().detail_line().unwrap_or_default();
        assert!(
            detail.contains("max 3.90 ms · 178 ops > 1 ms · peak RSS 40.0 MiB"),
            "{detail}"
        );
    }

    #[test]
    fn records_round_trip_including_failures() {
        let r = sample();
        assert_eq!(BenchResult::from_record(&r.to_record()), Some(r));
        let mut f = BenchResult::not_run("readseq", Status::Skipped("SKIPPED: no\titer".into()));
        f.peak_rss_kib = None;
        let back = BenchResult::from_record(&f.to_record());
        assert_eq!(
            back.map(|b| b.status),
            Some(Status::Skipped("SKIPPED: no iter".into()))
        );
        assert_eq!(BenchResult::from_record("fillseq : 1.0 micros/op;"), None);
    }

    #[test]
    fn table_gives_ratio_siltdb_over_leveldb() {
        let silt = sample();
        let mut level = sample();
        level.micros_per_op = 3.47;
        level.peak_rss_kib = Some(20_480);
        let t = side_by_side(
            &[silt],
            &[level],
            &["fillrandom".to_string(), "flush".to_string()],
        );
        let row = t.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with("fillrandom"), "{t}");
        assert!(row.contains(" 0.50 "), "{row}");
        assert!(row.ends_with("2.00"), "{row}");
        assert!(t.lines().nth(2).unwrap_or_default().contains(" - "), "{t}");
    }
}
