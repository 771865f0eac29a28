//! `InputFlags`: which characters an Input field accepts, plus the password modifier.
//!
//! Pure value type; parsing never fails. Unknown flag strings are kept verbatim in
//! [`InputKind::Other`] (the old XSD allows any string of ≤ 3 chars) and entered like `A`.

use std::fmt;

use serde::{Serialize, Serializer};

/// The character class of an Input field (the letter of `InputFlags`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum InputKind {
    /// `A`: plain ASCII via multi-tap keypad.
    #[default]
    Ascii,
    /// `T`: telephone number (`0-9 # *`).
    Telephone,
    /// `N`: digits only.
    Numeric,
    /// `E`: digits and math symbols.
    Equation,
    /// `U`: upper-case letters only.
    Uppercase,
    /// `L`: lower-case letters only.
    Lowercase,
    /// Anything else, kept as written (e.g. lower-case `a` seen in multi-vendor code, or a
    /// lone `P`). Phones' handling is UNCONFIRMED; the emulator enters such fields like `A`.
    Other(String),
}

impl InputKind {
    fn letter(&self) -> Option<char> {
        Some(match self {
            Self::Ascii => 'A',
            Self::Telephone => 'T',
            Self::Numeric => 'N',
            Self::Equation => 'E',
            Self::Uppercase => 'U',
            Self::Lowercase => 'L',
            Self::Other(_) => return None,
        })
    }

    fn from_letter(c: char) -> Option<Self> {
        Some(match c {
            'A' => Self::Ascii,
            'T' => Self::Telephone,
            'N' => Self::Numeric,
            'E' => Self::Equation,
            'U' => Self::Uppercase,
            'L' => Self::Lowercase,
            _ => return None,
        })
    }

    /// Whether a phone keypad in this mode can produce `c` (`Other` behaves like `A`).
    pub fn accepts(&self, c: char) -> bool {
        match self {
            Self::Ascii | Self::Other(_) => c.is_ascii() && !c.is_ascii_control(),
            Self::Telephone => c.is_ascii_digit() || c == '#' || c == '*',
            Self::Numeric => c.is_ascii_digit(),
            Self::Equation => c.is_ascii_digit() || "+-*/=.()^%".contains(c),
            Self::Uppercase => c.is_ascii_uppercase(),
            Self::Lowercase => c.is_ascii_lowercase(),
        }
    }
}

/// `InputFlags` of an `InputItem`: a kind plus the `P` (password) modifier, which the
/// newer XSD allows on either side (`AP` or `PA`). Rendered canonically as kind then `P`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputFlags {
    /// The character class.
    pub kind: InputKind,
    /// `P`: characters are shown as `*`.
    pub password: bool,
}

impl InputFlags {
    /// `A`.
    pub const ASCII: Self = Self {
        kind: InputKind::Ascii,
        password: false,
    };
    /// `T`.
    pub const TELEPHONE: Self = Self {
        kind: InputKind::Telephone,
        password: false,
    };
    /// `N`.
    pub const NUMERIC: Self = Self {
        kind: InputKind::Numeric,
        password: false,
    };
    /// `NP`: a PIN.
    pub const PIN: Self = Self {
        kind: InputKind::Numeric,
        password: true,
    };
    /// `AP`: a password.
    pub const PASSWORD: Self = Self {
        kind: InputKind::Ascii,
        password: true,
    };

    /// Parses a flag string; never fails (unknown strings become [`InputKind::Other`]).
    /// Surrounding whitespace is ignored; an empty string means the default `A`.
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        if s.is_empty() {
            return Self::ASCII;
        }
        let mut chars = s.chars();
        let (a, b, rest) = (chars.next(), chars.next(), chars.next());
        let known = match (a, b, rest) {
            (Some(k), None, None) => InputKind::from_letter(k).map(|kind| (kind, false)),
            (Some('P'), Some(k), None) | (Some(k), Some('P'), None) => {
                InputKind::from_letter(k).map(|kind| (kind, true))
            }
            _ => None,
        };
        match known {
            Some((kind, password)) => Self { kind, password },
            None => Self {
                kind: InputKind::Other(s.to_owned()),
                password: false,
            },
        }
    }
}

impl fmt::Display for InputFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, self.kind.letter()) {
            (InputKind::Other(raw), _) => f.write_str(raw),
            (_, Some(letter)) => {
                write!(f, "{letter}")?;
                if self.password {
                    f.write_str("P")
                } else {
                    Ok(())
                }
            }
            (_, None) => Ok(()),
        }
    }
}

impl std::str::FromStr for InputFlags {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

impl Serialize for InputFlags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_xsd_value_parses_and_renders_canonically() {
        for (s, canon) in [
            ("A", "A"),
            ("T", "T"),
            ("N", "N"),
            ("E", "E"),
            ("U", "U"),
            ("L", "L"),
            ("AP", "AP"),
            ("PA", "AP"),
            ("NP", "NP"),
            ("PN", "NP"),
            ("PT", "TP"),
            ("LP", "LP"),
            ("PE", "EP"),
            ("PU", "UP"),
        ] {
            let f = InputFlags::parse(s);
            assert!(!matches!(f.kind, InputKind::Other(_)), "{s}");
            assert_eq!(f.password, s.contains('P'), "{s}");
            assert_eq!(f.to_string(), canon);
        }
    }

    #[test]
    fn unknown_flags_are_kept_verbatim() {
        for s in ["a", "P", "PP", "X", "APN", "ap"] {
            let f = InputFlags::parse(s);
            assert_eq!(f.kind, InputKind::Other(s.to_owned()));
            assert!(!f.password);
            assert_eq!(f.to_string(), s);
        }
    }

    #[test]
    fn empty_means_ascii_and_whitespace_is_ignored() {
        assert_eq!(InputFlags::parse(""), InputFlags::ASCII);
        assert_eq!(InputFlags::parse("  NP \n"), InputFlags::PIN);
    }

    #[test]
    fn kinds_accept_their_characters() {
        assert!(InputKind::Telephone.accepts('#'));
        assert!(!InputKind::Telephone.accepts('a'));
        assert!(InputKind::Numeric.accepts('7'));
        assert!(!InputKind::Numeric.accepts('*'));
        assert!(InputKind::Uppercase.accepts('Q'));
        assert!(!InputKind::Lowercase.accepts('Q'));
        assert!(InputKind::Other("a".into()).accepts('z'));
    }
}
