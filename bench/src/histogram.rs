//! Per-operation latencies in nanoseconds, in log-linear buckets (128 per power of two,
//! under 1% error) of fixed size, so recording costs no allocation and the same few KiB
//! for both engines. Exact count, sum, min and max are kept beside the buckets.

use std::fmt::Write as _;

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Values below `SUB` get a bucket each; every power of two above gets `SUB`.
const BUCKETS: usize = (SUB as usize) * (64 - SUB_BITS as usize + 1);

#[derive(Clone)]
pub struct Histogram {
    buckets: Box<[u64]>,
    count: u64,
    sum: u128,
    sum_squares: f64,
    min: u64,
    max: u64,
    over_1ms: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            sum: 0,
            sum_squares: 0.0,
            min: u64::MAX,
            max: 0,
            over_1ms: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = exp - SUB_BITS;
    ((exp - SUB_BITS + 1) as usize) * SUB as usize + ((v >> shift) - SUB) as usize
}

/// The range `[low, high)` of values that land in bucket `i`.
fn bucket_range(i: usize) -> (u64, u64) {
    if i < SUB as usize {
        return (i as u64, i as u64 + 1);
    }
    let shift = (i / SUB as usize - 1) as u32;
    let off = (i % SUB as usize) as u64;
    ((SUB + off) << shift, (SUB + off + 1) << shift)
}

impl Histogram {
    pub fn add(&mut self, nanos: u64) {
        self.buckets[bucket_of(nanos)] += 1;
        self.count += 1;
        self.sum += u128::from(nanos);
        self.sum_squares += (nanos as f64) * (nanos as f64);
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
        if nanos > 1_000_000 {
            self.over_1ms += 1;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.sum_squares += other.sum_squares;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.over_1ms += other.over_1ms;
    }

    pub fn max_nanos(&self) -> u64 {
        self.max
    }

    /// Operations that took more than 1 ms.
    pub fn over_1ms(&self) -> u64 {
        self.over_1ms
    }

    /// The `p`-th percentile (0..=100) in nanoseconds: the middle of the bucket holding
    /// it, clamped to the observed min and max. 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, high) = bucket_range(i);
                return (low + high.saturating_sub(low) / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// LevelDB's histogram text (microseconds, its bucket limits), for `--histogram=1`.
    pub fn to_leveldb_string(&self) -> String {
        let us = |ns: f64| ns / 1000.0;
        let mut s = String::new();
        if self.count == 0 {
            return "Count: 0\n".to_string();
        }
        let mean = self.sum as f64 / self.count as f64;
        let var = (self.sum_squares / self.count as f64 - mean * mean).max(0.0);
        let _ = writeln!(
            s,
            "Count: {}  Average: {:.4}  StdDev: {:.2}",
            self.count,
            us(mean),
            us(var.sqrt())
        );
        let _ = writeln!(
            s,
            "Min: {:.4}  Median: {:.4}  Max: {:.4}",
            us(self.min as f64),
            us(self.percentile(50.0) as f64),
            us(self.max as f64)
        );
        s.push_str("------------------------------------------------------\n");
        let limits = leveldb_limits_micros();
        let mut rows = vec![0u64; limits.len()];
        for (i, &n) in self.buckets.iter().enumerate().filter(|(_, &n)| n > 0) {
            let (low, high) = bucket_range(i);
            let mid_us = (low as f64 + high as f64) / 2000.0;
            let row = limits
                .partition_point(|&l| l <= mid_us)
                .min(limits.len() - 1);
            rows[row] += n;
        }
        let mut cumulative = 0;
        for (row, &n) in rows.iter().enumerate().filter(|(_, &n)| n > 0) {
            cumulative += n;
            let left = if row == 0 { 0.0 } else { limits[row - 1] };
            let pct = 100.0 * n as f64 / self.count as f64;
            let cum = 100.0 * cumulative as f64 / self.count as f64;
            let marks = "#".repeat((20.0 * n as f64 / self.count as f64).round() as usize);
            let _ = writeln!(
                s,
                "[ {:7.0}, {:7.0} ) {:7} {:7.3}% {:7.3}% {}",
                left, limits[row], n, pct, cum, marks
            );
        }
        s
    }
}

/// LevelDB's bucket limits in microseconds: 1..10, then 12,14,16,18,20,25,...,90,100 per
/// decade.
fn leveldb_limits_micros() -> Vec<f64> {
    let mut limits: Vec<f64> = (1..=10).map(f64::from).collect();
    let steps = [
        1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0,
    ];
    let mut decade = 10.0;
    while decade < 1e12 {
        limits.extend(steps.iter().map(|s| s * decade));
        decade *= 10.0;
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_contains_it() {
        for v in [
            0,
            1,
            127,
            128,
            129,
            255,
            256,
            1000,
            123_456_789,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let (low, high) = bucket_range(bucket_of(v));
            assert!(low <= v && (v < high || high == 0), "{v}: [{low}, {high})");
        }
        assert!(bucket_of(u64::MAX) < BUCKETS);
    }

    #[test]
    fn percentiles_are_within_one_percent() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.add(v * 100); // 100 ns .. 10 ms
        }
        for (p, want) in [
            (50.0, 5_000_000.0),
            (99.0, 9_900_000.0),
            (99.9, 9_990_000.0),
        ] {
            let got = h.percentile(p) as f64;
            assert!((got - want).abs() / want < 0.01, "p{p}: {got} vs {want}");
        }
        assert_eq!(h.max_nanos(), 10_000_000);
        assert_eq!(h.over_1ms(), 90_000);
    }

    #[test]
    fn merge_adds_counts_and_keeps_extremes() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.add(10);
        b.add(2_000_000);
        a.merge(&b);
        assert_eq!(a.over_1ms(), 1);
        assert_eq!(a.percentile(0.0), 10);
        assert_eq!(a.percentile(100.0), 2_000_000);
        assert!(a
            .to_leveldb_string()
            .starts_with("Count: 2  Average: 1000.0050"));
    }
}
