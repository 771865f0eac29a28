//! One journey of one phone, as a task: wait for its intended start (an idle SIP phone takes
//! calls meanwhile), run the task, and hand the phone, its transport and what was observed
//! back to the shard in a [`JourneyEnd`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::directory::Directory;
use super::stats::Route;
use crate::driver::{Observer, PhoneLink, SipPort, Transport, drive, run_task, serve_idle};
use crate::phone::{
    Cause, HttpFailure, HttpRequest, HttpResponse, Phone, PhoneAction, Step, StepSample, Task,
    TaskKind, TaskOutcome,
};

/// What a journey does: a task from the start, or the rest of one the phone began itself
/// (an incoming call, a restart the cluster asked for).
pub(super) enum Work {
    Start(Task),
    Continue(Vec<PhoneAction>),
}

impl Work {
    async fn run<T: Transport>(
        self,
        kind: TaskKind,
        phone: Phone,
        intended: Instant,
        client: &mut T,
        obs: &mut Trail,
    ) -> (Phone, TaskOutcome) {
        match self {
            Work::Start(task) => run_task(phone, task, intended, client, obs).await,
            Work::Continue(actions) => {
                let (p, o) = drive(phone, actions, client, obs).await;
                // A phone that went idle without ending its task would be a bug: say so.
                (
                    p,
                    o.unwrap_or_else(|| TaskOutcome::failed(kind, Cause::Internal)),
                )
            }
        }
    }
}

/// A call the fleet placed: the callee it chose and where it believed them to be.
#[derive(Debug, Clone)]
pub(super) struct CallPlan {
    pub(super) dn: String,
    pub(super) mac: String,
    pub(super) route: Route,
}

/// A journey's share of the shard's SIP socket: the socket, and the inbox the shard routes
/// this phone's datagrams to.
pub(super) struct SipShare {
    pub(super) socket: Arc<tokio::net::UdpSocket>,
    pub(super) inbox: mpsc::Receiver<Vec<u8>>,
}

/// A logout's number, to take out of the directory when the journey begins.
pub(super) struct Leaving {
    pub(super) dir: Arc<Directory>,
    pub(super) dn: String,
    pub(super) mac: String,
}

/// Everything a journey task needs, moved into it.
pub(super) struct Journey<T> {
    pub(super) slot: usize,
    pub(super) kind: TaskKind,
    pub(super) work: Work,
    pub(super) phone: Phone,
    pub(super) client: T,
    pub(super) intended: Instant,
    pub(super) user: Option<usize>,
    pub(super) call: Option<CallPlan>,
    /// Whether this phone's messages are kept for the dashboard.
    pub(super) traced: bool,
    /// With `[sip]`.
    pub(super) sip: Option<SipShare>,
    pub(super) leaving: Option<Leaving>,
}

/// What a journey hands back to its shard.
pub(super) struct JourneyEnd<T> {
    pub(super) slot: usize,
    pub(super) phone: Phone,
    pub(super) client: T,
    pub(super) outcome: TaskOutcome,
    pub(super) samples: Vec<StepSample>,
    pub(super) user: Option<usize>,
    pub(super) lag: Duration,
    /// The messages, when this phone is the one traced.
    pub(super) lines: Option<Vec<String>>,
    /// For a call: whom it was meant for.
    pub(super) call: Option<CallPlan>,
    /// Tasks the phone ran on its own while waiting to start (answered calls, refreshes).
    pub(super) side: Vec<TaskOutcome>,
    /// Datagrams the phone sent again during the journey.
    pub(super) retransmissions: u64,
}

impl<T: Transport> Journey<T> {
    /// Runs the journey to its end.
    pub(super) async fn run(self) -> JourneyEnd<T> {
        let mut obs = Trail {
            lines: self.traced.then(Vec::new),
            ..Trail::default()
        };
        let (kind, work, phone, intended) = (self.kind, self.work, self.phone, self.intended);
        let retx0 = phone.sip().map_or(0, |u| u.retransmissions());
        let (phone, lag, outcome, client) = match self.sip {
            Some(SipShare { socket, inbox }) => {
                let mut l = PhoneLink {
                    http: self.client,
                    sip: Some(SipPort::Shared { socket, inbox }),
                };
                // Until the journey starts the phone is idle: it takes calls, refreshes.
                // (One due now starts at once: a timer would cost a tick, up to 1 ms,
                // on every answered call.)
                let phone = if intended > Instant::now() {
                    serve_idle(phone, &mut l, &mut obs, tokio::time::sleep_until(intended)).await
                } else {
                    phone
                };
                // A call the phone took ran past the journey's start: the user could not
                // log in or out while on the phone, so the journey is due from the
                // call's end (the server did not delay it: not counted against it).
                let intended = obs.side_end.map_or(intended, |t| t.max(intended));
                let lag = Instant::now().saturating_duration_since(intended);
                if let Some(Leaving { dir, dn, mac }) = &self.leaving {
                    dir.remove(dn, mac);
                }
                let (p, o) = work.run(kind, phone, intended, &mut l, &mut obs).await;
                obs.failed(&o, intended);
                (p, lag, o, l.http)
            }
            None => {
                let mut client = self.client;
                if intended > Instant::now() {
                    tokio::time::sleep_until(intended).await;
                }
                let lag = Instant::now().saturating_duration_since(intended);
                let (p, o) = work.run(kind, phone, intended, &mut client, &mut obs).await;
                obs.failed(&o, intended);
                (p, lag, o, client)
            }
        };
        let mut client = client;
        client.idle();
        let retransmissions = phone
            .sip()
            .map_or(0, |u| u.retransmissions().saturating_sub(retx0));
        JourneyEnd {
            slot: self.slot,
            phone,
            client,
            outcome,
            samples: obs.samples,
            user: self.user,
            lag,
            lines: obs.lines,
            call: self.call,
            side: obs.side,
            retransmissions,
        }
    }
}

/// What a journey leaves behind for the shard: its step samples (at most a handful), the
/// tasks the phone ran on its own, and its messages when the phone is the one traced.
#[derive(Default)]
struct Trail {
    samples: Vec<StepSample>,
    /// The messages, when this phone is the one traced.
    lines: Option<Vec<String>>,
    /// Tasks the phone ran on its own while waiting (answered calls, refreshes, restarts).
    side: Vec<TaskOutcome>,
    /// When the last of those ended.
    side_end: Option<Instant>,
}

impl Trail {
    /// A failed EM journey's time, from its intended start (a failure's latency is what the
    /// user waited for the error).
    fn failed(&mut self, o: &TaskOutcome, intended: Instant) {
        if matches!(o.task, TaskKind::Login | TaskKind::Logout)
            && o.result
                .as_ref()
                .is_err_and(|f| f.cause != Cause::Abandoned && !f.cause.is_busy())
        {
            self.samples.push(StepSample {
                step: Step::FailedJourney,
                start: intended.into_std(),
                end: Instant::now().into_std(),
            });
        }
    }
}

impl Observer for Trail {
    fn sample(&mut self, s: &StepSample) {
        self.samples.push(*s);
    }
    fn side_outcome(&mut self, o: &TaskOutcome) {
        self.side.push(o.clone());
        self.side_end = Some(Instant::now());
    }
    fn sip(&mut self, out: bool, d: &[u8]) {
        if let Some(l) = &mut self.lines {
            let first = d.split(|&b| b == b'\r').next().unwrap_or_default();
            l.push(format!(
                "{} SIP {}",
                if out { "→" } else { "←" },
                String::from_utf8_lossy(first)
            ));
        }
    }
    fn request(&mut self, req: &HttpRequest) {
        if let Some(l) = &mut self.lines {
            l.push(format!("→ {} {}", req.method.as_str(), req.redacted_url()));
        }
    }
    fn response(&mut self, r: &Result<HttpResponse, HttpFailure>, took: Duration) {
        if let Some(l) = &mut self.lines {
            let ms = took.as_secs_f64() * 1000.0;
            l.push(match r {
                Ok(r) => format!("← {} ({} B, {ms:.1} ms)", r.status, r.body.len()),
                Err(e) => format!("← {e} ({ms:.1} ms)"),
            });
        }
    }
}
