//! `emroam phone`: one phone against any server, for developers. Prints every request and
//! response (PIN redacted), what the screen shows and how long each step took; `--step`
//! waits for Enter before each request. The exit code says whether it worked.
//!
//! The arguments become a [`PhoneConfig`] first; the run uses the same driver and state
//! machine as the fleet.

use std::io::{BufRead, Write};
use std::time::Duration;

use emroam_protocol::cipxml;

use anyhow::Context as _;
use emroam_emulator::driver::{self, HttpClient, Observer, PhoneLink};
use emroam_emulator::phone::http::redact;
use emroam_emulator::phone::{
    Credentials, HttpFailure, HttpRequest, HttpResponse, LoginType, Model, Phone, PhoneSpec,
    StepSample, Success, Task,
};

use super::Exit;
use crate::cli::{PhoneArgs, PhoneCmd};

/// A validated `emroam phone` invocation.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// The phone.
    pub spec: PhoneSpec,
    /// The tasks to run, in order.
    pub tasks: Vec<Task>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Wait for Enter before each request.
    pub step: bool,
    /// Register over SIP and restart on the cluster's NOTIFY.
    pub sip: bool,
    /// Answer calls this long after the tasks that log in (before a logout).
    pub answer_for: Option<Duration>,
    /// How incoming calls are taken.
    pub answer: emroam_emulator::phone::sipua::AnswerPolicy,
    /// Digest credentials, when the topology gives the phone a security profile with digest
    /// on (its digest user's digest credentials).
    pub digest: Option<std::sync::Arc<emroam_emulator::phone::sipua::DigestCredentials>>,
}

/// Why the arguments cannot make a phone.
#[derive(Debug, thiserror::Error)]
pub enum PhoneArgsError {
    /// Something required is missing.
    #[error("{0}")]
    Missing(&'static str),
    /// A malformed value.
    #[error("{0}")]
    Invalid(String),
}

impl TryFrom<&PhoneArgs> for PhoneConfig {
    type Error = PhoneArgsError;

    fn try_from(a: &PhoneArgs) -> Result<Self, Self::Error> {
        // Where the phone is: its cluster's config server from the topology (the service URL
        // then comes from its config file, as on a real phone), or the URLs given.
        let mut topo_pin = None;
        let mut digest = None;
        let (device, config_url, service, model) = match &a.topology {
            Some(path) => {
                let topo = emroam_schema::Topology::load(path)
                    .map_err(|e| PhoneArgsError::Invalid(e.to_string()))?;
                // Without --pin, the PIN of the topology's user with that ID, extension or
                // self-service ID (by login type).
                topo_pin = a.id.as_deref().and_then(|id| {
                    topo.users
                        .iter()
                        .find(|u| match a.login_type {
                            LoginType::Uid => u.id == id,
                            LoginType::Dn => u.primary_extension.as_deref() == Some(id),
                            LoginType::Sp => u.self_service_id.as_deref() == Some(id),
                        })
                        .map(|u| u.pin.clone())
                });
                let device = a.device.clone().ok_or(PhoneArgsError::Missing(
                    "--device SEP… is required with --topology",
                ))?;
                let phone = topo
                    .phones
                    .iter()
                    .find(|p| p.name.eq_ignore_ascii_case(&device))
                    .ok_or_else(|| {
                        PhoneArgsError::Invalid(format!("no phone {device} in {}", path.display()))
                    })?;
                digest = phone
                    .digest_user
                    .as_deref()
                    .filter(|_| phone.digest)
                    .and_then(|id| topo.users.iter().find(|u| u.id == id))
                    .and_then(|u| {
                        Some(std::sync::Arc::new(
                            emroam_emulator::phone::sipua::DigestCredentials {
                                user: u.id.clone(),
                                password: u.digest_credentials.clone()?,
                            },
                        ))
                    });
                let c = topo.cluster(&phone.cluster).ok_or_else(|| {
                    PhoneArgsError::Invalid(format!("no cluster {} in the topology", phone.cluster))
                })?;
                let host = match c.address {
                    std::net::IpAddr::V6(a) => format!("[{a}]"),
                    v4 => v4.to_string(),
                };
                let cnf = format!("http://{host}:{}/{}.cnf.xml", c.ports.config, phone.name);
                (
                    phone.name.clone(),
                    Some(a.config_url.clone().unwrap_or(cnf)),
                    a.service.clone(),
                    phone.model.clone(),
                )
            }
            None => {
                let service = a.service.clone().ok_or(PhoneArgsError::Missing(
                    "--service URL (or --topology FILE --device SEP…) is required",
                ))?;
                let device = a.device.clone().or_else(|| {
                    // `…?device=SEP…` in the URL names the phone too.
                    service
                        .split(['?', '&'])
                        .find_map(|kv| kv.strip_prefix("device="))
                        .filter(|d| !d.contains('#'))
                        .map(str::to_owned)
                });
                let device = device.ok_or(PhoneArgsError::Missing(
                    "--device SEP… is required (or a service URL with device=SEP…)",
                ))?;
                (device, a.config_url.clone(), Some(service), a.model.clone())
            }
        };
        if let Some(s) = &service
            && !s.starts_with("http://")
        {
            return Err(PhoneArgsError::Invalid(format!(
                "--service must be an http:// URL, got `{s}`"
            )));
        }
        let needs_creds = matches!(a.action, PhoneCmd::Login | PhoneCmd::LoginLogout);
        let creds = if needs_creds {
            Some(Credentials {
                login_type: a.login_type,
                id: a
                    .id
                    .clone()
                    .ok_or(PhoneArgsError::Missing("--id is required to log in"))?,
                pin: a.pin.clone().or(topo_pin).ok_or(PhoneArgsError::Missing(
                    "--pin is required to log in (or --topology with a user of that --id)",
                ))?,
                profile: a.profile.clone(),
            })
        } else {
            None
        };
        let login = || Task::Login(creds.clone().expect("checked above"));
        let mut tasks = Vec::new();
        if config_url.is_some() {
            tasks.push(Task::Boot);
        }
        match a.action {
            PhoneCmd::Login => tasks.push(login()),
            PhoneCmd::Logout => tasks.push(Task::Logout),
            PhoneCmd::LoginLogout => tasks.extend([login(), Task::Logout]),
            PhoneCmd::Status => tasks.push(Task::Status),
        }
        if let Some(dn) = &a.call {
            let call = Task::Call {
                dn: dn.clone(),
                hold: a.hold,
            };
            // Call while logged in: before the logout of login-logout.
            match tasks.last() {
                Some(Task::Logout) if a.action == PhoneCmd::LoginLogout => {
                    tasks.insert(tasks.len() - 1, call);
                }
                _ => tasks.push(call),
            }
        }
        Ok(PhoneConfig {
            spec: PhoneSpec {
                device,
                model: Model::from_topology_name(&model),
                config_url,
                service_url: service.map(Into::into),
            },
            tasks,
            timeout: a.timeout,
            step: a.step,
            sip: a.sip,
            answer_for: a.answer_for,
            answer: emroam_emulator::phone::sipua::AnswerPolicy {
                ring: a.ring,
                auto_answer: !a.no_answer,
                busy_share: if a.busy { 1.0 } else { 0.0 },
            },
            digest,
        })
    }
}

/// Prints the trace of one phone to `out`.
#[derive(Debug)]
pub struct Tracer<W: Write> {
    out: W,
    step: bool,
    secrets: Vec<String>,
}

impl<W: Write> Tracer<W> {
    /// A tracer writing to `out`, hiding `secrets`; `step` waits for Enter before requests.
    pub fn new(out: W, step: bool, secrets: Vec<String>) -> Self {
        Self { out, step, secrets }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn pretty(&self, body: &[u8]) -> String {
        let text = match cipxml::parse(body) {
            Ok(obj) => obj.to_xml(),
            Err(_) => String::from_utf8_lossy(body).into_owned(),
        };
        redact(&text, &self.secrets)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

impl<W: Write> Observer for Tracer<W> {
    fn before_send(&mut self) -> Duration {
        if !self.step {
            return Duration::ZERO;
        }
        let _ = write!(self.out, "[Enter] for the next request… ");
        let _ = self.out.flush();
        let t = std::time::Instant::now();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        t.elapsed()
    }

    fn request(&mut self, req: &HttpRequest) {
        let _ = writeln!(self.out, "> {} {}", req.method, req.redacted_url());
        for (n, v) in &req.headers {
            let _ = writeln!(self.out, ">   {n}: {v}");
        }
        if let Some(b) = req.redacted_body() {
            let _ = writeln!(self.out, ">\n>   {b}");
        }
    }

    fn response(&mut self, r: &Result<HttpResponse, HttpFailure>, took: Duration) {
        match r {
            Ok(resp) => {
                let _ = writeln!(self.out, "< {} ({})", resp.status, ms(took));
                for (n, v) in &resp.headers {
                    let _ = writeln!(self.out, "<   {n}: {v}");
                }
                let body = self.pretty(&resp.body);
                for line in body.lines() {
                    let _ = writeln!(self.out, "<   {line}");
                }
            }
            Err(e) => {
                let _ = writeln!(self.out, "< failed after {}: {e} ({e:?})", ms(took));
            }
        }
    }

    fn screen(&mut self, s: &cipxml::Screen) {
        let _ = writeln!(self.out, "┌─ screen ({})", s.object);
        for line in s.to_string().lines() {
            let _ = writeln!(self.out, "│ {}", redact(line, &self.secrets));
        }
        let _ = writeln!(self.out, "└─");
    }

    fn sample(&mut self, s: &StepSample) {
        let _ = writeln!(self.out, "⏱ {} took {}\n", s.step, ms(s.latency()));
    }

    fn sip(&mut self, out: bool, datagram: &[u8]) {
        let arrow = if out { "SIP >" } else { "SIP <" };
        for line in String::from_utf8_lossy(datagram).lines() {
            let line = emroam_protocol::sip::digest::redact(line);
            let _ = writeln!(self.out, "{arrow} {line}");
        }
    }
}

/// What a task achieved, in words for the person reading the trace.
fn achieved(s: &Success) -> &'static str {
    match s {
        Success::Booted => "booted",
        Success::Refreshed => "registrations refreshed",
        Success::Restarted => "restarted as the cluster asked",
        Success::Answered => "answered a call, then the caller hung up",
        Success::Missed => "a call rang until the caller gave up",
        Success::LoggedIn => "logged in",
        Success::LoggedOut => "logged out",
        Success::Called => "the call was answered, held and hung up",
        Success::Status { logged_in: true } => {
            "someone is logged in on this phone (the EM service offers a logout)"
        }
        Success::Status { logged_in: false } => {
            "nobody is logged in on this phone (the EM service offers a login)"
        }
    }
}

/// Stays registered for `d`, answering calls, then reports how many were answered.
async fn answer<W: Write>(
    phone: Phone,
    client: &mut PhoneLink,
    tracer: &mut Tracer<W>,
    d: Duration,
) -> anyhow::Result<Phone> {
    writeln!(tracer.out, "=== answering calls for {} ===", ms(d))?;
    let phone = driver::serve_idle(phone, client, tracer, tokio::time::sleep(d)).await;
    let n = phone.sip().map_or(0, |u| u.answered_calls());
    writeln!(tracer.out, "answered {n} call(s)\n")?;
    Ok(phone)
}

/// A UDP socket for the phone's SIP, on the address that reaches the config server's host
/// (its Contact must be reachable from the cluster).
async fn sip_socket(spec: &PhoneSpec) -> anyhow::Result<(tokio::net::UdpSocket, String)> {
    let host = spec
        .config_url
        .as_deref()
        .and_then(|u| emroam_emulator::phone::http::split_http_url(u).map(|(a, _)| a.to_owned()))
        .ok_or_else(|| anyhow::anyhow!("--sip needs the phone's config file URL"))?;
    let probe = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
    probe
        .connect(&host)
        .await
        .with_context(|| format!("finding the address that reaches {host}"))?;
    let ip = probe.local_addr()?.ip();
    let sock = tokio::net::UdpSocket::bind((ip, 0)).await?;
    let contact = sock.local_addr()?.to_string();
    Ok((sock, contact))
}

/// Runs `emroam phone`, writing the trace to `out`.
///
/// # Errors
/// Only when `out` cannot be written; a phone that fails is an exit code, not an error.
pub async fn run(args: &PhoneArgs, out: &mut impl Write) -> anyhow::Result<Exit> {
    let cfg = match PhoneConfig::try_from(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("emroam phone: {e}");
            return Ok(Exit::BadInput);
        }
    };
    run_config(cfg, out).await
}

/// Runs a validated phone configuration.
///
/// # Errors
/// Only when `out` cannot be written.
pub async fn run_config(cfg: PhoneConfig, out: &mut impl Write) -> anyhow::Result<Exit> {
    let secrets: Vec<String> = cfg
        .tasks
        .iter()
        .filter_map(|t| match t {
            Task::Login(c) => Some(c.pin.clone()),
            _ => None,
        })
        .collect();
    let mut tracer = Tracer::new(&mut *out, cfg.step, secrets);
    let sip = if cfg.sip {
        Some(sip_socket(&cfg.spec).await?)
    } else {
        None
    };
    let mut phone = Phone::new(cfg.spec.clone()).with_trace(true);
    if let Some((_, contact)) = &sip {
        phone = phone
            .with_sip(contact)
            .with_digest(cfg.digest.clone())
            .with_answer_policy(cfg.answer);
    }
    let mut client = match sip {
        Some((sock, _)) => PhoneLink::with_own_socket(cfg.timeout, sock),
        None => PhoneLink {
            http: HttpClient::new(cfg.timeout),
            sip: None,
        },
    };
    let mut exit = Exit::Ok;
    let mut answer_for = cfg.answer_for;
    let n_tasks = cfg.tasks.len();
    for (i, task) in cfg.tasks.into_iter().enumerate() {
        let kind = task.kind();
        // Answer calls once logged in: before a logout, or after the last task.
        if task == Task::Logout
            && let Some(d) = answer_for.take()
        {
            phone = answer(phone, &mut client, &mut tracer, d).await?;
        }
        writeln!(tracer.out, "=== {} {:?} ===", cfg.spec.device, kind)?;
        let (p, outcome) = driver::run_task(
            phone,
            task,
            tokio::time::Instant::now(),
            &mut client,
            &mut tracer,
        )
        .await;
        phone = p;
        if let Some(c) = phone.config().filter(|c| c.parsed) {
            writeln!(
                tracer.out,
                "config file: user {}, lines [{}], SIP proxy {}; registered: [{}]",
                c.user_id.as_deref().unwrap_or("none (logout profile)"),
                c.lines.join(", "),
                c.sip_proxy.as_deref().unwrap_or("none"),
                phone
                    .sip()
                    .map(|u| u.registered_lines().join(", "))
                    .unwrap_or_else(|| "not registering (no --sip)".into())
            )?;
        }
        match outcome.result {
            Ok(s) => {
                writeln!(tracer.out, "✔ {kind:?}: {}\n", achieved(&s))?;
                if i + 1 == n_tasks
                    && let Some(d) = answer_for.take()
                {
                    phone = answer(phone, &mut client, &mut tracer, d).await?;
                }
            }
            Err(f) => {
                writeln!(
                    tracer.out,
                    "✘ {kind:?} failed at {}: {} [{}]\n",
                    f.step,
                    f.shown,
                    f.cause.key()
                )?;
                exit = Exit::Other;
                break;
            }
        }
    }
    tracer.out.flush()?;
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(v: &[&str]) -> PhoneArgs {
        match Cli::try_parse_from(v).unwrap().command {
            Command::Phone(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn answering_flags_become_the_answer_policy() {
        let base = [
            "emroam",
            "phone",
            "--service",
            "http://h/e?device=SEP000000001001",
            "--sip",
            "--answer-for",
            "30s",
        ];
        let with = |extra: &[&str]| {
            let v: Vec<&str> = base.iter().chain(extra).copied().collect();
            PhoneConfig::try_from(&args(&v)).unwrap().answer
        };
        assert_eq!(
            with(&[]),
            emroam_emulator::phone::sipua::AnswerPolicy::default()
        );
        let p = with(&["--ring", "2s"]);
        assert_eq!((p.ring, p.auto_answer), (Duration::from_secs(2), true));
        assert!(!with(&["--no-answer"]).auto_answer);
        assert_eq!(with(&["--busy"]).busy_share, 1.0);
        // They only mean something with --answer-for, and busy is not "never answer".
        assert!(Cli::try_parse_from(["emroam", "phone", "--busy"]).is_err());
        let mut v = base.to_vec();
        v.extend(["--busy", "--no-answer"]);
        assert!(Cli::try_parse_from(v).is_err());
    }

    #[test]
    fn arguments_become_a_config() {
        let a = args(&[
            "emroam",
            "phone",
            "login-logout",
            "--service",
            "http://127.0.0.1:8080/emapp/EMAppServlet?device=#DEVICENAME#",
            "--device",
            "SEP000000001001",
            "--login-type",
            "dn",
            "--id",
            "1000001",
            "--pin",
            "12345",
        ]);
        let c = PhoneConfig::try_from(&a).unwrap();
        assert_eq!(c.tasks.len(), 2);
        assert!(matches!(&c.tasks[0], Task::Login(cr) if cr.login_type == LoginType::Dn));
        let a = args(&[
            "emroam",
            "phone",
            "login",
            "--service",
            "http://h/e?device=SEP1",
        ]);
        assert!(matches!(
            PhoneConfig::try_from(&a),
            Err(PhoneArgsError::Missing(_))
        ));
        let a = args(&[
            "emroam",
            "phone",
            "status",
            "--service",
            "http://h/e?device=SEP00000000AB01",
        ]);
        assert_eq!(
            PhoneConfig::try_from(&a).unwrap().spec.device,
            "SEP00000000AB01"
        );
        let seed = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../profiles/topologies/seed.toml"
        );
        let a = args(&[
            "emroam",
            "phone",
            "--topology",
            seed,
            "--device",
            "SEP000000002003",
        ]);
        let c = PhoneConfig::try_from(&a).unwrap();
        assert_eq!(
            c.spec.config_url.as_deref(),
            Some("http://127.0.0.2:6970/SEP000000002003.cnf.xml")
        );
        assert_eq!(c.spec.service_url, None);
        assert!(matches!(c.tasks[..], [Task::Boot, Task::Status]));
        let a = args(&[
            "emroam",
            "phone",
            "--topology",
            seed,
            "--device",
            "SEP00000000FFFF",
        ]);
        assert!(matches!(
            PhoneConfig::try_from(&a),
            Err(PhoneArgsError::Invalid(_))
        ));
    }
}
