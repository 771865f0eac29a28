//! Open-model pacing against absolute time: the k-th arrival of a phase whose rate ramps
//! linearly from `from` to `to` over `T` is at the `t` where the cumulative rate
//! `Λ(t) = from·t + (to − from)·t²/(2T)` reaches `k`. Offsets are from the phase's start;
//! the scheduler adds them to one absolute start instant, so a late wake-up never shifts
//! the arrivals after it (no drift, no coordinated omission).
//!
//! Pure.

use std::time::Duration;

use super::profile::Rate;

/// The arrival offsets of one rate over one phase, in order.
#[derive(Debug, Clone)]
pub struct Arrivals {
    rate: Rate,
    len: f64,
    k: u64,
}

impl Arrivals {
    /// Arrivals of `rate` over a phase lasting `len`.
    pub fn new(rate: Rate, len: Duration) -> Self {
        Self {
            rate,
            len: len.as_secs_f64(),
            k: 0,
        }
    }

    /// When `Λ(t) = k`, or `None` when that is past the phase's end.
    fn time_of(&self, k: f64) -> Option<f64> {
        let (a, b, t) = (self.rate.from, self.rate.to, self.len);
        if t <= 0.0 {
            return None;
        }
        let c = (b - a) / (2.0 * t);
        let x = if c.abs() < 1e-12 {
            if a <= 0.0 {
                return None;
            }
            k / a
        } else {
            let disc = a * a + 4.0 * c * k;
            if disc < 0.0 {
                return None;
            }
            (-a + disc.sqrt()) / (2.0 * c)
        };
        (x.is_finite() && x >= 0.0 && x < t).then_some(x)
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.k += 1;
        self.time_of(self.k as f64).map(Duration::from_secs_f64)
    }
}

/// A tiny deterministic PRNG (SplitMix64) for think times and picks; one per shard.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let a: Vec<Duration> = Arrivals::new(
            Rate {
                from: 10.0,
                to: 10.0,
            },
            Duration::from_secs(1),
        )
        .collect();
        assert_eq!(a.len(), 9, "the 10th falls on the end");
        assert!((a[0].as_secs_f64() - 0.1).abs() < 1e-9);
        assert!((a[8].as_secs_f64() - 0.9).abs() < 1e-9);
    }

    #[test]
    fn ramp_totals_the_area_and_accelerates() {
        // 0 → 20/s over 10 s: area 100.
        let a: Vec<Duration> = Arrivals::new(
            Rate {
                from: 0.0,
                to: 20.0,
            },
            Duration::from_secs(10),
        )
        .collect();
        assert_eq!(a.len(), 99);
        let first_gap = a[1] - a[0];
        let last_gap = a[98] - a[97];
        assert!(first_gap > last_gap * 3);
        // 20 → 0: same count, decelerating.
        let d: Vec<Duration> = Arrivals::new(
            Rate {
                from: 20.0,
                to: 0.0,
            },
            Duration::from_secs(10),
        )
        .collect();
        assert!((99..=100).contains(&d.len()));
        assert!(d.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            Arrivals::new(Rate::ZERO, Duration::from_secs(10)).count(),
            0
        );
    }

    #[test]
    fn rng_is_uniform_enough() {
        let mut r = Rng::new(7);
        let mean: f64 = (0..10_000).map(|_| r.unit()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02);
        assert_eq!(Rng::new(1).next_u64(), Rng::new(1).next_u64());
    }
}
