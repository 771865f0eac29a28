//! A profile's story (`[[story]]`): scripted steps on named phones and users beside the
//! phases' random load, each told to the shard that holds its phone at its time, and what
//! came of each, for the report. The seed's roaming story in `profiles/demo.toml` is one.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::FaultResult;
use super::profile::{Profile, StoryAction, StoryStep};
use super::schedule::ShardCmd;

/// What came of one step, as the shard saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoryOutcome {
    /// Whether it did what the story says.
    pub ok: bool,
    /// What happened (`logged in`, `answered on SEP…`, or the failure).
    pub detail: String,
}

/// The steps' outcomes so far, by step (`None`: not run, or still running).
pub(super) type StoryLog = Arc<Mutex<Vec<Option<StoryOutcome>>>>;

/// One step in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryResult {
    /// Seconds into the run it was due.
    pub at_s: f64,
    /// What the step does, in words (with its cluster, and whether it roams).
    pub step: String,
    /// What the story says it means (`say`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    /// Whether it did what the story says (`false` also when it never ran).
    pub ok: bool,
    /// What happened.
    pub detail: String,
}

/// The cluster of a profile's device, and the home cluster of a user, by name.
fn cluster_of_device<'a>(profile: &'a Profile, device: &str) -> &'a str {
    profile
        .targets
        .iter()
        .find(|t| t.devices.iter().any(|d| d == device))
        .map_or("?", |t| t.cluster.as_str())
}

fn home_of<'a>(profile: &'a Profile, user: &str) -> &'a str {
    profile
        .targets
        .iter()
        .find(|t| t.users.iter().any(|u| u.id == user))
        .map_or("?", |t| t.cluster.as_str())
}

/// A step in words: `bob logs in on SEP000000002001 (cluster2; roaming, home cluster1)`.
pub fn describe(profile: &Profile, step: &StoryStep) -> String {
    match &step.action {
        StoryAction::Login { user, device } => {
            let (at, home) = (cluster_of_device(profile, device), home_of(profile, user));
            if at == home {
                format!("{user} logs in on {device} ({at}, home)")
            } else {
                format!("{user} logs in on {device} ({at}; roaming, home {home})")
            }
        }
        StoryAction::Logout { device } => format!(
            "logout on {device} ({})",
            cluster_of_device(profile, device)
        ),
        StoryAction::Call { from, to } => format!(
            "{from} ({}) calls {to} where they are now",
            cluster_of_device(profile, from)
        ),
    }
}

/// The report's view of a run's story.
pub(super) fn results(profile: &Profile, log: &StoryLog) -> Vec<StoryResult> {
    let log = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    profile
        .story
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let o = log.get(k).cloned().flatten();
            StoryResult {
                at_s: s.at.as_secs_f64(),
                step: describe(profile, s),
                say: s.say.clone(),
                ok: o.as_ref().is_some_and(|o| o.ok),
                detail: o.map_or_else(|| "did not run".to_owned(), |o| o.detail),
            }
        })
        .collect()
}

/// Tells `shard` each step at `start` + its time, until `token` is cancelled.
pub(super) async fn tell(
    at: Vec<std::time::Duration>,
    start: Instant,
    shard: mpsc::Sender<ShardCmd>,
    token: CancellationToken,
) {
    for (k, when) in at.into_iter().enumerate() {
        let intended = start + when;
        tokio::select! {
            () = tokio::time::sleep_until(intended) => {}
            () = token.cancelled() => return,
        }
        if shard
            .send(ShardCmd::Story { step: k, intended })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The report's lines: each step with ✔ or ✘, the faults fired in between.
pub fn lines(story: &[StoryResult], faults: &[FaultResult]) -> String {
    let mut o = String::new();
    if story.is_empty() {
        return o;
    }
    let ok = story.iter().filter(|s| s.ok).count();
    let _ = writeln!(o, "\nstory: {ok}/{} steps as the profile says", story.len());
    let mut faults = faults.iter().peekable();
    for s in story {
        while let Some(f) = faults.next_if(|f| f.at_s <= s.at_s) {
            let _ = writeln!(o, "  ⚡ {:>6.1} s  {} → {}", f.at_s, f.request, f.result);
        }
        let mark = if s.ok { "✔" } else { "✘" };
        let say = s
            .say
            .as_deref()
            .map(|x| format!("{x}: "))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  {mark} {:>6.1} s  {say}{}: {}",
            s.at_s, s.step, s.detail
        );
    }
    for f in faults {
        let _ = writeln!(o, "  ⚡ {:>6.1} s  {} → {}", f.at_s, f.request, f.result);
    }
    o
}
