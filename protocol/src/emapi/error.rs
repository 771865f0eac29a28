//! The one error type of the EM API layer, and the EMService code each error is answered with.

use thiserror::Error;

use crate::codes;

/// Why an EM API document (or its form body) could not be turned into a message.
///
/// Every variant maps to the EMService code a server answers with ([`EmApiError::em_code`]):
/// anything wrong with the document itself is code 1 ("Error on parsing": Cisco validates against
/// the DTD, so a missing element is a parse error too); a well-formed document that asks for an
/// operation EMService does not know is code 8 ("Query type undetermined").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EmApiError {
    /// The XML is not well-formed (bad syntax, mismatched tags, truncated, NUL, several roots).
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The bytes are not UTF-8 (the only encoding EM API clients send).
    #[error("input is not valid UTF-8 (first bad byte at {offset})")]
    InvalidUtf8 {
        /// Offset of the first byte that is not UTF-8.
        offset: usize,
    },
    /// The document has a `<!DOCTYPE>`; refused so no DTD or entity definition is ever processed.
    #[error("DOCTYPE declarations are refused")]
    DoctypeRefused,
    /// An entity reference other than the five predefined ones (`&lol9;` in a billion-laughs
    /// document); never expanded.
    #[error("entity reference &{0}; is refused")]
    EntityRefused(String),
    /// The document or form body is larger than the module accepts.
    #[error("input is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit it broke.
        max: usize,
    },
    /// Elements nest deeper than any EM API document does.
    #[error("elements nest deeper than {max}")]
    TooDeep {
        /// The depth limit.
        max: usize,
    },
    /// The document has more elements than the module accepts.
    #[error("more than {max} elements")]
    TooManyElements {
        /// The element limit.
        max: usize,
    },
    /// The root element is not the one this parser reads (e.g. `<response>` given to
    /// [`parse_request`](super::parse_request)).
    #[error("root element <{found}> is not {expected}")]
    UnexpectedRoot {
        /// The root element found (truncated).
        found: String,
        /// What was expected, e.g. `<request> or <query>`.
        expected: &'static str,
    },
    /// The root holds an operation this module does not know (including EMCC's `checkUser`,
    /// which the EM API does not support).
    #[error("unknown operation <{element}> in <{root}>")]
    UnknownOperation {
        /// The root element (`request`, `query` or `response`).
        root: &'static str,
        /// The unknown element (truncated).
        element: String,
    },
    /// The root holds no operation at all (only `<appInfo>`, or nothing).
    #[error("<{root}> holds no operation")]
    MissingOperation {
        /// The root element.
        root: &'static str,
    },
    /// A required element or attribute is absent.
    #[error("<{parent}> lacks required {field}")]
    MissingField {
        /// The element that should contain it.
        parent: &'static str,
        /// The missing element (or `@attribute`).
        field: &'static str,
    },
    /// An element holds a value of the wrong form (a non-numeric `<time>`, a bad flag).
    #[error("<{element}> has invalid value {value:?}")]
    InvalidValue {
        /// The element (or `@attribute`).
        element: &'static str,
        /// The value found (truncated; never a credential).
        value: String,
    },
    /// The form body has no `xml` field.
    #[error("form body has no xml field")]
    MissingFormField,
}

impl EmApiError {
    /// The EMService code a server answers this error with: [`codes::PARSE_ERROR`] (1) or
    /// [`codes::QUERY_TYPE_UNDETERMINED`] (8).
    pub fn em_code(&self) -> u16 {
        match self {
            Self::UnknownOperation { .. } | Self::MissingOperation { .. } => {
                codes::QUERY_TYPE_UNDETERMINED
            }
            Self::Malformed(_)
            | Self::InvalidUtf8 { .. }
            | Self::DoctypeRefused
            | Self::EntityRefused(_)
            | Self::TooLarge { .. }
            | Self::TooDeep { .. }
            | Self::TooManyElements { .. }
            | Self::UnexpectedRoot { .. }
            | Self::MissingField { .. }
            | Self::InvalidValue { .. }
            | Self::MissingFormField => codes::PARSE_ERROR,
        }
    }
}
