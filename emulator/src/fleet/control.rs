//! How a running fleet is steered and watched from outside: the [`Control`] channel (pause,
//! arrival-rate factor) and the [`Taps`] that carry it, with one traced phone's messages.

use std::sync::Arc;

use tokio::sync::watch;

/// The fleet's control channel: what the dashboard (or a script holding the sender) asks of a
/// running fleet. Read where work starts, never awaited on, so controlling the fleet cannot
/// slow it down. Pausing starts no journey (in-flight ones finish; skipped arrivals are not
/// counted as dropped); the rate factor scales open-model arrival rates with an exact mean
/// (see [`Control::copies`]) and leaves closed-model phases alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Control {
    /// Start no new work.
    pub paused: bool,
    /// Multiplier of the profile's open-model arrival rates.
    pub rate_factor: f64,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            paused: false,
            rate_factor: 1.0,
        }
    }
}

impl Control {
    /// How many journeys one scheduled arrival starts, given a uniform `u` in [0, 1): above
    /// a factor of 1, `floor(f)` plus one more with probability `frac(f)`; below it, one with
    /// probability `f` (thinning). None while paused.
    pub fn copies(&self, u: f64) -> usize {
        if self.paused || self.rate_factor.is_nan() || self.rate_factor <= 0.0 {
            return 0;
        }
        let f = self.rate_factor.min(1000.0);
        let whole = f.floor();
        whole as usize + usize::from(u < f - whole)
    }
}

/// The last journey's messages of one phone the dashboard watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneTrace {
    /// The device.
    pub device: String,
    /// Requests, responses and the outcome, oldest first (PINs redacted).
    pub lines: Vec<String>,
}

/// How a run is steered and watched from outside (the dashboard; a script can hold the same
/// senders): the [`Control`], which one phone's messages to keep, and where they go.
#[derive(Debug)]
pub struct Taps {
    /// Pause and arrival-rate factor.
    pub control: watch::Receiver<Control>,
    /// The device whose journeys are traced (none: no phone is).
    pub watch_device: watch::Receiver<Option<String>>,
    /// The traced phone's last journey, published when it ends.
    pub trace: watch::Sender<Arc<PhoneTrace>>,
}

impl Taps {
    /// Taps nobody steers or reads.
    pub fn none() -> Self {
        Self {
            control: watch::channel(Control::default()).1,
            watch_device: watch::channel(None).1,
            trace: watch::channel(Arc::default()).0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Control;

    #[test]
    fn copies_keep_the_mean_rate() {
        let n = 10_000;
        let mean = |c: Control| {
            (0..n)
                .map(|i| c.copies((i as f64 + 0.5) / n as f64))
                .sum::<usize>() as f64
                / n as f64
        };
        let c = |paused, rate_factor| Control {
            paused,
            rate_factor,
        };
        assert!((mean(c(false, 1.0)) - 1.0).abs() < 1e-9);
        assert!((mean(c(false, 0.25)) - 0.25).abs() < 1e-3);
        assert!((mean(c(false, 2.5)) - 2.5).abs() < 1e-3);
        assert_eq!(mean(c(true, 2.0)), 0.0);
        assert_eq!(mean(c(false, f64::NAN)), 0.0);
    }
}
