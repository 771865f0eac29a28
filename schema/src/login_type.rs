//! EM login types: which identifier a phone's login form asks for (`loginType=UID|DN|SP`).
//!
//! One enum for the wire value, the topology and profile files (`"uid"`, `"dn"`, `"sp"`) and
//! the command line. Pure.

use std::fmt;
use std::str::FromStr;

/// Which identifier the EM login form asks for, besides the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum LoginType {
    /// User ID (CUCM's default prompt).
    Uid,
    /// Primary extension.
    Dn,
    /// Self-service user ID.
    Sp,
}

impl LoginType {
    /// Every login type, in CUCM's order.
    pub const ALL: [LoginType; 3] = [LoginType::Uid, LoginType::Dn, LoginType::Sp];

    /// The value of `loginType=` on the EM service URL (`UID`, `DN`, `SP`).
    pub fn as_param(self) -> &'static str {
        match self {
            LoginType::Uid => "UID",
            LoginType::Dn => "DN",
            LoginType::Sp => "SP",
        }
    }

    /// Parses `UID`, `DN`, `SP` in any case; anything else is `None` (CUCM answers 215).
    pub fn parse(s: &str) -> Option<LoginType> {
        LoginType::ALL
            .into_iter()
            .find(|t| t.as_param().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for LoginType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_param())
    }
}

/// A login type that is not `uid`, `dn` or `sp`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a login type (uid, dn, sp)")]
pub struct UnknownLoginType(pub String);

impl FromStr for LoginType {
    type Err = UnknownLoginType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LoginType::parse(s.trim()).ok_or_else(|| UnknownLoginType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_file_and_display_agree() {
        for t in LoginType::ALL {
            assert_eq!(LoginType::parse(t.as_param()), Some(t));
            assert_eq!(LoginType::parse(&t.as_param().to_lowercase()), Some(t));
            assert_eq!(t.to_string().parse::<LoginType>(), Ok(t));
        }
        assert_eq!(LoginType::parse("Dn"), Some(LoginType::Dn));
        assert_eq!(LoginType::parse("email"), None);
        assert_eq!(LoginType::parse(""), None);
        assert!("x".parse::<LoginType>().is_err());
    }
}
