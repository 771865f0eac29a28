//! The command line: clap derive structs, one subcommand per job.
//!
//! Raw arguments only; each command validates its own into a typed config before it starts.

use std::path::PathBuf;

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use emroam_schema::LoginType;

/// emroam: emulate fleets of Cisco IP phones against Extension Mobility, and load-test it.
#[derive(Debug, Parser)]
#[command(name = "emroam", version, about, long_about = None)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Where logs go while a dashboard owns the terminal: `$EMROAM_LOG`, or `emroam.log` in
    /// the temporary directory; `None` when no dashboard shows (logs go to stderr).
    pub fn dashboard_log(&self) -> Option<PathBuf> {
        let tui = match &self.command {
            Command::Demo(a) => !a.headless,
            Command::Fleet(a) => a.tui,
            Command::Tui(_) => true,
            _ => false,
        };
        tui.then(|| {
            std::env::var_os("EMROAM_LOG")
                .map_or_else(|| std::env::temp_dir().join("emroam.log"), PathBuf::from)
        })
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the seed three-cluster topology in-process and run the demo profile against it.
    Demo(DemoArgs),
    /// Run reference clusters from a topology file.
    Server(ServerArgs),
    /// Drive one phone step by step, printing every message.
    Phone(PhoneArgs),
    /// Fire a load profile and report.
    Fleet(FleetArgs),
    /// Watch running clusters in a terminal dashboard.
    Tui(TuiArgs),
    /// Show what a phone would display for a CiscoIPPhone XML document.
    ///
    /// A document a phone would reject exits 2 and prints the phone's error line
    /// (`XML Error [4]: Parse Error`, `XML Error [5]: Unsupported XML Object`).
    Xml(XmlArgs),
}

/// `emroam demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// No TUI: a progress line and the final report.
    #[arg(long)]
    pub headless: bool,
    /// Shorten (or stretch) the demo's phases to last this long in total (at least `20s`).
    ///
    /// Each phase, and each step of the roaming story, keeps its share of the whole; under
    /// 20s the story's steps would crowd each other, so it is refused. The phones' boot
    /// before the phases and the drain after them come on top.
    #[arg(long, value_parser = parse_positive_duration)]
    pub duration: Option<std::time::Duration>,
    /// Write the JSON summary, HdrHistogram log and CSV time series here, as `fleet --out`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `emroam server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The topology file (TOML) describing clusters, users, profiles and phones.
    #[arg(long)]
    pub topology: PathBuf,
    /// Run only these clusters (repeatable); all of the file's by default.
    #[arg(long = "cluster")]
    pub clusters: Vec<String>,
    /// Where each cluster keeps its login database (`<cluster>.db`, locked through
    /// `<cluster>.lock` while a server runs it).
    #[arg(long, default_value = "emroam-data")]
    pub data_dir: PathBuf,
    /// Keep login state in memory only (lost at exit) instead of in `--data-dir`.
    #[arg(long, conflicts_with = "data_dir")]
    pub in_memory: bool,
    /// Token that lets non-loopback clients use the admin API (`Authorization: Bearer TOKEN`).
    #[arg(long, env = "EMROAM_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// How long shutdown waits for in-flight requests, in seconds.
    #[arg(long, default_value_t = 5)]
    pub drain_secs: u64,
    /// How hard a login commit holds before the phone hears it succeeded: `crash` survives the
    /// process being killed (SQLite synchronous=NORMAL); `power-loss` also survives power loss
    /// (synchronous=FULL: every group commit waits for a disk sync, so the rate follows the disk).
    #[arg(long, value_enum, default_value_t = SyncMode::Crash)]
    pub sync: SyncMode,
}

/// `emroam server --sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncMode {
    /// Survives `kill -9` and any crash of the process.
    Crash,
    /// Also survives an OS crash or power loss.
    PowerLoss,
}

/// `emroam phone`.
#[derive(Debug, Args)]
pub struct PhoneArgs {
    /// What the phone does.
    #[arg(value_enum, default_value_t = PhoneCmd::Status)]
    pub action: PhoneCmd,
    /// The topology file the phone's identity comes from.
    #[arg(long)]
    pub topology: Option<PathBuf>,
    /// The phone's device name (`SEP` + 12 hex digits).
    #[arg(long)]
    pub device: Option<String>,
    /// The EM service URL, instead of one taken from the phone's config file.
    #[arg(long)]
    pub service: Option<String>,
    /// Which identifier the login form asks for.
    #[arg(long, value_enum, default_value_t = LoginType::Uid)]
    pub login_type: LoginType,
    /// User ID, primary extension or self-service ID, by login type.
    #[arg(long)]
    pub id: Option<String>,
    /// The PIN (never printed); by default, with --topology, the topology's PIN for the user.
    ///
    /// The user is the one whose user ID, primary extension or self-service ID (by
    /// --login-type) is --id. A PIN given as --pin shows in `ps` and the shell's history;
    /// EMROAM_PIN does not.
    #[arg(long, env = "EMROAM_PIN", hide_env_values = true)]
    pub pin: Option<String>,
    /// Wait for Enter between steps.
    #[arg(long)]
    pub step: bool,
    /// Register over SIP (at boot and after each restart) and wait for the cluster's
    /// service-control NOTIFY to restart, printing every SIP message.
    #[arg(long)]
    pub sip: bool,
    /// After logging in (or booting), call this directory number over SIP, hold, hang up.
    #[arg(long, requires = "sip", value_name = "DN")]
    pub call: Option<String>,
    /// How long to stay in the call placed with --call.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub hold: std::time::Duration,
    /// After logging in (or booting), stay registered this long, answering calls (and
    /// refreshing the registration when due).
    #[arg(long, requires = "sip", value_parser = parse_duration)]
    pub answer_for: Option<std::time::Duration>,
    /// How long an incoming call rings before the phone answers it.
    #[arg(long, default_value = "0s", requires = "answer_for", value_parser = parse_duration)]
    pub ring: std::time::Duration,
    /// Let incoming calls ring until the caller gives up (never answer).
    #[arg(long, requires = "answer_for")]
    pub no_answer: bool,
    /// Decline incoming calls with 486 Busy Here.
    #[arg(long, requires = "answer_for", conflicts_with = "no_answer")]
    pub busy: bool,
    /// The phone's config file URL (`http://host:6970/SEP….cnf.xml`): fetched at boot and
    /// after each login or logout (the restart).
    #[arg(long)]
    pub config_url: Option<String>,
    /// The device profile to choose when the cluster offers several.
    #[arg(long)]
    pub profile: Option<String>,
    /// Give up on a request after this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// The model the phone announces (topology spelling, e.g. `Cisco 8865`).
    #[arg(long, default_value = "Cisco 8865")]
    pub model: String,
}

/// What `emroam phone` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhoneCmd {
    /// Log in.
    Login,
    /// Log out.
    Logout,
    /// Log in, then log out.
    LoginLogout,
    /// Open the EM service and say whether someone is logged in.
    Status,
}

/// `emroam fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The load profile (TOML).
    pub profile: PathBuf,
    /// Show the live dashboard.
    #[arg(long)]
    pub tui: bool,
    /// Write the JSON summary, HdrHistogram log and CSV time series here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Shorten (or stretch) the profile's phases to last this long in total (e.g. `20s`).
    ///
    /// Each phase (and each fault's and story step's time) keeps its share of the whole. The phones' boot
    /// before the phases and the drain after them come on top.
    #[arg(long, value_parser = parse_positive_duration)]
    pub duration: Option<std::time::Duration>,
    /// Serve the fleet's controls (pause, resume, arrival rate) over HTTP on this loopback
    /// address (`127.0.0.1:9990`; port 0 picks one): `GET /control`, `POST /control/pause`,
    /// `POST /control/resume`, `POST /control/rate?factor=F` or `?times=F`.
    #[arg(long)]
    pub control: Option<std::net::SocketAddr>,
}

/// `emroam tui`.
#[derive(Debug, Args)]
pub struct TuiArgs {
    /// The topology file naming the clusters to watch.
    #[arg(long)]
    pub topology: PathBuf,
}

/// `emroam xml`.
#[derive(Debug, Args)]
pub struct XmlArgs {
    /// The document to show; `-` reads standard input.
    pub file: PathBuf,
    /// Print the parsed object as JSON (`"object"` names the root element).
    #[arg(long)]
    pub json: bool,
    /// The charset a phone assumes when the prolog declares none (its locale's).
    #[arg(long, default_value = "iso-8859-1")]
    pub locale_charset: String,
}

/// A duration flag, in the grammar of every TOML file (`emroam_schema::duration`: a unit is
/// required, `500ms`, `2s`, `1m`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    emroam_schema::duration::parse(s).map_err(|e| e.to_string())
}

/// A duration flag that must be more than zero.
fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    emroam_schema::duration::parse_positive(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn server_takes_clusters_and_data_dir() {
        let cli = Cli::try_parse_from([
            "emroam",
            "server",
            "--topology",
            "t.toml",
            "--cluster",
            "c1",
            "--cluster",
            "c2",
            "--data-dir",
            "d",
        ])
        .unwrap();
        match cli.command {
            Command::Server(a) => {
                assert_eq!(a.clusters, ["c1", "c2"]);
                assert_eq!(a.data_dir, PathBuf::from("d"));
                assert!(!a.in_memory);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn xml_takes_stdin_dash_and_json() {
        let cli = Cli::try_parse_from(["emroam", "xml", "-", "--json"]).unwrap();
        match cli.command {
            Command::Xml(a) => {
                assert_eq!(a.file, PathBuf::from("-"));
                assert!(a.json);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
