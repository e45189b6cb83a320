//! Latency percentiles of one run, and the median and range over runs.

use std::time::Duration;

/// Sub-buckets per power of two: values are kept to within 1/2^7 (0.8%).
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets enough for every `u64` nanosecond value.
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

/// Round-trip times of one run in a log-linear histogram: constant memory
/// and constant time per sample however many millions there are, each
/// value kept to within 0.8% (exact below 256 ns).
#[derive(Debug, Clone)]
pub struct Samples {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Samples {
    fn default() -> Self {
        Samples {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

/// The bucket of a value: exact below `2 * SUB`, then `SUB` buckets per
/// power of two.
fn bucket(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let shift = 63 - v.leading_zeros() - SUB_BITS;
    (shift as u64 * SUB + (v >> shift)) as usize
}

/// The middle of a bucket's range.
fn value_of(b: usize) -> f64 {
    let b = b as u64;
    if b < 2 * SUB {
        return b as f64;
    }
    let shift = b / SUB - 1;
    let mantissa = b - shift * SUB;
    (mantissa << shift) as f64 + ((1u64 << shift) as f64 - 1.0) / 2.0
}

impl Samples {
    /// Record one round trip.
    pub fn push(&mut self, d: Duration) {
        let v = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// Forget everything recorded (the warm-up is over).
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.max = 0;
    }

    /// The distribution, or `None` without samples.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.total == 0 {
            return None;
        }
        // Nearest rank: the smallest value with at least q of all at or below it.
        let at = |q: f64| {
            let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
            let mut seen = 0;
            for (b, &c) in self.counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return value_of(b).min(self.max as f64) / 1e3;
                }
            }
            self.max as f64 / 1e3
        };
        Some(Percentiles {
            count: self.total as usize,
            p50_us: at(0.50),
            p99_us: at(0.99),
            p999_us: at(0.999),
            max_us: self.max as f64 / 1e3,
        })
    }
}

/// A latency distribution, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Samples it was computed from.
    pub count: usize,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

/// Median, minimum and maximum of one figure over repeated runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median (mean of the middle two for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// How many runs.
    pub runs: usize,
}

impl Spread {
    /// The spread of `values`, or `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            runs: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank_within_the_precision() {
        let mut s = Samples::default();
        for us in 1..=1000u64 {
            s.push(Duration::from_micros(us));
        }
        let p = s.percentiles().unwrap();
        let close = |got: f64, want: f64| (got - want).abs() / want < 0.008;
        assert_eq!(p.count, 1000);
        assert!(close(p.p50_us, 500.0), "{p:?}");
        assert!(close(p.p99_us, 990.0), "{p:?}");
        assert!(close(p.p999_us, 999.0), "{p:?}");
        assert_eq!(p.max_us, 1000.0);
        assert!(Samples::default().percentiles().is_none());
    }

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        let mut last = 0;
        for v in (0..5000u64).chain([u64::MAX / 2, u64::MAX]) {
            let b = bucket(v);
            assert!(b >= last && b < BUCKETS, "{v} -> {b}");
            assert!(
                (value_of(b) - v as f64).abs() <= v as f64 / 128.0 + 0.5,
                "{v}"
            );
            last = b;
        }
        assert_eq!(bucket(255), 255);
        assert_eq!(bucket(256), 256);
    }

    #[test]
    fn spread_medians() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.runs), (2.0, 1.0, 3.0, 3));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert!(Spread::of(&[]).is_none());
    }
}
