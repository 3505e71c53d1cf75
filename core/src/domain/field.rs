//! Field checks: why a value was refused, as a type. The words a person reads come from
//! the catalogues (`invalid.<code>`), in their language; code never spells them out.

use std::borrow::Cow;
use std::fmt;

use crate::i18n::{self, Lang};

/// Why a field's value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Empty, but needed.
    Required,
    /// Longer than `max` characters.
    TooLong { max: usize },
    /// Holds a control character (NUL, ESC, a line break where none belongs, …).
    ControlCharacter,
    /// Not an email address mail can be sent to.
    NotEmail,
    /// Not 1–63 lower-case letters, digits or `-`.
    NotSlug,
    /// Not written in kana.
    NotKana,
    /// Not an IANA time zone name.
    NotTimeZone,
    /// Not one of the listed values.
    NotOneOf { allowed: &'static [&'static str] },
    /// The current password given to confirm a change is wrong.
    WrongCurrentPassword,
    /// Already used by another record (a chat id, an email in one file).
    Taken,
    /// Not an IP address or a CIDR network (`203.0.113.0/24`, `2001:db8::/32`).
    NotNetwork,
    /// A list with more than `max` entries.
    TooMany { max: usize },
    /// Not an `https://` URL (plain `http://` only on 127.0.0.1 / localhost, for tests).
    NotIssuerUrl,
    /// No OpenID Connect discovery document (with its key set) answers at this issuer.
    IssuerUnreachable,
    /// Not an `https://` or `webcal://` URL (plain `http://` only on the loopback).
    NotFeedUrl,
    /// A number outside `min..=max`.
    OutOfRange { min: i64, max: i64 },
    /// A key this form does not have (an answer to a question that is not asked).
    UnknownField,
    /// Not an `https://` URL without credentials (plain `http://` only on the loopback).
    NotWebhookUrl,
    /// Not the id of one of the tenant's visitor labels.
    UnknownLabel,
    /// Not a range of times of day (`["09:00", "12:00"]`, ending after it starts).
    NotTimeRange,
    /// Not a date (`YYYY-MM-DD`).
    NotDate,
    /// Not an instant (RFC 3339, e.g. `2026-12-01T10:00:00+09:00`).
    NotInstant,
    /// Not a start this booking link offers (outside its hours, notice or window).
    NotOffered,
}

impl Invalid {
    /// A stable machine-readable name (API error bodies carry it).
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::Required => "required",
            Invalid::TooLong { .. } => "too_long",
            Invalid::ControlCharacter => "control_character",
            Invalid::NotEmail => "not_email",
            Invalid::NotSlug => "not_slug",
            Invalid::NotKana => "not_kana",
            Invalid::NotTimeZone => "not_time_zone",
            Invalid::NotOneOf { .. } => "not_one_of",
            Invalid::WrongCurrentPassword => "wrong_current_password",
            Invalid::Taken => "taken",
            Invalid::NotNetwork => "not_network",
            Invalid::TooMany { .. } => "too_many",
            Invalid::NotIssuerUrl => "not_issuer_url",
            Invalid::IssuerUnreachable => "issuer_unreachable",
            Invalid::NotFeedUrl => "not_feed_url",
            Invalid::OutOfRange { .. } => "out_of_range",
            Invalid::UnknownField => "unknown_field",
            Invalid::NotWebhookUrl => "not_webhook_url",
            Invalid::UnknownLabel => "unknown_label",
            Invalid::NotTimeRange => "not_time_range",
            Invalid::NotDate => "not_date",
            Invalid::NotInstant => "not_instant",
            Invalid::NotOffered => "not_offered",
        }
    }

    /// The catalogue key of the message.
    pub fn message_key(&self) -> &'static str {
        match self {
            Invalid::Required => "invalid.required",
            Invalid::TooLong { .. } => "invalid.too_long",
            Invalid::ControlCharacter => "invalid.control_character",
            Invalid::NotEmail => "invalid.not_email",
            Invalid::NotSlug => "invalid.not_slug",
            Invalid::NotKana => "invalid.not_kana",
            Invalid::NotTimeZone => "invalid.not_time_zone",
            Invalid::NotOneOf { .. } => "invalid.not_one_of",
            Invalid::WrongCurrentPassword => "invalid.wrong_current_password",
            Invalid::Taken => "invalid.taken",
            Invalid::NotNetwork => "invalid.not_network",
            Invalid::TooMany { .. } => "invalid.too_many",
            Invalid::NotIssuerUrl => "invalid.not_issuer_url",
            Invalid::IssuerUnreachable => "invalid.issuer_unreachable",
            Invalid::NotFeedUrl => "invalid.not_feed_url",
            Invalid::OutOfRange { .. } => "invalid.out_of_range",
            Invalid::UnknownField => "invalid.unknown_field",
            Invalid::NotWebhookUrl => "invalid.not_webhook_url",
            Invalid::UnknownLabel => "invalid.unknown_label",
            Invalid::NotTimeRange => "invalid.not_time_range",
            Invalid::NotDate => "invalid.not_date",
            Invalid::NotInstant => "invalid.not_instant",
            Invalid::NotOffered => "invalid.not_offered",
        }
    }

    /// The message in `lang`, with the limit or the allowed values filled in.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            Invalid::TooLong { max } | Invalid::TooMany { max } => {
                i18n::format(lang, self.message_key(), &[("max", &max.to_string())])
            }
            Invalid::OutOfRange { min, max } => i18n::format(
                lang,
                self.message_key(),
                &[("min", &min.to_string()), ("max", &max.to_string())],
            ),
            Invalid::NotOneOf { allowed } => i18n::format(
                lang,
                self.message_key(),
                &[("allowed", &allowed.join(", "))],
            ),
            _ => i18n::text(lang, self.message_key()),
        }
    }

    /// One of each kind (the catalogue test checks every key exists).
    pub fn examples() -> [Invalid; 19] {
        [
            Invalid::Required,
            Invalid::TooLong { max: 1 },
            Invalid::ControlCharacter,
            Invalid::NotEmail,
            Invalid::NotSlug,
            Invalid::NotKana,
            Invalid::NotTimeZone,
            Invalid::NotOneOf { allowed: &["a"] },
            Invalid::WrongCurrentPassword,
            Invalid::Taken,
            Invalid::NotNetwork,
            Invalid::TooMany { max: 1 },
            Invalid::NotFeedUrl,
            Invalid::OutOfRange { min: 1, max: 2 },
            Invalid::NotIssuerUrl,
            Invalid::IssuerUnreachable,
            Invalid::UnknownField,
            Invalid::NotWebhookUrl,
            Invalid::UnknownLabel,
        ]
    }
}

impl fmt::Display for Invalid {
    /// English, for logs and the command line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

/// How long a text field may be, and whether it may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimit {
    /// Most characters (Unicode scalar values) after trimming.
    pub max: usize,
    /// Free text (notes, answers) may keep line breaks and tabs; names may not.
    pub multiline: bool,
    /// Whether an empty value is refused.
    pub required: bool,
}

impl TextLimit {
    /// A one-line name of at most `max` characters that must not be empty.
    pub const fn name(max: usize) -> TextLimit {
        TextLimit {
            max,
            multiline: false,
            required: true,
        }
    }

    /// A one-line value of at most `max` characters that may be empty.
    pub const fn optional(max: usize) -> TextLimit {
        TextLimit {
            max,
            multiline: false,
            required: false,
        }
    }
}

/// `raw` trimmed, or why it is refused. Checked in this order so the answer names the
/// first thing a person would fix; the length is counted without reading past the limit.
pub fn checked_text(raw: &str, limit: TextLimit) -> Result<String, Invalid> {
    let value = raw.trim();
    if value.chars().nth(limit.max).is_some() {
        return Err(Invalid::TooLong { max: limit.max });
    }
    let allowed_control = |c: char| limit.multiline && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed_control(c)) {
        return Err(Invalid::ControlCharacter);
    }
    if limit.required && value.is_empty() {
        return Err(Invalid::Required);
    }
    Ok(value.to_owned())
}

/// What is wrong with an imported file, at which line (as a spreadsheet numbers them; the
/// header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: u64,
    pub problem: FileProblem,
}

/// One problem in an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// A cell's value is refused.
    Field {
        field: Cow<'static, str>,
        reason: Invalid,
    },
    /// The header names a column the format does not have.
    UnknownColumn {
        column: String,
        expected: &'static [&'static str],
    },
    /// The header lacks a column that is needed.
    MissingColumn(&'static str),
    /// The same record appears again (same email).
    Repeats { first_line: u64 },
    /// The line cannot be read as cells (a stray quote, the wrong number of cells).
    Unreadable,
}

impl LineProblem {
    /// The problem in `lang`, starting with its line.
    pub fn message(&self, lang: Lang) -> String {
        let line = self.line.to_string();
        let problem = match &self.problem {
            FileProblem::Field { field, reason } => format!("{field}: {}", reason.message(lang)),
            FileProblem::UnknownColumn { column, expected } => i18n::format(
                lang,
                "file.unknown_column",
                &[("column", column), ("expected", &expected.join(", "))],
            ),
            FileProblem::MissingColumn(column) => {
                i18n::format(lang, "file.missing_column", &[("column", column)])
            }
            FileProblem::Repeats { first_line } => i18n::format(
                lang,
                "file.repeats",
                &[("first_line", &first_line.to_string())],
            ),
            FileProblem::Unreadable => i18n::text(lang, "file.unreadable"),
        };
        i18n::format(lang, "file.line", &[("line", &line), ("problem", &problem)])
    }
}

impl fmt::Display for LineProblem {
    /// English, for logs and the command line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

/// Checks a URL slug: 1–63 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn validate_slug(slug: &str) -> Result<(), Invalid> {
    let ok = (1..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok { Ok(()) } else { Err(Invalid::NotSlug) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_its_limits_named() {
        let name = TextLimit::name(5);
        assert_eq!(checked_text("  佐藤  ", name).unwrap(), "佐藤");
        assert_eq!(
            checked_text("ありすさとう", name),
            Err(Invalid::TooLong { max: 5 })
        );
        assert_eq!(checked_text("   ", name), Err(Invalid::Required));
        assert_eq!(checked_text("", TextLimit::optional(5)).unwrap(), "");
        for bad in ["a\0b", "a\u{1b}b", "a\r\nb"] {
            assert_eq!(
                checked_text(bad, name),
                Err(Invalid::ControlCharacter),
                "{bad:?}"
            );
        }
        let note = TextLimit {
            max: 50,
            multiline: true,
            required: false,
        };
        assert_eq!(checked_text("one\r\ntwo", note).unwrap(), "one\r\ntwo");
        assert_eq!(checked_text("a\0", note), Err(Invalid::ControlCharacter));
    }

    #[test]
    fn messages_fill_in_the_limit_in_both_languages() {
        let too_long = Invalid::TooLong { max: 200 };
        assert!(too_long.message(Lang::En).contains("200"));
        assert!(too_long.message(Lang::Ja).contains("200"));
        let one_of = Invalid::NotOneOf {
            allowed: &["ja", "en"],
        };
        assert!(one_of.message(Lang::En).contains("ja, en"));
    }
}
