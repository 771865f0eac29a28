//! The `emroam` binary: parse the command line, set up logging, run, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = emroam::help::parse();
    emroam::logging::init(cli.verbose, cli.dashboard_log().as_deref());
    match emroam::cmd::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            if emroam::cmd::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("emroam: {err:#}");
            emroam::cmd::Exit::Other.into()
        }
    }
}
