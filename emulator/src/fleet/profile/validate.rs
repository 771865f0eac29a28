//! Checking a [`RawProfile`] and building the [`Profile`]: each part in its own function,
//! every error at the line of the table it is about.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use emroam_schema::topology::ClusterSpec;
use emroam_schema::{LoginType, Topology};

use super::raw::{RawFault, RawPhase, RawProfile, RawRate, RawSip, RawSlo, RawThink};
use super::types::{
    CalleeMix, Fault, FoundLoggedIn, Model, Phase, Profile, ProfileError, Rate, SipSpec, Slo,
    StoryAction, StoryStep, Target, Think,
};
use crate::phone::Step;
use crate::phone::sipua::{AnswerPolicy, CALL_WAIT};

/// Checks one profile's text, naming its file and lines in errors.
pub(super) struct Validator<'a> {
    src: &'a str,
    file: &'a str,
}

impl<'a> Validator<'a> {
    /// A validator of `src`, the text of `file`.
    pub(super) fn new(src: &'a str, file: &'a str) -> Self {
        Self { src, file }
    }
}

impl Validator<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        emroam_schema::place::position(self.src, offset)
    }

    /// An error at a byte offset; `usize::MAX` for the file as a whole.
    pub(super) fn err(&self, offset: usize, message: impl Into<String>) -> ProfileError {
        let (line, column) = if offset == usize::MAX {
            (0, 0)
        } else {
            self.position(offset)
        };
        ProfileError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A duration in the shared grammar (`emroam_schema::duration`: a unit is required).
    fn dur(&self, at: usize, what: &str, s: &str) -> Result<Duration, ProfileError> {
        emroam_schema::duration::parse(s).map_err(|e| self.err(at, format!("{what}: {e}")))
    }

    fn rate(&self, at: usize, what: &str, r: Option<&RawRate>) -> Result<Rate, ProfileError> {
        let rate = match r {
            None => Rate::ZERO,
            Some(RawRate::Const(x)) => Rate { from: *x, to: *x },
            Some(RawRate::Ramp([a, b])) => Rate { from: *a, to: *b },
        };
        if !(rate.from.is_finite() && rate.to.is_finite()) || rate.from < 0.0 || rate.to < 0.0 {
            return Err(self.err(at, format!("{what} must be ≥ 0 per second")));
        }
        if rate.from > 100_000.0 || rate.to > 100_000.0 {
            return Err(self.err(at, format!("{what} over 100000/s is not a phone fleet")));
        }
        Ok(rate)
    }

    /// The whole profile; `dir` resolves a relative `topology`, which `topology` (when given)
    /// stands in for.
    pub(super) fn build(
        &self,
        raw: RawProfile,
        dir: Option<&Path>,
        topology: Option<&Topology>,
    ) -> Result<Profile, ProfileError> {
        let (targets, clusters) = self.targets(&raw, dir, topology)?;
        let mix = self.mix(raw.mix.as_ref())?;
        let phases = self.phases(&raw, &targets)?;
        let (request_timeout, drain) = self.timeouts(&raw)?;
        let mut faults = Vec::new();
        for f in &raw.fault {
            faults.push(self.fault(f, &targets)?);
        }
        let slo = match &raw.slo {
            None => Slo::default(),
            Some(s) => self.slo(s)?,
        };
        let story = self.story(&raw, &targets, &phases)?;
        Ok(Profile {
            story,
            name: raw.name.unwrap_or_else(|| self.file.to_owned()),
            phases,
            targets,
            mix,
            request_timeout,
            drain,
            seed: raw.seed.unwrap_or(1),
            roaming: match &raw.roaming {
                None => 0.0,
                Some(r) if (0.0..=1.0).contains(r.get_ref()) => *r.get_ref(),
                Some(r) => return Err(self.err(r.span().start, "roaming is a share within 0..=1")),
            },
            faults,
            slo,
            clusters,
            stop_when_unreachable: match &raw.stop_when_unreachable {
                None => Some(Duration::from_secs(10)),
                Some(s) if s.get_ref() == "off" => None,
                Some(s) => Some(
                    emroam_schema::duration::parse_positive(s.get_ref()).map_err(|e| {
                        self.err(
                            s.span().start,
                            format!("stop_when_unreachable: {e} (or \"off\")"),
                        )
                    })?,
                ),
            },
            found_logged_in: match &raw.found_logged_in {
                None => FoundLoggedIn::default(),
                Some(f) => FoundLoggedIn::parse(f.get_ref()).ok_or_else(|| {
                    self.err(
                        f.span().start,
                        format!(
                            "found_logged_in: `{}` is not one of {}",
                            f.get_ref(),
                            FoundLoggedIn::NAMES
                        ),
                    )
                })?,
            },
            boot: match (&raw.boot, &raw.sip) {
                (Some(b), Some(_)) if !*b.get_ref() => {
                    return Err(self.err(
                        b.span().start,
                        "boot = false with [sip]: SIP phones boot to register their lines",
                    ));
                }
                (Some(b), _) => *b.get_ref(),
                (None, sip) => sip.is_some(),
            },
            sip: match &raw.sip {
                None => None,
                Some(s) => Some(self.sip(s)?),
            },
        })
    }

    /// The phones and users: from a `topology` (and `[population]`) or from `[[target]]`
    /// tables, never both; no device twice. Also the topology used, if any.
    fn targets(
        &self,
        raw: &RawProfile,
        dir: Option<&Path>,
        topology: Option<&Topology>,
    ) -> Result<(Vec<Target>, Vec<ClusterSpec>), ProfileError> {
        let mut targets = Vec::new();
        let mut clusters = Vec::new();
        match (&raw.topology, raw.target.is_empty()) {
            (Some(t), false) => {
                return Err(self.err(
                    t.span().start,
                    "give either `topology` or [[target]], not both",
                ));
            }
            (None, true) => {
                return Err(self.err(
                    usize::MAX,
                    "no `topology` and no [[target]]: which phones and users to drive?",
                ));
            }
            (Some(t), true) => {
                let at = t.span().start;
                let loaded;
                let topo = match topology {
                    Some(topo) => topo,
                    None => {
                        let path =
                            dir.map_or_else(|| PathBuf::from(t.get_ref()), |d| d.join(t.get_ref()));
                        // The error names the topology file itself. The fleet shows no
                        // profile, so the generated ones are not built.
                        loaded = Topology::load_without_generated_profiles(&path)
                            .map_err(|e| self.err(at, format!("topology {e}")))?;
                        &loaded
                    }
                };
                targets = self.topology_targets(topo, raw.population.as_ref())?;
                clusters.clone_from(&topo.clusters);
            }
            (None, false) => {
                if let Some(p) = &raw.population {
                    return Err(self.err(p.span().start, "[population] selects from a `topology`"));
                }
                for t in &raw.target {
                    targets.push(self.target(t)?);
                }
            }
        }
        let mut seen = HashSet::new();
        for (t, raw_t) in targets.iter().zip(&raw.target) {
            for d in &t.devices {
                if !seen.insert(d.clone()) {
                    return Err(self.err(raw_t.span().start, format!("device {d} listed twice")));
                }
            }
        }
        Ok((targets, clusters))
    }

    /// The login-type weights of `[mix]` (default: UID only).
    fn mix(
        &self,
        mix: Option<&Spanned<BTreeMap<String, u32>>>,
    ) -> Result<Vec<(LoginType, u32)>, ProfileError> {
        let Some(m) = mix else {
            return Ok(vec![(LoginType::Uid, 1)]);
        };
        let mut out = Vec::new();
        for (k, w) in m.get_ref() {
            let Some(lt) = LoginType::parse(k) else {
                return Err(self.err(
                    m.span().start,
                    format!("[mix]: unknown login type `{k}` (uid, dn, sp)"),
                ));
            };
            out.push((lt, *w));
        }
        if out.iter().all(|(_, w)| *w == 0) {
            return Err(self.err(m.span().start, "[mix]: the weights add up to 0"));
        }
        Ok(out)
    }

    /// The `[[phase]]`s, at least one; closed phases use at most the targets' phones.
    fn phases(&self, raw: &RawProfile, targets: &[Target]) -> Result<Vec<Phase>, ProfileError> {
        if raw.phase.is_empty() {
            return Err(self.err(usize::MAX, "no [[phase]]: nothing to run"));
        }
        let phones_total: usize = targets.iter().map(|t| t.devices.len()).sum();
        let mut phases = Vec::new();
        for (i, p) in raw.phase.iter().enumerate() {
            phases.push(self.phase(i, p, phones_total, raw.sip.is_some())?);
        }
        Ok(phases)
    }

    /// The `i`-th phase: open (rates) or closed (phones and think time), with calls only
    /// where phones have SIP.
    fn phase(
        &self,
        i: usize,
        p: &Spanned<RawPhase>,
        phones_total: usize,
        sip: bool,
    ) -> Result<Phase, ProfileError> {
        let at = p.span().start;
        let r = p.get_ref();
        let name = r.name.clone().unwrap_or_else(|| format!("phase{}", i + 1));
        let duration = self.dur(at, &format!("phase `{name}` duration"), &r.duration)?;
        if duration.is_zero() {
            return Err(self.err(at, format!("phase `{name}`: duration must be > 0")));
        }
        let open = r.login_rate.is_some()
            || r.logout_rate.is_some()
            || (r.call_rate.is_some() && r.phones.is_none());
        let model = match (open, r.phones) {
            (true, Some(_)) => {
                return Err(self.err(
                    at,
                    format!(
                        "phase `{name}`: either rates (open model) or phones (closed), not both"
                    ),
                ));
            }
            (false, None) => {
                return Err(self.err(
                    at,
                    format!(
                        "phase `{name}`: give login_rate/logout_rate (open) or phones (closed)"
                    ),
                ));
            }
            (true, None) => {
                if r.think.is_some() {
                    return Err(self.err(at, format!("phase `{name}`: think is for closed phases")));
                }
                Model::Open {
                    login: self.rate(at, "login_rate", r.login_rate.as_ref())?,
                    logout: self.rate(at, "logout_rate", r.logout_rate.as_ref())?,
                }
            }
            (false, Some(n)) => {
                if n == 0 || n > phones_total {
                    return Err(self.err(
                        at,
                        format!(
                            "phase `{name}`: phones must be 1..={phones_total} (the targets' devices)"
                        ),
                    ));
                }
                let think = match &r.think {
                    None => Think::Constant(Duration::ZERO),
                    Some(t) => self.think(at, t)?,
                };
                Model::Closed { phones: n, think }
            }
        };
        let calls = self.rate(at, "call_rate", r.call_rate.as_ref())?;
        if !calls.is_zero() && !sip {
            return Err(self.err(
                at,
                format!("phase `{name}`: call_rate needs a [sip] table (phones must register)"),
            ));
        }
        Ok(Phase {
            name,
            duration,
            model,
            calls,
        })
    }

    /// `request_timeout` (> 0) and `drain`, 10 s each by default.
    fn timeouts(&self, raw: &RawProfile) -> Result<(Duration, Duration), ProfileError> {
        let request_timeout = match &raw.request_timeout {
            Some(s) => self.dur(s.span().start, "request_timeout", s.get_ref())?,
            None => Duration::from_secs(10),
        };
        if request_timeout.is_zero() {
            return Err(self.err(usize::MAX, "request_timeout must be > 0"));
        }
        let drain = match &raw.drain {
            Some(s) => self.dur(s.span().start, "drain", s.get_ref())?,
            None => Duration::from_secs(10),
        };
        Ok((request_timeout, drain))
    }

    fn sip(&self, s: &Spanned<RawSip>) -> Result<SipSpec, ProfileError> {
        let at = s.span().start;
        let r = s.get_ref();
        let bind = match &r.bind {
            None => std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            Some(b) => b.parse().map_err(|_| {
                self.err(
                    at,
                    format!("sip.bind: `{b}` is not IP:port (127.0.0.1:0, say)"),
                )
            })?,
        };
        if bind.ip().is_unspecified() {
            return Err(self.err(
                at,
                format!(
                    "sip.bind: {bind} is every address; give the one the clusters reach this \
                     machine at (it becomes the phones' Contact)"
                ),
            ));
        }
        let ring = match &r.ring {
            None => Duration::ZERO,
            Some(d) => self.dur(at, "sip.ring", d)?,
        };
        if ring > CALL_WAIT {
            return Err(self.err(
                at,
                format!(
                    "sip.ring: callers give up after {} s; ring for less",
                    CALL_WAIT.as_secs()
                ),
            ));
        }
        let busy = r.busy.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&busy) {
            return Err(self.err(at, "sip.busy is a share within 0..=1"));
        }
        let hold = match &r.hold {
            None => Think::Constant(Duration::from_secs(1)),
            Some(t) => self.think(at, t)?,
        };
        let mut callee = CalleeMix {
            same_cluster: 1,
            other_cluster: 1,
            roamed: 0,
        };
        if let Some(m) = &r.callee {
            callee = CalleeMix {
                same_cluster: 0,
                other_cluster: 0,
                roamed: 0,
            };
            for (k, w) in m {
                match k.as_str() {
                    "same_cluster" => callee.same_cluster = *w,
                    "other_cluster" => callee.other_cluster = *w,
                    "roamed" => callee.roamed = *w,
                    other => {
                        return Err(self.err(
                            at,
                            format!(
                                "sip.callee: unknown kind `{other}` (same_cluster, other_cluster, roamed)"
                            ),
                        ));
                    }
                }
            }
            if callee.same_cluster + callee.other_cluster + callee.roamed == 0 {
                return Err(self.err(at, "sip.callee: the weights add up to 0"));
            }
        }
        Ok(SipSpec {
            bind,
            answer: AnswerPolicy {
                ring,
                auto_answer: r.auto_answer.unwrap_or(true),
                busy_share: busy,
            },
            hold,
            callee,
        })
    }

    fn think(&self, at: usize, t: &RawThink) -> Result<Think, ProfileError> {
        let need = |v: &Option<String>, k: &str| {
            v.as_deref()
                .ok_or_else(|| self.err(at, format!("think: `{}` needs `{k}`", t.dist)))
                .and_then(|s| self.dur(at, &format!("think.{k}"), s))
        };
        Ok(match t.dist.as_str() {
            "constant" => Think::Constant(need(&t.value, "value")?),
            "uniform" => {
                let (a, b) = (need(&t.min, "min")?, need(&t.max, "max")?);
                if a > b {
                    return Err(self.err(at, "think: uniform min > max"));
                }
                Think::Uniform(a, b)
            }
            "exponential" => Think::Exponential(need(&t.mean, "mean")?),
            other => {
                return Err(self.err(
                    at,
                    format!("think: unknown dist `{other}` (constant, uniform, exponential)"),
                ));
            }
        })
    }

    fn fault(&self, f: &Spanned<RawFault>, targets: &[Target]) -> Result<Fault, ProfileError> {
        let at = f.span().start;
        let r = f.get_ref();
        let when = self.dur(at, "fault.at", &r.at)?;
        let method = r
            .method
            .clone()
            .unwrap_or_else(|| "POST".into())
            .to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "POST") {
            return Err(self.err(at, format!("fault: method `{method}` (GET or POST)")));
        }
        let target = match &r.cluster {
            Some(c) => targets
                .iter()
                .find(|t| &t.cluster == c)
                .ok_or_else(|| self.err(at, format!("fault: no target for cluster `{c}`")))?,
            None => &targets[0],
        };
        let admin = || {
            target
                .admin_url
                .as_deref()
                .map(|b| b.trim_end_matches('/').to_owned())
                .ok_or_else(|| {
                    self.err(
                        at,
                        format!("fault: target `{}` has no admin_url", target.cluster),
                    )
                })
        };
        // The reference server's admin API, by name (`emroam server`'s `/admin/...`).
        let action_path = match r.action.as_deref() {
            None => None,
            Some(a) => Some(match a {
                "emapp-stop" | "emapp-start" | "emservice-stop" | "emservice-start"
                | "listeners-stop" | "listeners-start" => {
                    let (what, verb) = a.split_once('-').expect("matched with a dash");
                    format!("/admin/clusters/{}/{what}/{verb}", target.cluster)
                }
                "params" => format!("/admin/clusters/{}/params", target.cluster),
                other => {
                    return Err(self.err(
                        at,
                        format!(
                            "fault: unknown action `{other}` (emapp-stop, emapp-start, \
                             emservice-stop, emservice-start, listeners-stop, \
                             listeners-start, params)"
                        ),
                    ));
                }
            }),
        };
        let url = match (&r.url, r.path.clone(), action_path) {
            (Some(u), None, None) => u.clone(),
            (None, Some(p), None) | (None, None, Some(p)) => format!("{}{p}", admin()?),
            _ => return Err(self.err(at, "fault: give one of action, path or url")),
        };
        if !url.starts_with("http://") {
            return Err(self.err(at, "fault: url must be http://"));
        }
        Ok(Fault {
            at: when,
            method,
            url,
            body: r.body.clone().unwrap_or_default(),
        })
    }

    /// `[[story]]`: each step one of `login`, `logout` or `call`, on the profile's phones and
    /// users, within the phases; calls need `[sip]`. In time order.
    fn story(
        &self,
        raw: &RawProfile,
        targets: &[Target],
        phases: &[Phase],
    ) -> Result<Vec<StoryStep>, ProfileError> {
        let length: Duration = phases.iter().map(|p| p.duration).sum();
        let device = |at: usize, d: &str| {
            if targets.iter().any(|t| t.devices.iter().any(|x| x == d)) {
                Ok(d.to_owned())
            } else {
                Err(self.err(at, format!("story: {d} is not one of the profile's phones")))
            }
        };
        let user = |at: usize, u: &str| {
            if targets.iter().any(|t| t.users.iter().any(|x| x.id == u)) {
                Ok(u.to_owned())
            } else {
                Err(self.err(at, format!("story: {u} is not one of the profile's users")))
            }
        };
        let mut out = Vec::new();
        for s in &raw.story {
            let at = s.span().start;
            let r = s.get_ref();
            let when = self.dur(at, "story.at", &r.at)?;
            if when >= length {
                return Err(self.err(
                    at,
                    format!(
                        "story: at {} is not within the phases ({} in all)",
                        r.at,
                        emroam_schema::duration::format(length)
                    ),
                ));
            }
            let action = match (&r.login, &r.logout, &r.call) {
                (Some(l), None, None) => StoryAction::Login {
                    user: user(at, &l.user)?,
                    device: device(at, &l.device)?,
                },
                (None, Some(d), None) => StoryAction::Logout {
                    device: device(at, d)?,
                },
                (None, None, Some(c)) => {
                    if raw.sip.is_none() {
                        return Err(self.err(at, "story: a call needs [sip]"));
                    }
                    StoryAction::Call {
                        from: device(at, &c.from)?,
                        to: user(at, &c.to)?,
                    }
                }
                _ => {
                    return Err(self.err(at, "story: give one of login, logout or call per step"));
                }
            };
            out.push(StoryStep {
                at: when,
                action,
                say: r.say.clone(),
            });
        }
        out.sort_by_key(|s| s.at);
        Ok(out)
    }

    fn slo(&self, s: &Spanned<RawSlo>) -> Result<Slo, ProfileError> {
        let at = s.span().start;
        let r = s.get_ref();
        for (k, v) in [
            ("success_ratio", r.success_ratio),
            ("busy_ratio", r.busy_ratio),
            ("call_success_ratio", r.call_success_ratio),
            ("call_busy_ratio", r.call_busy_ratio),
            ("dropped_ratio", r.dropped_ratio),
            ("achieved_rate", r.achieved_rate),
        ] {
            if let Some(v) = v
                && !(0.0..=1.0).contains(&v)
            {
                return Err(self.err(at, format!("slo.{k} must be within 0..=1")));
            }
        }
        let mut p99 = BTreeMap::new();
        for (k, v) in &r.p99 {
            let step = Step::from_name(k).ok_or_else(|| {
                let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
                self.err(
                    at,
                    format!("slo.p99: unknown step `{k}` ({})", names.join(", ")),
                )
            })?;
            p99.insert(step, self.dur(at, &format!("slo.p99.{k}"), v)?);
        }
        Ok(Slo {
            success_ratio: r.success_ratio,
            busy_ratio: r.busy_ratio,
            p99,
            call_success_ratio: r.call_success_ratio,
            call_busy_ratio: r.call_busy_ratio,
            dropped_ratio: r.dropped_ratio,
            achieved_rate: r.achieved_rate,
            allow_idle_clusters: r.allow_idle_clusters.unwrap_or(false),
        })
    }
}
