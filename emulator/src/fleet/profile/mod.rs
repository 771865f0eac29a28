//! Load profiles: TOML in, a validated [`Profile`] out, before anything runs. Every error
//! names the line of the profile it is about. The format is described in
//! `docs/profiles.md`; `profiles/*.toml` are examples.
//!
//! Layers: `raw` is the TOML as written (serde); `validate` and `targets` check it and build
//! the validated `types`. Pure, but for [`Profile::load`] reading the file (and the topology
//! file it names).

mod raw;
mod targets;
mod types;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

use emroam_schema::Topology;

use raw::RawProfile;
use validate::Validator;

pub use types::{
    AppUser, CalleeMix, Fault, FoundLoggedIn, Model, Phase, Profile, ProfileError, Rate, SipSpec,
    Slo, Target, Think, UserSpec,
};

impl Profile {
    /// Reads and validates a profile file.
    ///
    /// # Errors
    /// [`ProfileError`] naming the file and line.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let src = std::fs::read_to_string(path).map_err(|e| ProfileError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Profile::parse(&src, &path.display().to_string(), path.parent())
    }

    /// Validates a profile's text; `file` names it in errors, `dir` resolves relative paths.
    ///
    /// # Errors
    /// [`ProfileError`] naming the line.
    pub fn parse(src: &str, file: &str, dir: Option<&Path>) -> Result<Profile, ProfileError> {
        Profile::parse_with(src, file, dir, None)
    }

    /// [`Profile::parse`], with `topology` standing in for the file the profile names (the
    /// demo's in-process clusters, bound to ports chosen at run time).
    ///
    /// # Errors
    /// [`ProfileError`] naming the line.
    pub fn parse_with(
        src: &str,
        file: &str,
        dir: Option<&Path>,
        topology: Option<&Topology>,
    ) -> Result<Profile, ProfileError> {
        let v = Validator::new(src, file);
        let raw: RawProfile = toml::from_str(src).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| v.position(s.start));
            let msg = match e.message() {
                m if m.contains("untagged enum RawUsers") => "users: expected a list of \
                    {id, pin, dn?, self_service_id?} or a pattern \
                    {prefix, first, count, width?, pin, dn_first?}"
                    .to_owned(),
                m if m.contains("untagged enum RawDevices") => {
                    "devices: expected a list of names or {first = \"SEP…\", count}".to_owned()
                }
                m if m.contains("untagged enum RawRate") => {
                    "a rate is a number or [from, to] (per second)".to_owned()
                }
                m => m.to_owned(),
            };
            ProfileError {
                file: file.to_owned(),
                line,
                column,
                message: msg,
            }
        })?;
        v.build(raw, dir, topology)
    }
}
