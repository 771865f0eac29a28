//! Emulated phones (the `emroam` phone machine) made ready for a benchmark: booted from the
//! cluster's config file, the user logged in, the lines registered over SIP on a socket of the
//! phone's own.

use std::net::SocketAddr;
use std::time::Duration;

use emroam_emulator::driver::{PhoneLink, Quiet, run_task};
use emroam_emulator::phone::{
    Credentials, LoginType as PhoneLoginType, Model, Phone, PhoneSpec, Task,
};

/// UID login credentials of `user`, PIN 12345 (every PIN of the topologies benchmarks use).
pub fn uid(user: &str) -> Credentials {
    Credentials {
        id: user.into(),
        pin: "12345".into(),
        login_type: PhoneLoginType::Uid,
        profile: None,
    }
}

/// `device` booted from its config file on the cluster's config port `config`, with SIP on a
/// socket of its own when `sip` (else HTTP only, as a phone of `emroam fleet` without `[sip]`).
///
/// # Panics
/// The boot fails: the benchmark has nothing to measure then.
pub async fn booted_phone(config: SocketAddr, device: &str, sip: bool) -> (Phone, PhoneLink) {
    let phone = Phone::new(PhoneSpec {
        device: device.into(),
        model: Model::from_topology_name("Cisco 8865"),
        config_url: Some(format!("http://{config}/{device}.cnf.xml")),
        service_url: None,
    });
    let (phone, mut client) = if sip {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp");
        let contact = sock.local_addr().expect("addr").to_string();
        (
            phone.with_sip(&contact),
            PhoneLink::with_own_socket(Duration::from_secs(5), sock),
        )
    } else {
        (
            phone,
            PhoneLink {
                http: emroam_emulator::driver::HttpClient::new(Duration::from_secs(5)),
                sip: None,
            },
        )
    };
    let now = tokio::time::Instant::now();
    let (phone, o) = run_task(phone, Task::Boot, now, &mut client, &mut Quiet).await;
    assert!(o.result.is_ok(), "{device} boot: {o:?}");
    (phone, client)
}

/// `device` at `cluster` booted, `user` logged in, registered with its own SIP socket.
///
/// # Panics
/// A step fails: the benchmark has nothing to measure then.
pub async fn ready_phone(
    running: &emroam_server::Running,
    cluster: &str,
    device: &str,
    user: &str,
) -> (Phone, PhoneLink) {
    let (_, config) = running.addrs(cluster).expect("cluster");
    let (phone, mut client) = booted_phone(config, device, true).await;
    let now = tokio::time::Instant::now();
    let (phone, o) = run_task(phone, Task::Login(uid(user)), now, &mut client, &mut Quiet).await;
    assert!(o.result.is_ok(), "{user} login: {o:?}");
    (phone, client)
}

/// An EM login of `user` (UID, PIN 12345) on `device`, as the reference cluster's own
/// operation: for benchmarks that log someone in without a phone.
pub fn uid_login(device: &str, user: &str) -> emroam_server::ops::Login {
    use emroam_server::ops::{Credential, Login, LoginDuration, LoginType};
    Login {
        device: device.into(),
        credential: Credential::Phone {
            login_type: LoginType::Uid,
            id: user.into(),
            pin: "12345".into(),
        },
        profile: None,
        duration: LoginDuration::Default,
        origin: emroam_server::cluster::Origin::default(),
    }
}
