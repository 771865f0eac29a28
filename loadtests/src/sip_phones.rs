//! Phones that register over SIP for `em-throughput sip`: one UDP socket standing in for many
//! phones, each registering its current line (the device name while nobody is logged in, the
//! user's extension after a login), answering the cluster's `service-control` NOTIFY with 200
//! and registering its new line at once, as a phone restarting does. Enough of a phone to
//! put the SIP side of every EM login on the server's bill; nothing is checked but answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use emroam_protocol::sip::{self, Message};
use tokio::net::UdpSocket;

/// What the phones saw.
#[derive(Debug, Default)]
pub struct SipTally {
    /// REGISTERs answered 200.
    pub registered: AtomicU64,
    /// REGISTERs answered otherwise.
    pub refused: AtomicU64,
    /// NOTIFYs answered.
    pub notifies: AtomicU64,
    /// Woken at every REGISTER answered 200 after the first registrations.
    pub changed: tokio::sync::Notify,
}

impl SipTally {
    /// Returns once `n` REGISTERs in all have been answered 200.
    pub async fn registered_at_least(&self, n: u64) {
        loop {
            let woken = self.changed.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.registered.load(Ordering::Relaxed) >= n {
                return;
            }
            woken.await;
        }
    }
}

/// One phone: its device, its MAC, the user's extension once logged in.
struct Phone {
    device: String,
    mac: String,
    extension: String,
    logged_in: bool,
    seq: u32,
}

/// `n` phones (`device(i)`, `extension(i)` for i in 1..=n) registered with the cluster at
/// `proxy` from one socket (those that never got a 200 after ten tries are not), then
/// answering NOTIFYs in a task until it is aborted; returns the tally the task counts into.
pub async fn register_all(
    proxy: SocketAddr,
    n: usize,
    device: impl Fn(usize) -> String,
    extension: impl Fn(usize) -> String,
) -> (Arc<SipTally>, tokio::task::JoinHandle<()>) {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind SIP"));
    let local = socket.local_addr().expect("addr").to_string();
    let mut phones: HashMap<String, Phone> = HashMap::new();
    for i in 1..=n {
        let d = device(i);
        let mac = d.trim_start_matches("SEP").to_ascii_lowercase();
        phones.insert(
            mac.clone(),
            Phone {
                device: d,
                mac,
                extension: extension(i),
                logged_in: false,
                seq: 0,
            },
        );
    }
    let tally = Arc::new(SipTally::default());
    // Registered in windows of 64 outstanding, as phones booting in a burst are paced by
    // their retransmissions: a datagram burst of 10,000 would overflow the socket buffers.
    let mut todo: Vec<String> = phones.keys().cloned().collect();
    let mut buf = vec![0u8; 65_536];
    for _round in 0..10 {
        let mut missing = Vec::new();
        for chunk in todo.chunks(64) {
            for mac in chunk {
                if let Some(p) = phones.get_mut(mac) {
                    send_register(&socket, proxy, &local, p).await;
                }
            }
            let mut waiting: std::collections::HashSet<&str> =
                chunk.iter().map(String::as_str).collect();
            let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
            while !waiting.is_empty() {
                let Ok(Ok((len, _))) =
                    tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
                else {
                    break;
                };
                let Ok(m) = sip::parse(&buf[..len]) else {
                    continue;
                };
                if m.code() == Some(200)
                    && let Some(mac) = m.call_id().split('-').nth(1)
                    && waiting.remove(mac)
                {
                    tally.registered.fetch_add(1, Ordering::Relaxed);
                }
            }
            missing.extend(waiting.into_iter().map(str::to_owned));
        }
        if missing.is_empty() {
            break;
        }
        todo = missing;
    }
    let task = {
        let (socket, tally) = (socket.clone(), tally.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(m) = sip::parse(&buf[..len]) else {
                    continue;
                };
                match (m.code(), m.method()) {
                    (None, Some("NOTIFY")) => {
                        let ok = Message::response_to(&m, 200, Some("ph")).render();
                        let _ = socket.send_to(&ok, from).await;
                        tally.notifies.fetch_add(1, Ordering::Relaxed);
                        // The NOTIFY names the REGISTER's Call-ID: `reg-<mac>-<seq>`.
                        let mac = sip::parse_service_control(&m.body)
                            .and_then(|(_, id)| id.split('-').nth(1).map(str::to_owned));
                        if let Some(p) = mac.and_then(|mac| phones.get_mut(&mac)) {
                            p.logged_in = !p.logged_in;
                            send_register(&socket, proxy, &local, p).await;
                        }
                    }
                    (Some(code), Some("REGISTER")) => {
                        if code == 200 {
                            tally.registered.fetch_add(1, Ordering::Relaxed);
                            tally.changed.notify_waiters();
                            continue;
                        }
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                        // 404: the line is not the current profile's (a NOTIFY came while
                        // the phone was not registered and was dropped as stale): the other.
                        let mac = m.call_id().split('-').nth(1).map(str::to_owned);
                        if code == 404
                            && let Some(p) = mac.and_then(|mac| phones.get_mut(&mac))
                        {
                            p.logged_in = !p.logged_in;
                            send_register(&socket, proxy, &local, p).await;
                        }
                    }
                    _ => {}
                }
            }
        })
    };
    (tally, task)
}

async fn send_register(socket: &UdpSocket, proxy: SocketAddr, local: &str, p: &mut Phone) {
    p.seq += 1;
    let line = if p.logged_in {
        p.extension.clone()
    } else {
        p.device.clone()
    };
    let m = Message::request("REGISTER", &format!("sip:{proxy}"))
        .with(
            "Via",
            format!("SIP/2.0/UDP {local};branch=z9hG4bK{}r{}", p.mac, p.seq),
        )
        .with("From", format!("<sip:{line}@{proxy}>;tag={}r", p.mac))
        .with("To", format!("<sip:{line}@{proxy}>"))
        .with("Call-ID", format!("reg-{}-{}", p.mac, p.seq))
        .with("CSeq", format!("{} REGISTER", p.seq))
        .with("Max-Forwards", "70")
        .with(
            "Contact",
            format!(
                "<sip:{}@{local}>;+sip.instance={};expires=3600",
                p.device,
                sip::instance_for_mac(&p.mac)
            ),
        )
        .with("Expires", "3600");
    let _ = socket.send_to(&m.render(), proxy).await;
}
