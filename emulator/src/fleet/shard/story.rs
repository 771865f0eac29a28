//! The shard's side of a story: a step runs on its named phone (kept from the random load)
//! with its named user, waiting a little for the phone when a call it took is still on, and
//! what came of it goes to the story log.

use std::cmp::Reverse;
use std::time::Duration;

use tokio::time::Instant;

use super::Shard;
use crate::driver::Transport;
use crate::fleet::journey::Work;
use crate::fleet::profile::StoryAction;
use crate::fleet::stats::CallResult;
use crate::fleet::story::StoryOutcome;
use crate::phone::{Phone, Task, TaskKind, TaskOutcome};

/// How long a step waits for its phone (busy with a call it took, a refresh) before it
/// counts as failed.
const WAIT_FOR_PHONE: Duration = Duration::from_secs(5);

/// How often a waiting step looks again.
const LOOK_AGAIN: Duration = Duration::from_millis(100);

/// How long a story's call is held once answered.
const STORY_HOLD: Duration = Duration::from_secs(1);

impl<T: Transport + 'static> Shard<T> {
    fn story_log(&self, step: usize, ok: bool, detail: String) {
        let mut log = self
            .shared
            .story
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = log.get_mut(step) {
            *s = Some(StoryOutcome { ok, detail });
        }
    }

    /// Runs the `k`-th step, due at `intended`, on its phone.
    pub(super) fn story_step(&mut self, k: usize, intended: Instant) {
        let Some(step) = self.story.get(k).cloned() else {
            return;
        };
        let Some(i) = self
            .slots
            .iter()
            .position(|s| s.story.as_deref() == Some(step.device()))
        else {
            return self.story_log(k, false, "its phone is not in this shard".into());
        };
        if self.slots[i].unknown {
            return self.story_log(k, false, "its phone's state was lost".into());
        }
        if self.slots[i].phone.is_none() {
            if intended.elapsed() < WAIT_FOR_PHONE {
                self.story_wait
                    .push(Reverse((Instant::now() + LOOK_AGAIN, k, intended)));
            } else {
                self.story_log(k, false, "its phone stayed busy".into());
            }
            return;
        }
        let user = |id: &str| self.users.iter().position(|u| u.spec.id == id);
        let started = match &step.action {
            StoryAction::Login { user: id, .. } => {
                let Some(u) = user(id) else {
                    return self.story_log(k, false, format!("{id} is not in this shard"));
                };
                if self.logged_in(i) {
                    return self.story_log(k, false, "someone is logged in on it".into());
                }
                self.users[u].busy = true;
                let task = Task::Login(self.credentials(u));
                self.spawn(
                    i,
                    TaskKind::Login,
                    Work::Start(task),
                    intended,
                    Some(u),
                    None,
                )
            }
            StoryAction::Logout { .. } => {
                let u = self.slots[i].user;
                self.spawn(
                    i,
                    TaskKind::Logout,
                    Work::Start(Task::Logout),
                    intended,
                    u,
                    None,
                )
            }
            StoryAction::Call { to, .. } => {
                let Some(dn) = user(to).and_then(|u| self.users[u].spec.dn.clone()) else {
                    return self.story_log(k, false, format!("{to} has no number"));
                };
                let Some((cluster, mac)) = self.shared.dir.locate(&dn) else {
                    return self.story_log(
                        k,
                        false,
                        format!("{to} is not logged in on any phone the fleet knows"),
                    );
                };
                self.place_call(i, dn, cluster, mac, STORY_HOLD, intended)
            }
        };
        if started {
            self.story_running.insert(i, k);
        } else {
            self.story_log(k, false, "its phone could not start".into());
        }
    }

    /// Steps waiting for their phone look again.
    pub(super) fn story_wait_due(&mut self, now: Instant) {
        while let Some(Reverse((at, k, intended))) = self.story_wait.peek().copied() {
            if at > now {
                break;
            }
            self.story_wait.pop();
            self.story_step(k, intended);
        }
    }

    /// A story step's journey ended on `phone`: what came of it.
    pub(super) fn story_done(
        &self,
        k: usize,
        phone: &Phone,
        outcome: &TaskOutcome,
        call: Option<&CallResult>,
    ) {
        let (ok, detail) = match (&outcome.result, call) {
            (_, Some(CallResult::Ok { verified: true })) => {
                let by = phone
                    .sip()
                    .and_then(|u| u.last_answered_by())
                    .map(|m| format!("SEP{}", m.to_ascii_uppercase()))
                    .unwrap_or_default();
                (
                    true,
                    format!("answered on {by}, where the fleet placed them"),
                )
            }
            (_, Some(CallResult::Ok { verified: false })) => {
                (false, "answered, but by whom is not known".to_owned())
            }
            (_, Some(CallResult::Misrouted)) => (false, "answered by the wrong phone".to_owned()),
            (_, Some(CallResult::Status(code))) => (false, format!("not answered: SIP {code}")),
            (_, Some(CallResult::Timeout)) => (false, "not answered in time".to_owned()),
            (_, Some(CallResult::Other(why))) => (false, format!("not answered: {why}")),
            (Ok(_), None) => (
                true,
                match outcome.task {
                    TaskKind::Login => "logged in".to_owned(),
                    TaskKind::Logout => "logged out".to_owned(),
                    t => format!("{t:?} done"),
                },
            ),
            (Err(f), None) => (false, format!("{} ({})", f.shown, f.cause.key())),
        };
        self.story_log(k, ok, detail);
    }
}
