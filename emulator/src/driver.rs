//! The thin async driver: carries out a phone's actions over [`httpc`] and tokio timers and
//! feeds the results back into [`Phone::step`].
//!
//! Each phone has its own [`HttpClient`] (its own TCP connection, kept alive between
//! requests to the same host, as a phone's HTTP stack does). No phone logic lives here.

use std::time::Duration;

use tokio::time::Instant;

use crate::httpc;
use crate::phone::http::split_http_url;
use crate::phone::{
    Cause, HttpFailure, HttpRequest, HttpResponse, Phone, PhoneAction, PhoneEvent, StepSample,
    Task, TaskOutcome,
};

/// Sends a phone's requests: one keep-alive connection at a time ([`httpc::Conn`]), a timeout
/// per request.
#[derive(Debug)]
pub struct HttpClient {
    timeout: Duration,
    /// Boxed so that an idle phone (no connection) keeps one pointer, not a socket's worth.
    conn: Option<Box<httpc::Conn>>,
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

    async fn send_inner(&mut self, req: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
        let Some((authority, path)) = split_http_url(&req.url) else {
            return Err(HttpFailure::BadUrl(req.url.clone()));
        };
        let path = match path.split('#').next() {
            Some(p) if !p.is_empty() => p,
            _ => "/",
        };
        // Taken out while in use: a request that fails or is cancelled leaves no connection.
        let (mut conn, reused) = match self.conn.take() {
            Some(c) if c.authority() == authority => (c, true),
            _ => (Box::new(httpc::Conn::connect(authority).await?), false),
        };
        let (resp, keep) = match conn.exchange(req, path).await {
            Ok(r) => r,
            // A kept-alive connection the server closed meanwhile: once more on a new one.
            Err(httpc::ExchangeError::Closed) if reused => {
                conn = Box::new(httpc::Conn::connect(authority).await?);
                conn.exchange(req, path).await.map_err(Self::failure)?
            }
            Err(e) => return Err(Self::failure(e)),
        };
        if keep {
            self.conn = Some(conn);
        }
        Ok(resp)
    }

    fn failure(e: httpc::ExchangeError) -> HttpFailure {
        match e {
            httpc::ExchangeError::Closed => {
                HttpFailure::ConnectionFailed("connection closed before the response".into())
            }
            httpc::ExchangeError::Failed(f) => f,
        }
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

/// A phone's way out: its HTTP client and, when it speaks SIP, where its datagrams go. The one
/// transport of every phone: `emroam phone` and tests give it a socket of its own, a fleet
/// shard its shared socket and the journey's inbox.
#[derive(Debug)]
pub struct PhoneLink<H = HttpClient> {
    /// HTTP (a scripted transport in tests).
    pub http: H,
    /// SIP; `None`: a phone without SIP (datagrams it asks to send are dropped).
    pub sip: Option<SipPort>,
}

/// Where a phone's SIP datagrams go and come from.
#[derive(Debug)]
pub enum SipPort {
    /// A socket of the phone's own (its Contact address).
    Own(tokio::net::UdpSocket),
    /// A socket shared by many phones (a fleet shard's), and this phone's inbox: the datagrams
    /// the socket's owner routed to it.
    Shared {
        /// The shared socket, for sending.
        socket: std::sync::Arc<tokio::net::UdpSocket>,
        /// This phone's datagrams.
        inbox: tokio::sync::mpsc::Receiver<Vec<u8>>,
    },
}

impl PhoneLink {
    /// HTTP with `timeout` per request, and SIP on a socket of the phone's own.
    pub fn with_own_socket(timeout: Duration, socket: tokio::net::UdpSocket) -> Self {
        PhoneLink {
            http: HttpClient::new(timeout),
            sip: Some(SipPort::Own(socket)),
        }
    }
}

impl<H: Transport> Transport for PhoneLink<H> {
    fn idle(&mut self) {
        self.http.idle();
    }

    fn send(
        &mut self,
        req: &HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, HttpFailure>> + Send {
        self.http.send(req)
    }

    async fn send_sip(&mut self, to: &str, datagram: &[u8]) {
        let sent = match &self.sip {
            Some(SipPort::Own(socket)) => socket.send_to(datagram, to).await,
            Some(SipPort::Shared { socket, .. }) => socket.send_to(datagram, to).await,
            None => return,
        };
        if let Err(e) = sent {
            tracing::debug!(%to, error = %e, "SIP send failed");
        }
    }

    async fn recv_sip(&mut self) -> Option<Vec<u8>> {
        match &mut self.sip {
            Some(SipPort::Own(socket)) => {
                // Room for the largest datagram, not zeroed: the kernel writes what it has.
                let mut buf = Vec::with_capacity(65_536);
                loop {
                    buf.clear();
                    match socket.recv_buf_from(&mut buf).await {
                        Ok(_) => return Some(buf.as_slice().to_vec()),
                        // ICMP port unreachable from an earlier send: keep listening.
                        Err(_) => continue,
                    }
                }
            }
            Some(SipPort::Shared { inbox, .. }) => inbox.recv().await,
            None => std::future::pending().await,
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
    let outcome = outcome.unwrap_or_else(|| TaskOutcome::failed(kind, Cause::Abandoned));
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
