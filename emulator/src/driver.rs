//! The thin async driver: carries out a phone's actions with hyper and tokio timers and
//! feeds the results back into [`Phone::step`].
//!
//! Each phone has its own [`HttpClient`] (its own TCP connection, kept alive between
//! requests to the same host, as a phone's HTTP stack does). No phone logic lives here.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::phone::http::{MAX_BODY_BYTES, split_http_url};
use crate::phone::{
    HttpFailure, HttpRequest, HttpResponse, Method, Phone, PhoneAction, PhoneEvent, StepSample,
    Task, TaskOutcome,
};

/// Sends a phone's requests: one keep-alive connection at a time, a timeout per request.
#[derive(Debug)]
pub struct HttpClient {
    timeout: Duration,
    conn: Option<(String, SendRequest<Full<Bytes>>)>,
}

impl HttpClient {
    /// A client whose requests fail with [`HttpFailure::Timeout`] after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            conn: None,
        }
    }

    /// Sends one request, within the timeout.
    ///
    /// # Errors
    /// [`HttpFailure`], named as the phone would show it.
    pub async fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
        match tokio::time::timeout(self.timeout, self.send_inner(req)).await {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err(HttpFailure::Timeout)
            }
        }
    }

    async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, HttpFailure> {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(p) => (h, p),
                Err(_) => (authority, 80),
            },
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<_> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| HttpFailure::HostNotFound)?
            .collect();
        let Some(addr) = addrs.first() else {
            return Err(HttpFailure::HostNotFound);
        };
        let stream = TcpStream::connect(addr).await.map_err(|e| match e.kind() {
            // TSG: with Tomcat down (nothing listening) the phone shows "Host Not Found".
            std::io::ErrorKind::ConnectionRefused => HttpFailure::HostNotFound,
            _ => HttpFailure::ConnectionFailed(e.to_string()),
        })?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| HttpFailure::ConnectionFailed(e.to_string()))?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it.
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn build(
        req: &HttpRequest,
        authority: &str,
        path: &str,
    ) -> Result<hyper::Request<Full<Bytes>>, HttpFailure> {
        let path = if path.is_empty() { "/" } else { path };
        let path = path.split('#').next().unwrap_or("/");
        let mut b = hyper::Request::builder()
            .method(match req.method {
                Method::Get => hyper::Method::GET,
                Method::Post => hyper::Method::POST,
            })
            .uri(path)
            .header(hyper::header::HOST, authority);
        for (n, v) in &req.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        let body = req.body.clone().map(Bytes::from).unwrap_or_default();
        b.body(Full::new(body))
            .map_err(|e| HttpFailure::BadUrl(e.to_string()))
    }

    async fn send_inner(&mut self, req: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
        let Some((authority, path)) = split_http_url(&req.url) else {
            return Err(HttpFailure::BadUrl(req.url.clone()));
        };
        let mut reused = false;
        let mut sender = match self.conn.take() {
            Some((a, s)) if a == authority && !s.is_closed() => {
                reused = true;
                s
            }
            _ => Self::connect(authority).await?,
        };
        if sender.ready().await.is_err() {
            reused = false;
            sender = Self::connect(authority).await?;
        }
        let resp = match sender
            .send_request(Self::build(req, authority, path)?)
            .await
        {
            Ok(r) => r,
            // A kept-alive connection the server closed meanwhile: once more on a new one.
            Err(e) if reused && (e.is_canceled() || e.is_incomplete_message()) => {
                sender = Self::connect(authority).await?;
                sender
                    .send_request(Self::build(req, authority, path)?)
                    .await
                    .map_err(|e| HttpFailure::ConnectionFailed(e.to_string()))?
            }
            Err(e) => return Err(HttpFailure::ConnectionFailed(e.to_string())),
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let keep = !resp
            .headers()
            .get(hyper::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = Limited::new(resp.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    HttpFailure::TooLarge
                } else {
                    HttpFailure::ConnectionFailed(e.to_string())
                }
            })?
            .to_bytes()
            .to_vec();
        if keep {
            self.conn = Some((authority.to_owned(), sender));
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// Sends a phone's requests: [`HttpClient`] over TCP; tests script it (with tokio's paused
/// clock, a scripted transport makes pacing and latency tests exact).
pub trait Transport: Send {
    /// Sends one request.
    fn send(
        &mut self,
        req: &HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, HttpFailure>> + Send;

    /// The phone is idle until its next journey: let go of what it holds (its connection),
    /// so that a fleet's open sockets track its journeys in flight, not its phones.
    fn idle(&mut self) {}

    /// Sends one SIP datagram to `to` (`host:port`); a transport without SIP drops it.
    fn send_sip(
        &mut self,
        _to: &str,
        _datagram: &[u8],
    ) -> impl std::future::Future<Output = ()> + Send {
        async {}
    }

    /// The next SIP datagram for this phone; a transport without SIP never has one.
    fn recv_sip(&mut self) -> impl std::future::Future<Output = Option<Vec<u8>>> + Send {
        std::future::pending()
    }
}

/// [`HttpClient`] plus the phone's own UDP socket for SIP (`emroam phone`, tests).
#[derive(Debug)]
pub struct SipHttpClient {
    /// HTTP.
    pub http: HttpClient,
    /// The phone's SIP socket (its Contact address).
    pub sip: tokio::net::UdpSocket,
}

impl Transport for SipHttpClient {
    fn idle(&mut self) {
        self.http.conn = None;
    }

    fn send(
        &mut self,
        req: &HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, HttpFailure>> + Send {
        self.http.send(req)
    }

    async fn send_sip(&mut self, to: &str, datagram: &[u8]) {
        if let Err(e) = self.sip.send_to(datagram, to).await {
            tracing::debug!(%to, error = %e, "SIP send failed");
        }
    }

    async fn recv_sip(&mut self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 65_536];
        loop {
            match self.sip.recv_from(&mut buf).await {
                Ok((n, _)) => return Some(buf[..n].to_vec()),
                // ICMP port unreachable from an earlier send: keep listening.
                Err(_) => continue,
            }
        }
    }
}

impl Transport for HttpClient {
    fn idle(&mut self) {
        self.conn = None;
    }

    fn send(
        &mut self,
        req: &HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, HttpFailure>> + Send {
        HttpClient::send(self, req)
    }
}

/// What a driver reports while it runs a task (for traces and statistics).
pub trait Observer {
    /// A request is about to go out.
    fn request(&mut self, _req: &HttpRequest) {}
    /// A response (or failure) came back after `took`.
    fn response(&mut self, _r: &Result<HttpResponse, HttpFailure>, _took: Duration) {}
    /// The phone's screen changed.
    fn screen(&mut self, _s: &emroam_protocol::cipxml::Screen) {}
    /// A step completed.
    fn sample(&mut self, _s: &StepSample) {}
    /// A SIP datagram went out (`true`) or came in (`false`).
    fn sip(&mut self, _out: bool, _datagram: &[u8]) {}
    /// A task [`serve_idle`] ran on its own (an answered call, a refresh, a restart) ended.
    fn side_outcome(&mut self, _o: &TaskOutcome) {}
    /// Called before each request; `emroam phone --step` waits for Enter here and returns how
    /// long it waited (left out of the step timings).
    fn before_send(&mut self) -> Duration {
        Duration::ZERO
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;
impl Observer for Quiet {}

/// Lets an idle phone answer SIP (incoming calls, hang-ups, NOTIFYs) until `stop` resolves:
/// an incoming call is rung and answered as the phone's policy says, a restart NOTIFY
/// restarts it, and its registrations are refreshed when due.
pub async fn serve_idle<T: Transport>(
    mut phone: Phone,
    client: &mut T,
    obs: &mut impl Observer,
    stop: impl std::future::Future<Output = ()>,
) -> Phone {
    tokio::pin!(stop);
    loop {
        let refresh = phone.refresh_due();
        let actions = tokio::select! {
            () = &mut stop => return phone,
            Some(d) = client.recv_sip() => {
                obs.sip(false, &d);
                let (p, actions) = phone.step(PhoneEvent::Sip(d), Instant::now().into_std());
                phone = p;
                actions
            }
            () = sleep_until_opt(refresh) => {
                let (p, actions) = phone.step(
                    PhoneEvent::Start { task: Task::Refresh, intended: Instant::now().into_std() },
                    Instant::now().into_std(),
                );
                phone = p;
                actions
            }
        };
        let (p, outcome) = drive(phone, actions, client, obs).await;
        phone = p;
        if let Some(o) = outcome {
            obs.side_outcome(&o);
        }
    }
}

async fn sleep_until_opt(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Runs one task on `phone` to its end, starting at `intended` (latency counts from it).
///
/// Never panics on what a server sends: every path ends in a [`TaskOutcome`].
pub async fn run_task<T: Transport>(
    phone: Phone,
    task: Task,
    intended: Instant,
    client: &mut T,
    obs: &mut impl Observer,
) -> (Phone, TaskOutcome) {
    let kind = task.kind();
    let ev = PhoneEvent::Start {
        task,
        intended: intended.into_std(),
    };
    let (phone, actions) = phone.step(ev, Instant::now().into_std());
    let (phone, outcome) = drive(phone, actions, client, obs).await;
    let outcome = outcome.unwrap_or(TaskOutcome {
        task: kind,
        result: Err(crate::phone::Failure {
            cause: crate::phone::Cause::Abandoned,
            step: crate::phone::Step::Journey,
            shown: "Abandoned".into(),
        }),
    });
    (phone, outcome)
}

/// Carries out `actions` (what the phone answered to its last event) and keeps stepping the
/// phone until its task ends. `None`: no task was in flight (the actions only answered a
/// datagram).
pub async fn drive<T: Transport>(
    mut phone: Phone,
    mut actions: Vec<PhoneAction>,
    client: &mut T,
    obs: &mut impl Observer,
) -> (Phone, Option<TaskOutcome>) {
    loop {
        let mut next = None;
        for a in actions {
            match a {
                PhoneAction::Send(req) => {
                    let paused = obs.before_send();
                    phone.exclude_pause(paused);
                    obs.request(&req);
                    let t = Instant::now();
                    let r = Transport::send(client, &req).await;
                    obs.response(&r, t.elapsed());
                    next = Some(PhoneEvent::Response(r));
                }
                PhoneAction::SleepUntil(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(Instant::from_std(at)) => {
                            next = Some(PhoneEvent::Wake);
                        }
                        Some(d) = client.recv_sip() => {
                            obs.sip(false, &d);
                            next = Some(PhoneEvent::Sip(d));
                        }
                    }
                }
                PhoneAction::SendSip { to, datagram } => {
                    obs.sip(true, &datagram);
                    client.send_sip(&to, &datagram).await;
                }
                PhoneAction::Show(s) => obs.screen(&s),
                PhoneAction::Record(s) => obs.sample(&s),
                PhoneAction::Done(o) => return (phone, Some(o)),
            }
        }
        let ev = match next {
            Some(e) => e,
            None if phone.is_idle() => return (phone, None),
            // Cannot happen with a well-formed machine; end the task rather than hang.
            None => PhoneEvent::Abandon,
        };
        let (p, acts) = phone.step(ev, Instant::now().into_std());
        phone = p;
        actions = acts;
    }
}
