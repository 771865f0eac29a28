//! The scheduler: the boot, then the phases back to back, each arrival sent to a shard at
//! `start + offset`. Open-model pacing is against absolute time: the k-th arrival of a phase
//! whose rate ramps linearly from `from` to `to` over `T` is at the `t` where the cumulative
//! rate `Λ(t) = from·t + (to − from)·t²/(2T)` reaches `k`; a late wake-up never shifts the
//! arrivals after it (no drift, no coordinated omission). [`Arrivals`] and [`Rng`] are pure.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::aggregate::AggMsg;
use super::control::Control;
use super::profile::{Model, Profile, Rate, Think};
use crate::phone::TaskKind;

/// What the scheduler tells a shard.
pub(super) enum ShardCmd {
    /// Boot every phone (config file, REGISTER); answer when all are done.
    Boot(oneshot::Sender<()>),
    /// An open-model arrival (login, logout or call) due at `intended`.
    Arrival { task: TaskKind, intended: Instant },
    /// The `step`-th step of the profile's story, due at `intended`.
    Story { step: usize, intended: Instant },
    /// A closed-model phase: this many phones cycle with `think` until `until`.
    Closed {
        phones: usize,
        think: Think,
        until: Instant,
    },
}

/// Boots the shards' phones before the first phase, as phones do when they power on; returns
/// when every shard has (or on cancellation).
pub(super) async fn boot(
    shards: &[mpsc::Sender<ShardCmd>],
    agg: &mpsc::Sender<AggMsg>,
    token: &CancellationToken,
) {
    let _ = agg.send(AggMsg::Phase("boot".into())).await;
    let mut waits = Vec::new();
    for tx in shards {
        let (done, wait) = oneshot::channel();
        let _ = tx.send(ShardCmd::Boot(done)).await;
        waits.push(wait);
    }
    for w in waits {
        tokio::select! {
            _ = w => {}
            () = token.cancelled() => break,
        }
    }
}

/// Runs the profile's phases back to back from `start`: closed-model phones handed out over
/// the shards, open-model arrivals (logins, logouts, calls merged in time order) sent each at
/// its instant, as many copies as the [`Control`] asks. Returns at the end or on cancellation.
pub(super) async fn phases(
    profile: &Profile,
    start: Instant,
    shards: &[mpsc::Sender<ShardCmd>],
    agg: &mpsc::Sender<AggMsg>,
    control: &watch::Receiver<Control>,
    token: &CancellationToken,
) {
    let mut phase_start = start;
    // One round-robin per kind: a shared counter would alias (3 logins then 1 logout over 8
    // shards sends every logout to the 2 shards that never get a login).
    let mut rr = [0usize; 3];
    // Draws for the rate factor's thinning and extra arrivals (apart from the shards' draws,
    // which the rate factor must not disturb).
    let mut control_rng = Rng::new(profile.seed ^ 0x5eed_c0de);
    for phase in &profile.phases {
        let _ = agg.send(AggMsg::Phase(phase.name.clone())).await;
        let phase_end = phase_start + phase.duration;
        let (login, logout) = match &phase.model {
            Model::Open { login, logout } => (*login, *logout),
            Model::Closed { phones, think } => {
                let per = phones / shards.len();
                let extra = phones % shards.len();
                for (i, tx) in shards.iter().enumerate() {
                    let n = per + usize::from(i < extra);
                    if n > 0 {
                        let _ = tx
                            .send(ShardCmd::Closed {
                                phones: n,
                                think: *think,
                                until: phase_end,
                            })
                            .await;
                    }
                }
                (Rate::ZERO, Rate::ZERO)
            }
        };
        let mut streams = [
            (
                Arrivals::new(login, phase.duration).peekable(),
                TaskKind::Login,
            ),
            (
                Arrivals::new(logout, phase.duration).peekable(),
                TaskKind::Logout,
            ),
            (
                Arrivals::new(phase.calls, phase.duration).peekable(),
                TaskKind::Call,
            ),
        ];
        loop {
            let next = streams
                .iter_mut()
                .enumerate()
                .filter_map(|(k, (a, _))| a.peek().map(|o| (*o, k)))
                .min_by(|x, y| x.0.cmp(&y.0));
            let Some((_, k)) = next else { break };
            let task = streams[k].1;
            let Some(offset) = streams[k].0.next() else {
                break;
            };
            let intended = phase_start + offset;
            tokio::select! {
                () = tokio::time::sleep_until(intended) => {}
                () = token.cancelled() => return,
            }
            let copies = control.borrow().copies(control_rng.unit());
            for _ in 0..copies {
                let tx = &shards[rr[k] % shards.len()];
                rr[k] += 1;
                let _ = tx.send(ShardCmd::Arrival { task, intended }).await;
            }
        }
        tokio::select! {
            () = tokio::time::sleep_until(phase_end) => {}
            () = token.cancelled() => return,
        }
        phase_start = phase_end;
    }
}

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
