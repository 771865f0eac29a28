//! One phone as a sans-IO state machine: boot (config file) → register its lines (SIP, when
//! given a contact with [`Phone::with_sip`]; else a no-op step) → EM login (UID, DN or SP) →
//! restart (the cluster's `service-control` NOTIFY when registered, else the result page
//! stands for it) → config → register → logged in → logout → restart with the logout profile.
//!
//! [`Phone::step`] takes an event and the current time and returns the next phone and the
//! actions for the driver ([`crate::driver`]) to carry out; it never reads a clock, never
//! touches a socket and never panics on what a server sends. Everything unexpected ends the
//! task with a named [`Cause`] and the text a phone would show.

mod calls;
pub mod config;
pub mod http;
mod outcome;
pub mod page;
pub mod sipua;
mod task;

use std::sync::Arc;
use std::time::{Duration, Instant};

use emroam_protocol::cipxml::Screen;

use self::http::{CookieJar, split_http_url};
pub use self::http::{HttpFailure, HttpRequest, HttpResponse, Method, Model};
pub use self::outcome::{Cause, Failure, Step, StepSample, Success, TaskOutcome};
use self::page::{EmPage, Page};
pub use self::task::{Credentials, PhoneSpec, Task, TaskKind};

/// How many pages a task may walk through before the phone gives up (a loop guard).
pub const MAX_HOPS: u8 = 8;

/// EM login types (`loginType=` on the service URL).
pub use emroam_schema::LoginType;

/// Inputs to [`Phone::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneEvent {
    /// Begin a task; `intended` is when it was scheduled (latency is measured from it).
    Start {
        /// What to do.
        task: Task,
        /// The scheduled start (no coordinated omission).
        intended: Instant,
    },
    /// The answer to the last [`PhoneAction::Send`].
    Response(Result<HttpResponse, HttpFailure>),
    /// The last [`PhoneAction::SleepUntil`] is over.
    Wake,
    /// Give up the task in flight (shutdown).
    Abandon,
    /// A SIP datagram arrived on the phone's socket.
    Sip(Vec<u8>),
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneAction {
    /// Send this request and feed back [`PhoneEvent::Response`].
    Send(HttpRequest),
    /// Wait until then and feed back [`PhoneEvent::Wake`]; a SIP datagram that arrives first
    /// is fed back as [`PhoneEvent::Sip`] instead (the machine then says how to go on).
    SleepUntil(Instant),
    /// Send this SIP datagram to `to` (`host:port`); nothing is fed back.
    SendSip {
        /// The cluster's SIP address.
        to: String,
        /// The rendered message.
        datagram: Vec<u8>,
    },
    /// The screen now shows this (emitted only when tracing, see [`Phone::with_trace`]).
    Show(Box<Screen>),
    /// A step completed.
    Record(StepSample),
    /// The task ended; the phone is idle again.
    Done(TaskOutcome),
}

/// Where a task in flight is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for the config file (at boot, or restarting).
    FetchConfig,
    /// Waiting for the EM service's first page.
    OpenService,
    /// Waiting for the answer to the login form (or the profile choice).
    Submitted,
    /// Waiting for the answer to the logout confirmation.
    Confirmed,
    /// Waiting out a `Refresh`, then fetching `url` and going back to `resume`.
    RefreshWait { url: String, resume: Box<Phase> },
    /// Waiting for the 200 OKs of these REGISTERs (by Call-ID) until `deadline`.
    Registering {
        pending: Vec<String>,
        deadline: Instant,
    },
    /// Logged in or out, waiting for the cluster's `service-control` NOTIFY.
    AwaitRestart { deadline: Instant },
    /// A call's INVITE is out; waiting for its final answer.
    Calling { deadline: Instant },
    /// In the call until `until`, then BYE.
    InCall { until: Instant },
    /// BYE sent; waiting for its answer.
    HangingUp { deadline: Instant },
    /// An incoming call: 180 sent; the 200 OK goes at `until` (when auto-answering).
    Ringing { until: Instant },
    /// An incoming call answered; waiting for the caller's BYE until `deadline`.
    Answered { deadline: Instant },
}

/// A task in flight: which, where it is, and its timings.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flow {
    task: TaskKind,
    creds: Option<Credentials>,
    journey_start: Instant,
    step: Step,
    step_start: Instant,
    phase: Phase,
    /// The URL of the request in flight (pages resolve against it).
    url: String,
    hops: u8,
    /// Set once the EM part succeeded and the phone restarts (config again).
    restarting: bool,
    /// A restart NOTIFY came while the flow waited out a `Refresh`, before the phone was ready
    /// to act on it: the restart is taken when the result page asks for it.
    early_restart: bool,
}

/// The state of a phone between events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneState {
    /// No task in flight.
    Idle,
    /// A task in flight.
    Busy(Box<FlowState>),
}

/// A task in flight (opaque).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState(Flow);

/// One phone: its identity, what it has learnt (cookies, service URL, login belief) and its
/// state.
#[derive(Debug, Clone)]
pub struct Phone {
    spec: PhoneSpec,
    cookies: CookieJar,
    /// The EM service URL template from the last config file, else the spec's (shared with
    /// them, not a copy).
    service_template: Option<Arc<str>>,
    /// What the phone believes: `Some(user)` after a successful login.
    logged_in: Option<String>,
    /// What the last config file said (user, lines), for traces and checks.
    /// Boxed: a phone that never fetched one (no boot) pays a pointer.
    config: Option<Box<config::ConfigInfo>>,
    trace: bool,
    /// The SIP side, when the phone registers (see [`Phone::with_sip`]).
    /// Boxed: a phone without SIP (most load profiles) pays one pointer, not the UA.
    sip: Option<Box<sipua::SipUa>>,
    state: PhoneState,
}

impl Phone {
    /// A powered-off phone.
    pub fn new(spec: PhoneSpec) -> Self {
        Self {
            service_template: spec.service_url.clone(),
            spec,
            cookies: CookieJar::default(),
            logged_in: None,
            config: None,
            trace: false,
            sip: None,
            state: PhoneState::Idle,
        }
    }

    /// Registers its lines over SIP, with this Contact `host:port` (the driver's socket), and
    /// waits for the cluster's NOTIFY to restart after EM login and logout.
    pub fn with_sip(self, contact: &str) -> Self {
        self.with_shared_sip(contact.into())
    }

    /// [`Phone::with_sip`] with a Contact shared by many phones (a fleet shard's socket):
    /// each keeps a reference, not a copy.
    pub fn with_shared_sip(mut self, contact: Arc<str>) -> Self {
        self.sip = Some(Box::new(sipua::SipUa::new(&self.spec.device, contact)));
        self
    }

    /// Answers the registrar's digest challenges with `creds` (a security profile with
    /// digest on); needs [`Phone::with_sip`] first.
    pub fn with_digest(mut self, creds: Option<Arc<sipua::DigestCredentials>>) -> Self {
        if let (Some(ua), Some(c)) = (&mut self.sip, creds) {
            ua.set_digest(c);
        }
        self
    }

    /// Takes incoming calls as `policy` says (ring time, auto-answer, busy share); needs
    /// [`Phone::with_sip`] first.
    pub fn with_answer_policy(mut self, policy: sipua::AnswerPolicy) -> Self {
        if let Some(ua) = &mut self.sip {
            ua.set_policy(policy);
        }
        self
    }

    /// When its SIP registrations are due for a refresh ([`Task::Refresh`]), if it is
    /// registered.
    pub fn refresh_due(&self) -> Option<Instant> {
        self.sip.as_deref().and_then(sipua::SipUa::refresh_at)
    }

    /// The SIP side (registrations), if the phone registers.
    pub fn sip(&self) -> Option<&sipua::SipUa> {
        self.sip.as_deref()
    }

    /// Emit [`PhoneAction::Show`] for every page (for `emroam phone`).
    pub fn with_trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Its identity.
    pub fn spec(&self) -> &PhoneSpec {
        &self.spec
    }

    /// Its state.
    pub fn state(&self) -> &PhoneState {
        &self.state
    }

    /// The user it believes is logged in on it.
    pub fn logged_in_user(&self) -> Option<&str> {
        self.logged_in.as_deref()
    }

    /// What the last config file fetched said (the profile's user and lines).
    pub fn config(&self) -> Option<&config::ConfigInfo> {
        self.config.as_deref()
    }

    /// Sets the login belief (a fleet that knows the cluster's state at start).
    pub fn set_logged_in_user(&mut self, user: Option<String>) {
        self.logged_in = user;
    }

    /// Whether no task is in flight.
    pub fn is_idle(&self) -> bool {
        self.state == PhoneState::Idle
    }

    /// Leaves `pause` out of the task in flight's timings: the time an operator held the
    /// phone (`emroam phone --step`) is not the server's.
    pub fn exclude_pause(&mut self, pause: Duration) {
        if let PhoneState::Busy(flow) = &mut self.state {
            flow.0.step_start += pause;
            flow.0.journey_start += pause;
        }
    }

    /// Advances the machine by one event at `now`.
    pub fn step(mut self, ev: PhoneEvent, now: Instant) -> (Phone, Vec<PhoneAction>) {
        let mut out = Vec::new();
        let state = std::mem::replace(&mut self.state, PhoneState::Idle);
        self.state = match (state, ev) {
            (PhoneState::Idle, PhoneEvent::Start { task, intended }) => {
                self.start(task, intended, now, &mut out)
            }
            (PhoneState::Busy(flow), PhoneEvent::Response(r)) => {
                self.on_response(flow.0, r, now, &mut out)
            }
            (PhoneState::Busy(flow), PhoneEvent::Wake) => self.on_wake(flow.0, now, &mut out),
            (PhoneState::Busy(flow), PhoneEvent::Sip(d)) => self.on_sip(flow.0, &d, now, &mut out),
            (PhoneState::Idle, PhoneEvent::Sip(d)) => self.on_idle_sip(&d, now, &mut out),
            (PhoneState::Busy(flow), PhoneEvent::Abandon) => {
                self.fail(&flow.0, Cause::Abandoned, &mut out)
            }
            (PhoneState::Busy(flow), PhoneEvent::Start { task, .. }) => {
                // A second task while one is in flight: refuse it, keep the first.
                out.push(PhoneAction::Done(TaskOutcome {
                    task: task.kind(),
                    result: Err(Failure {
                        cause: Cause::UnexpectedPage("a task is already in flight".into()),
                        step: flow.0.step,
                        shown: "Busy".into(),
                    }),
                }));
                PhoneState::Busy(flow)
            }
            // Stray responses or wake-ups while idle: nothing to do.
            (PhoneState::Idle, _) => PhoneState::Idle,
        };
        (self, out)
    }

    fn start(
        &mut self,
        task: Task,
        intended: Instant,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        let kind = task.kind();
        let creds = match &task {
            Task::Login(c) => Some(c.clone()),
            _ => None,
        };
        let mut flow = Flow {
            task: kind,
            creds,
            journey_start: intended,
            step: Step::EmPage,
            step_start: intended,
            phase: Phase::OpenService,
            url: String::new(),
            hops: 0,
            restarting: false,
            early_restart: false,
        };
        if let Task::Call { dn, hold } = &task {
            return self.start_call(flow, dn, *hold, now, out);
        }
        if kind == TaskKind::Refresh {
            return self.start_refresh(flow, now, out);
        }
        if kind == TaskKind::Boot {
            flow.step = Step::Config;
            let Some(url) = self.spec.config_url.clone() else {
                // No config server known: no config file, so no proxy to register with.
                return self.done(&flow, Success::Booted, now, out);
            };
            flow.phase = Phase::FetchConfig;
            return self.send(flow, url, None, now, out);
        }
        let Some(template) = self.service_template.as_deref() else {
            return self.fail(&flow, Cause::NoServiceUrl, out);
        };
        let lt = flow.creds.as_ref().map(|c| c.login_type);
        let url = config::service_url(template, &self.spec.device, lt);
        self.send(flow, url, None, now, out)
    }

    fn request(
        &mut self,
        url: &str,
        body: Option<String>,
        now: Instant,
        secrets: Vec<String>,
    ) -> HttpRequest {
        let mut headers = http::phone_headers(&self.spec.model);
        if let Some((authority, _)) = split_http_url(url)
            && let Some(c) = self.cookies.header_for(authority, now)
        {
            headers.push(("Cookie".into(), c));
        }
        let method = if body.is_some() {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            Method::Post
        } else {
            Method::Get
        };
        HttpRequest {
            method,
            url: url.to_owned(),
            headers,
            body,
            secrets,
        }
    }

    fn send(
        &mut self,
        mut flow: Flow,
        url: String,
        body: Option<String>,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        flow.hops += 1;
        if flow.hops > MAX_HOPS {
            return self.fail(&flow, Cause::UnexpectedPage("too many pages".into()), out);
        }
        let secrets = flow.creds.iter().map(|c| c.pin.clone()).collect();
        out.push(PhoneAction::Send(self.request(&url, body, now, secrets)));
        flow.url = url;
        PhoneState::Busy(Box::new(FlowState(flow)))
    }

    fn end_step(flow: &mut Flow, next: Step, now: Instant, out: &mut Vec<PhoneAction>) {
        out.push(PhoneAction::Record(StepSample {
            step: flow.step,
            start: flow.step_start,
            end: now,
        }));
        flow.step = next;
        flow.step_start = now;
    }

    fn fail(&mut self, flow: &Flow, cause: Cause, out: &mut Vec<PhoneAction>) -> PhoneState {
        out.push(PhoneAction::Done(TaskOutcome::failed_at(
            flow.task, flow.step, cause,
        )));
        PhoneState::Idle
    }

    fn done(
        &mut self,
        flow: &Flow,
        success: Success,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        if flow.hops > 0 {
            out.push(PhoneAction::Record(StepSample {
                step: flow.step,
                start: flow.step_start,
                end: now,
            }));
        }
        if matches!(success, Success::LoggedIn | Success::LoggedOut) {
            out.push(PhoneAction::Record(StepSample {
                step: Step::Journey,
                start: flow.journey_start,
                end: now,
            }));
        }
        match success {
            Success::LoggedIn => {
                self.logged_in = flow.creds.as_ref().map(|c| c.id.clone());
            }
            Success::LoggedOut => self.logged_in = None,
            Success::Restarted if self.config.as_ref().is_some_and(|c| c.user_id.is_none()) => {
                // Restarted into the logout profile: someone logged the user out.
                self.logged_in = None;
            }
            _ => {}
        }
        out.push(PhoneAction::Done(TaskOutcome {
            task: flow.task,
            result: Ok(success),
        }));
        PhoneState::Idle
    }

    fn on_wake(&mut self, mut flow: Flow, now: Instant, out: &mut Vec<PhoneAction>) -> PhoneState {
        match flow.phase.clone() {
            Phase::RefreshWait { url, resume } => {
                flow.phase = *resume;
                self.send(flow, url, None, now, out)
            }
            phase => match Self::sip_deadline(&phase) {
                Some(deadline) => self.on_sip_wake(flow, deadline, now, out),
                // Not waiting: keep going as we were.
                None => PhoneState::Busy(Box::new(FlowState(flow))),
            },
        }
    }

    fn on_response(
        &mut self,
        mut flow: Flow,
        r: Result<HttpResponse, HttpFailure>,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        let resp = match r {
            Ok(resp) => resp,
            Err(f) => return self.fail(&flow, Cause::from_failure(&f), out),
        };
        if let Some((authority, _)) = split_http_url(&flow.url) {
            let authority = authority.to_owned();
            for (n, v) in &resp.headers {
                if n.eq_ignore_ascii_case("set-cookie") {
                    self.cookies.store(&authority, v, now);
                }
            }
        }
        if flow.phase == Phase::FetchConfig {
            return self.on_config(flow, &resp, now, out);
        }
        let page = match page::read(&flow.url, &resp) {
            Ok(p) => p,
            Err(cause) => return self.fail(&flow, cause, out),
        };
        if self.trace {
            out.push(PhoneAction::Show(Box::new(page.object.screen())));
        }
        let class = page::classify(&page);
        match (&flow.phase, flow.task, class) {
            (_, _, EmPage::Code(c)) => self.fail(&flow, Cause::Em(c), out),
            (Phase::OpenService, TaskKind::Status, EmPage::LoginForm(_)) => {
                self.done(&flow, Success::Status { logged_in: false }, now, out)
            }
            (Phase::OpenService, TaskKind::Status, EmPage::LogoutConfirm { .. }) => {
                self.done(&flow, Success::Status { logged_in: true }, now, out)
            }
            (Phase::OpenService, TaskKind::Login, EmPage::LoginForm(input)) => {
                let Some(creds) = flow.creds.clone() else {
                    return self.fail(&flow, Cause::UnexpectedPage("no credentials".into()), out);
                };
                let Some(sub) = page::fill_login(&page, input, &creds) else {
                    return self.fail(
                        &flow,
                        Cause::UnexpectedPage("login form without ID and PIN fields".into()),
                        out,
                    );
                };
                Self::end_step(&mut flow, Step::LoginSubmit, now, out);
                flow.phase = Phase::Submitted;
                self.send(flow, sub.url, sub.body, now, out)
            }
            (Phase::OpenService, TaskKind::Login, EmPage::LogoutConfirm { .. }) => {
                self.fail(&flow, Cause::AlreadyLoggedIn, out)
            }
            (Phase::OpenService, TaskKind::Logout, EmPage::LogoutConfirm { yes_url }) => {
                Self::end_step(&mut flow, Step::LogoutConfirm, now, out);
                flow.phase = Phase::Confirmed;
                self.send(flow, yes_url, None, now, out)
            }
            (Phase::OpenService, TaskKind::Logout, EmPage::LoginForm(_)) => {
                self.logged_in = None;
                self.fail(&flow, Cause::NotLoggedIn, out)
            }
            (Phase::Submitted, _, EmPage::Choice(menu)) => {
                let wanted = flow.creds.as_ref().and_then(|c| c.profile.clone());
                let Some(url) = page::choose(&page, menu, wanted.as_deref()) else {
                    return self.fail(
                        &flow,
                        Cause::UnexpectedPage("empty profile menu".into()),
                        out,
                    );
                };
                Self::end_step(&mut flow, Step::ProfileChoice, now, out);
                self.send(flow, url, None, now, out)
            }
            // The result of a login: a message without a code, or the service already
            // offering the logout (a result page that refreshed back to the service).
            (Phase::Submitted, _, EmPage::Message | EmPage::LogoutConfirm { .. }) => {
                if let Some(st) = self.follow_refresh(&mut flow, &page, now, out) {
                    return st;
                }
                self.restart(flow, now, out)
            }
            (Phase::Confirmed, _, EmPage::Message | EmPage::LoginForm(_)) => {
                if let Some(st) = self.follow_refresh(&mut flow, &page, now, out) {
                    return st;
                }
                self.restart(flow, now, out)
            }
            (Phase::OpenService, _, EmPage::Message) => {
                if let Some(st) = self.follow_refresh(&mut flow, &page, now, out) {
                    return st;
                }
                let what = page::page_text(&page.object).replace('\n', " / ");
                self.fail(&flow, Cause::UnexpectedPage(what), out)
            }
            (_, _, other) => {
                let what = match other {
                    EmPage::LoginForm(_) => "login form".to_owned(),
                    EmPage::LogoutConfirm { .. } => "logout confirmation".to_owned(),
                    EmPage::Choice(_) => "menu".to_owned(),
                    _ => page.object.root_name().to_owned(),
                };
                self.fail(&flow, Cause::UnexpectedPage(what), out)
            }
        }
    }

    /// A page whose `Refresh` leads to another HTTP page is a waiting page: honour it.
    fn follow_refresh(
        &mut self,
        flow: &mut Flow,
        page: &Page,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> Option<PhoneState> {
        let refresh = page.refresh.as_ref()?;
        if refresh.after.is_zero() {
            return None;
        }
        let url = match refresh.url.as_deref() {
            None => page.url.clone(),
            Some(u) => match emroam_protocol::cipxml::Uri::parse(u) {
                emroam_protocol::cipxml::Uri::Http(u) => u,
                emroam_protocol::cipxml::Uri::Relative(r) => http::resolve_url(&page.url, &r),
                _ => return None,
            },
        };
        // Reloading the result page itself would loop: only a different page is followed.
        if url == page.url && !matches!(flow.phase, Phase::OpenService) {
            return None;
        }
        if flow.step != Step::Refresh {
            Self::end_step(flow, Step::Refresh, now, out);
        }
        let mut f = flow.clone();
        f.phase = Phase::RefreshWait {
            url,
            resume: Box::new(flow.phase.clone()),
        };
        out.push(PhoneAction::SleepUntil(now + refresh.after));
        Some(PhoneState::Busy(Box::new(FlowState(f))))
    }

    fn restart(&mut self, mut flow: Flow, now: Instant, out: &mut Vec<PhoneAction>) -> PhoneState {
        // A registered phone waits for the cluster's NOTIFY service-control; one that does not
        // register takes the successful result page as the restart.
        if std::mem::take(&mut flow.early_restart) {
            return self.restart_now(flow, now, out);
        }
        if self.sip.as_deref().is_some_and(sipua::SipUa::is_registered) && !flow.restarting {
            let deadline = now + sipua::RESTART_WAIT;
            flow.phase = Phase::AwaitRestart { deadline };
            out.push(PhoneAction::SleepUntil(deadline));
            return PhoneState::Busy(Box::new(FlowState(flow)));
        }
        self.restart_now(flow, now, out)
    }

    /// Restarts: the config file again (then registration).
    fn restart_now(
        &mut self,
        mut flow: Flow,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        match self.spec.config_url.clone() {
            Some(url) => {
                Self::end_step(&mut flow, Step::Restart, now, out);
                flow.phase = Phase::FetchConfig;
                flow.restarting = true;
                self.send(flow, url, None, now, out)
            }
            None => {
                let success = Self::success_of(flow.task);
                self.done(&flow, success, now, out)
            }
        }
    }

    fn success_of(task: TaskKind) -> Success {
        match task {
            TaskKind::Login => Success::LoggedIn,
            TaskKind::Logout => Success::LoggedOut,
            TaskKind::Restart => Success::Restarted,
            TaskKind::Refresh => Success::Refreshed,
            _ => Success::Booted,
        }
    }

    fn on_config(
        &mut self,
        flow: Flow,
        resp: &HttpResponse,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        if !(200..300).contains(&resp.status) {
            return self.fail(&flow, Cause::HttpStatus(resp.status), out);
        }
        let mut info = match config::read(&resp.body) {
            Ok(i) => i,
            Err(_) => return self.fail(&flow, Cause::BadConfig, out),
        };
        if info.parsed {
            if info.em_service_url.is_none() && flow.restarting {
                return self.fail(&flow, Cause::ServicesUnavailable(flow.task), out);
            }
            if let Some(u) = &mut info.em_service_url {
                // The same text as before (as a fleet's config files say): keep one copy.
                match &self.service_template {
                    Some(t) if *t == *u => *u = t.clone(),
                    _ => self.service_template = Some(u.clone()),
                }
            }
        }
        self.config = Some(Box::new(info));
        self.register(flow, now, out)
    }

    /// Registers the lines of the profile the config file carries (the device name when it
    /// has none), at the config file's SIP proxy; the task ends when every REGISTER is
    /// answered 200. A phone without SIP (or a config without a proxy) ends the task here.
    fn register(&mut self, mut flow: Flow, now: Instant, out: &mut Vec<PhoneAction>) -> PhoneState {
        let proxy = self.config.as_ref().and_then(|c| c.sip_proxy.clone());
        let lines = self
            .config
            .as_ref()
            .map(|c| c.lines.clone())
            .unwrap_or_default();
        if let (Some(ua), Some(proxy)) = (&mut self.sip, proxy) {
            let pending = ua.register_all(&proxy, &lines, now, out);
            Self::end_step(&mut flow, Step::Register, now, out);
            let deadline = now + sipua::REGISTER_WAIT;
            flow.phase = Phase::Registering { pending, deadline };
            return self.sip_wait(flow, deadline, out);
        }
        self.registered(flow, now, out)
    }

    fn registered(&mut self, flow: Flow, now: Instant, out: &mut Vec<PhoneAction>) -> PhoneState {
        let success = if flow.restarting || flow.task == TaskKind::Refresh {
            Self::success_of(flow.task)
        } else {
            Success::Booted
        };
        self.done(&flow, success, now, out)
    }
}

#[cfg(test)]
mod tests;
