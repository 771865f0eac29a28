//! Topology parsing: expansion, references, errors with their place, redaction.

use std::path::Path;

use super::parse::render;
use super::*;

const MINI: &str = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
ils = { role = "hub" }
em = { max_concurrent_requests = 7 }

[[profile]]
name = "bob-udp"
lines = [{ dn = "1000001", label = "Bob" }]

[[user]]
id = "bob"
pin = "12345"
primary_extension = "1000001"
home = "c1"
profiles = ["bob-udp"]

[[phone]]
name = "SEP000000001001"
cluster = "c1"

[[user_pattern]]
home = "c1"
count = 3
id = "u{n:03}"
pin = "1111"
extension = 5000

[[phone_pattern]]
cluster = "c1"
count = 2
first = "SEP0000000010FF"
"#;

#[test]
fn parses_and_expands() {
    let t = Topology::parse(MINI).unwrap();
    assert_eq!(t.clusters[0].params.max_concurrent_requests, 7);
    assert_eq!(t.clusters[0].ports, Ports::default());
    assert_eq!(t.users.len(), 4);
    assert_eq!(t.users[1].id, "u001");
    assert_eq!(t.users[3].primary_extension.as_deref(), Some("5002"));
    assert_eq!(t.users[0].default_profile.as_deref(), Some("bob-udp"));
    assert_eq!(t.phones[2].name, "SEP000000001100");
    assert_eq!(t.profiles.len(), 4);
    assert_eq!(t.profiles[3].lines[0].dn, "5002");
}

fn invalid(src: &str) -> (usize, String) {
    match Topology::parse(src) {
        Err(TopologyError::Invalid { line, field, .. }) => (line, field),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn bad_reference_names_line_and_field() {
    let src = MINI.replace("profiles = [\"bob-udp\"]", "profiles = [\"nope\"]");
    assert_eq!(invalid(&src), (17, "profiles".into()));
    let src = MINI.replace("name = \"SEP000000001001\"", "name = \"SEP12\"");
    assert_eq!(invalid(&src).1, "name");
    let src = MINI.replace(
        "max_concurrent_requests = 7",
        "max_concurrent_requests = 700",
    );
    assert_eq!(invalid(&src), (6, "em.max_concurrent_requests".into()));
    let src = MINI.replace("id = \"u{n:03}\"", "id = \"u\"");
    assert_eq!(invalid(&src).1, "id");
    let src = MINI.replace("first = \"SEP0000000010FF\"", "first = \"SEP000000001000\"");
    assert_eq!(invalid(&src).1, "first");
}

#[test]
fn a_duration_without_a_unit_is_refused_with_its_place() {
    let src = format!("[ils]\nsync_interval = \"20\"\n{MINI}");
    match Topology::parse(&src) {
        Err(e @ TopologyError::Invalid { .. }) => {
            let text = e.to_string();
            assert!(
                text.starts_with("line 2, column 17: `ils.sync_interval`"),
                "{text}"
            );
            assert!(text.contains("has no unit"), "{text}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let src = MINI.replace(
        "max_concurrent_requests = 7",
        "max_concurrent_requests = 7, service_time = \"20\"",
    );
    let text = Topology::parse(&src).unwrap_err().to_string();
    assert!(text.contains("has no unit"), "{text}");
}

#[test]
fn syntax_errors_carry_line_and_field() {
    let src = MINI.replace("pin = \"12345\"\n", "");
    let msg = Topology::parse(&src).unwrap_err().to_string();
    assert!(msg.contains("line") && msg.contains("pin"), "{msg}");
    let msg = Topology::parse("[[cluster]]\nid = \"c1\"\naddress = \"127.0.0.1\"\nbogus = 1\n")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 4") && msg.contains("bogus"), "{msg}");
}

#[test]
fn debug_never_shows_pins_or_passwords() {
    let t = Topology::parse(&MINI.replace("pin = \"12345\"", "pin = \"987654321\"")).unwrap();
    let d = format!("{t:?}");
    assert!(!d.contains("987654321") && d.contains("bob"));
}

#[test]
fn render_templates() {
    assert_eq!(render("u{n}", 7).unwrap(), "u7");
    assert_eq!(render("c1-{n:05}-x", 42).unwrap(), "c1-00042-x");
    assert!(render("nope", 1).is_err());
    assert!(render("u{n:x}", 1).is_err());
}

#[test]
fn five_clusters_and_the_ils_table_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies");
    let t = Topology::load(&dir.join("five-clusters.toml")).unwrap();
    assert_eq!(t.clusters.len(), 5);
    let hubs = t.clusters.iter().filter(|c| c.ils == IlsRole::Hub).count();
    assert_eq!(hubs, 2);
    assert_eq!(t.ils.sync_interval, std::time::Duration::from_secs(30));
    assert_eq!(t.users.iter().filter(|u| u.superuser).count(), 5);
    let bad = "[ils]\nsync_interval = \"soon\"\n";
    let e = Topology::parse(bad).unwrap_err().to_string();
    assert!(e.contains("ils.sync_interval"), "{e}");
    assert!(
        !format!("{:?}", t.ils).contains("emroam-ils"),
        "Debug hides the password"
    );
}

#[test]
fn seed_and_load_topologies_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies");
    let seed = Topology::load(&dir.join("seed.toml")).unwrap();
    assert_eq!(seed.clusters.len(), 3);
    assert_eq!(
        seed.clusters[2].ils,
        IlsRole::Spoke {
            hub: "cluster2".into()
        }
    );
    assert_eq!(seed.phones.len(), 30);
    assert!(
        !seed
            .phones
            .iter()
            .find(|p| p.name == "SEP000000001010")
            .unwrap()
            .em_enabled
    );
    let bob = seed.users.iter().find(|u| u.id == "bob").unwrap();
    assert!(bob.superuser && bob.home == "cluster1");
    assert!(
        !seed
            .users
            .iter()
            .find(|u| u.id == "kally")
            .unwrap()
            .superuser
    );
    let load = Topology::load(&dir.join("load-3x10k.toml")).unwrap();
    assert_eq!(load.users.len(), 30_000);
    assert!(load.phones.len() >= 30_000);
}

#[test]
fn comments_name_only_phones_the_topology_has() {
    // A device name in a comment, `N` standing for each cluster's number (`SEP00000000N001`),
    // must be one of the file's phones.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let t = Topology::load(&path).unwrap();
        let src = std::fs::read_to_string(&path).unwrap();
        let comments = src
            .lines()
            .filter_map(|l| l.split_once('#').map(|(_, c)| c));
        let mut named = 0;
        for word in comments.flat_map(|c| c.split(|ch: char| !ch.is_ascii_alphanumeric())) {
            if !(word.len() == 15 && word.starts_with("SEP")) {
                continue;
            }
            for n in 1..=t.clusters.len() {
                let name = word.replace('N', &n.to_string());
                assert!(
                    t.phones.iter().any(|p| p.name == name),
                    "{}: the comment's {word} (N = {n}): no phone {name}",
                    path.display()
                );
                named += 1;
            }
        }
        assert!(named > 0, "{}: no phone named in a comment", path.display());
    }
}

#[test]
fn a_load_without_generated_profiles_has_the_same_users_and_phones() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies/load-3x10k.toml");
    let full = Topology::load(&path).unwrap();
    let lite = Topology::load_without_generated_profiles(&path).unwrap();
    let ids = |t: &Topology| {
        t.users
            .iter()
            .map(|u| (u.id.clone(), u.home.clone(), u.profiles.clone()))
            .collect::<Vec<_>>()
    };
    let names = |t: &Topology| t.phones.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&lite), ids(&full));
    assert_eq!(names(&lite), names(&full));
    // Only the profiles the file lists: the ones its `[[user_pattern]]`s generate are named.
    assert_eq!(full.profiles.len() - lite.profiles.len(), 30_000);
    assert!(
        lite.profiles
            .iter()
            .all(|p| full.profiles.iter().any(|f| f.name == p.name))
    );
}

#[test]
fn security_profiles_give_phones_digest_and_their_user() {
    let sp = "\n[[security_profile]]\nname = \"d\"\ndigest_authentication = true\n";
    let base = MINI.replace(
        "[[user]]\nid = \"bob\"",
        "[[user]]\nid = \"bob\"\ndigest_credentials = \"s3\"",
    );
    let t = Topology::parse(&format!(
        "{base}{sp}\n[[phone]]\nname = \"SEP000000001002\"\ncluster = \"c1\"\nsecurity_profile = \"d\"\ndigest_user = \"bob\"\n"
    ))
    .unwrap();
    let p = t
        .phones
        .iter()
        .find(|p| p.name == "SEP000000001002")
        .unwrap();
    assert!(p.digest);
    assert_eq!(p.nonce_validity_time, 600, "CUCM's default");
    assert_eq!(p.digest_user.as_deref(), Some("bob"));
    assert_eq!(p.security_profile.as_deref(), Some("d"));
    assert!(!t.phones[0].digest, "no profile: CUCM's non-secure default");
    assert!(!format!("{:?}", t.users[0]).contains("s3"));
    // Patterns name their digest users by place.
    let pat = "\n[[phone_pattern]]\ncluster = \"c1\"\ncount = 3\nfirst = \"SEP000000009001\"\nsecurity_profile = \"d\"\ndigest_user = \"u{n:03}\"\n";
    let with_creds = base.replace(
        "extension = 5000",
        "extension = 5000\ndigest_credentials = \"p\"",
    );
    let t = Topology::parse(&format!("{with_creds}{sp}{pat}")).unwrap();
    let users: Vec<_> = t
        .phones
        .iter()
        .filter(|p| p.digest)
        .map(|p| p.digest_user.clone().unwrap())
        .collect();
    assert_eq!(users, ["u001", "u002", "u003"]);
    let short = sp.replace("true\n", "true\nnonce_validity_time = 30\n");
    let t = Topology::parse(&format!("{with_creds}{short}{pat}")).unwrap();
    assert_eq!(t.phones.last().unwrap().nonce_validity_time, 30);
    let zero = sp.replace("true\n", "true\nnonce_validity_time = 0\n");
    assert_eq!(
        invalid(&format!("{with_creds}{zero}{pat}")).1,
        "nonce_validity_time"
    );
    // Refusals, each naming its field.
    let (_, m) = invalid(&format!("{base}{sp}{pat}"));
    assert_eq!(m, "digest_user");
    let (_, m) = invalid(&format!(
        "{base}{sp}\n[[phone]]\nname = \"SEP000000001002\"\ncluster = \"c1\"\nsecurity_profile = \"d\"\n"
    ));
    assert_eq!(m, "security_profile");
    let (_, m) = invalid(&format!(
        "{base}\n[[phone]]\nname = \"SEP000000001002\"\ncluster = \"c1\"\nsecurity_profile = \"x\"\n"
    ));
    assert_eq!(m, "security_profile");
    let (_, m) = invalid(&format!(
        "{base}{sp}\n[[phone]]\nname = \"SEP000000001002\"\ncluster = \"c1\"\ndigest_user = \"nobody\"\n"
    ));
    assert_eq!(m, "digest_user");
}

const TLS_PAIR: &str = r#"
[ils]
tls_ca = "pki/ca.pem"
[[cluster]]
id = "c1"
address = "127.0.0.1"
ils = { role = "hub", tls_cert = "pki/c1.pem", tls_key = "/keys/c1.key" }
[[cluster]]
id = "c2"
address = "127.0.0.1"
ils = { role = "spoke", hub = "c1", tls_cert = "pki/c2.pem", tls_key = "pki/c2.key" }
[[cluster]]
id = "lone"
address = "127.0.0.1"
"#;

#[test]
fn ils_tls_files_resolve_against_the_topology_file() {
    let dir = std::env::temp_dir().join(format!("emroam-topo-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.toml");
    std::fs::write(&path, TLS_PAIR).unwrap();
    let t = Topology::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        t.ils.tls_ca.as_deref(),
        Some(dir.join("pki/ca.pem").as_path())
    );
    let c1 = t.clusters[0].ils_tls.clone().unwrap();
    assert_eq!(c1.cert, dir.join("pki/c1.pem"));
    assert_eq!(c1.key, Path::new("/keys/c1.key"), "absolute stays");
    assert_eq!(
        t.clusters[1].ils_tls.as_ref().unwrap().key,
        dir.join("pki/c2.key")
    );
    assert_eq!(
        t.clusters[2].ils_tls, None,
        "a standalone cluster needs none"
    );
    // Parsed from text, paths stay as written.
    let t = Topology::parse(TLS_PAIR).unwrap();
    assert_eq!(t.ils.tls_ca.as_deref(), Some(Path::new("pki/ca.pem")));
}

#[test]
fn ils_tls_is_all_or_nothing() {
    // A CA but a cluster without a certificate.
    let src = TLS_PAIR.replace(r#", tls_cert = "pki/c2.pem", tls_key = "pki/c2.key""#, "");
    assert_eq!(invalid(&src), (9, "ils.tls_cert".into()));
    // A certificate without a CA.
    let src = TLS_PAIR.replace(r#"tls_ca = "pki/ca.pem""#, "");
    assert_eq!(invalid(&src), (7, "ils.tls_cert".into()));
    // A certificate without its key.
    let src = TLS_PAIR.replace(r#", tls_key = "pki/c2.key""#, "");
    assert_eq!(invalid(&src), (11, "ils.tls_key".into()));
}
