//! `callgrind-gate`: instruction counts of emroam's hot paths under callgrind, against the
//! baselines committed in `loadtests/callgrind/baselines.toml`; fails (exit 1) when a path grew
//! past the file's margin, naming the path, both counts and the growth.
//!
//! Each path (`paths.rs`) runs in a process of its own under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*callgrind_gate_measured*`:
//! only what runs inside `callgrind_gate_measured` on the main thread is counted, its total is
//! divided by the path's iterations.
//!
//! Usage (`loadtests/callgrind/gate` builds it in release mode and runs it):
//! `callgrind-gate [--update] [PATH...]`, `callgrind-gate --list`,
//! `callgrind-gate run PATH` (one path, what valgrind runs).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use emroam_loadtests::gate;

mod paths;

use paths::PATHS;

/// What a baselines file starts with when `--update` finds none.
const HEADER: &str =
    "# Instructions per iteration of emroam's hot paths under callgrind (loadtests/callgrind/gate).
# The gate fails when a path grows more than margin_percent over its entry here.
# Update with `loadtests/callgrind/gate --update [PATH...]`, in a commit of its own saying why.
margin_percent = 10
";

fn baselines_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("callgrind/baselines.toml")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => {
            let Some(p) = args.get(1).and_then(|n| PATHS.iter().find(|p| p.name == n)) else {
                eprintln!("callgrind-gate run: which path? (--list)");
                return ExitCode::from(2);
            };
            p.run();
            ExitCode::SUCCESS
        }
        Some("--list") => {
            for p in PATHS {
                println!("{}: {} ({} iterations)", p.name, p.description, p.iters);
            }
            ExitCode::SUCCESS
        }
        Some("--help" | "-h") => {
            println!(
                "callgrind-gate [--update] [PATH...]: instructions per iteration of each hot path under callgrind against {}; --list names the paths",
                baselines_file().display()
            );
            ExitCode::SUCCESS
        }
        _ => gate_run(&args),
    }
}

fn gate_run(args: &[String]) -> ExitCode {
    let update = args.iter().any(|a| a == "--update");
    let names: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(n) = names.iter().find(|n| !PATHS.iter().any(|p| p.name == **n)) {
        eprintln!("callgrind-gate: no path {n} (--list names them)");
        return ExitCode::from(2);
    }
    let file = baselines_file();
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(_) if update => HEADER.to_owned(),
        Err(e) => {
            eprintln!("callgrind-gate: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let baselines = match gate::parse_baselines(&text) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("callgrind-gate: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("callgrind-gate: valgrind is not on PATH (apt-get install valgrind)");
        return ExitCode::from(2);
    }
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("callgrind-gate: cannot find its own executable");
        return ExitCode::from(2);
    };
    let dir = std::env::temp_dir().join(format!("callgrind-gate-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("callgrind-gate: {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    println!(
        "callgrind-gate: instructions per iteration, margin {} % ({})",
        baselines.margin_percent,
        file.display()
    );
    let mut measured = Vec::new();
    let mut failed = false;
    for p in PATHS
        .iter()
        .filter(|p| names.is_empty() || names.contains(&p.name))
    {
        let started = Instant::now();
        let per = match measure(&exe, &dir, p) {
            Ok(total) => total.div_ceil(p.iters),
            Err(e) => {
                println!("FAIL {}: not measured: {e}", p.name);
                failed = true;
                continue;
            }
        };
        let verdict = gate::judge(
            p.name,
            per,
            baselines.counts.get(p.name).copied(),
            baselines.margin_percent,
        );
        println!(
            "{}  [{} iterations, {:.0} s]",
            verdict.line(),
            p.iters,
            started.elapsed().as_secs_f64()
        );
        failed |= verdict.fails() && !update;
        measured.push((p.name, p.description, per));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if update {
        let new = gate::update_baselines(&text, &measured);
        if let Err(e) = std::fs::write(&file, new) {
            eprintln!("callgrind-gate: {}: {e}", file.display());
            return ExitCode::from(2);
        }
        println!(
            "callgrind-gate: wrote {} (commit it on its own, saying why)",
            file.display()
        );
    }
    if failed {
        println!("callgrind-gate: FAILED");
        ExitCode::FAILURE
    } else {
        println!("callgrind-gate: passed");
        ExitCode::SUCCESS
    }
}

/// Runs one path under callgrind; the instructions it counted.
fn measure(exe: &Path, dir: &Path, p: &paths::HotPath) -> Result<u64, String> {
    let name = p.name;
    let out = dir.join(format!("{name}.callgrind"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg("--collect-atstart=no")
        .arg("--toggle-collect=*callgrind_gate_measured*")
        .arg(format!("--callgrind-out-file={}", out.display()));
    if p.housekeeping {
        cmd.arg(format!("--toggle-collect={}", paths::HOUSEKEEPING))
            .arg("--zero-before=*callgrind_gate_measured*");
    }
    let run = cmd
        .arg(exe)
        .args(["run", name])
        .output()
        .map_err(|e| format!("valgrind: {e}"))?;
    if !run.status.success() {
        let err = String::from_utf8_lossy(&run.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        return Err(format!(
            "{} exited {:?}:\n{}",
            name,
            run.status.code(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    match gate::callgrind_total(&text) {
        Some(0) | None => Err(format!(
            "{}: nothing counted (was callgrind_gate_measured inlined or renamed?)",
            out.display()
        )),
        Some(n) => Ok(n),
    }
}
