//! The password policy of the whitepaper (1-3-1) plus NIST SP 800-63B's blocklist.
//!
//! A password must consist of ASCII letters, digits and symbols only, be 8–128 characters
//! long, contain at least three of upper case, lower case, digits and symbols, and not be a
//! commonly used password. Every broken rule is reported, so the person can fix all at once.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

/// Shortest accepted password.
pub const MIN_LEN: usize = 8;
/// Longest accepted password; longer input is refused before any hashing work.
pub const MAX_LEN: usize = 128;

/// One broken rule of the password policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordViolation {
    /// Fewer than 8 characters.
    TooShort,
    /// More than 128 characters.
    TooLong,
    /// A character outside printable ASCII (letters, digits, symbols).
    NotAscii,
    /// Fewer than three of: upper case, lower case, digit, symbol.
    TooFewClasses,
    /// A commonly used password (or one with only digits/symbols appended).
    Common,
    /// Contains the account's email address or the name before its `@`.
    ContainsEmail,
}

impl PasswordViolation {
    /// The catalogue key of the message a person reads.
    pub fn message_key(self) -> &'static str {
        match self {
            PasswordViolation::TooShort => "password_rule.too_short",
            PasswordViolation::TooLong => "password_rule.too_long",
            PasswordViolation::NotAscii => "password_rule.not_ascii",
            PasswordViolation::TooFewClasses => "password_rule.too_few_classes",
            PasswordViolation::Common => "password_rule.common",
            PasswordViolation::ContainsEmail => "password_rule.contains_email",
        }
    }

    /// A stable machine-readable name (used in API error bodies).
    pub fn code(self) -> &'static str {
        match self {
            PasswordViolation::TooShort => "too_short",
            PasswordViolation::TooLong => "too_long",
            PasswordViolation::NotAscii => "not_ascii",
            PasswordViolation::TooFewClasses => "too_few_classes",
            PasswordViolation::Common => "common",
            PasswordViolation::ContainsEmail => "contains_email",
        }
    }
}

impl fmt::Display for PasswordViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::i18n::text(
            crate::i18n::Lang::En,
            self.message_key(),
        ))
    }
}

/// The 20,000 most common passwords of the zxcvbn frequency list (MIT, Dropbox), lower case.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

/// Every rule `password` breaks as the password of the account `email`: the policy, and
/// not containing the address or its name part (ignoring case; a name part shorter than
/// three characters is too common a string to refuse).
pub fn check_for(password: &str, email: &str) -> Vec<PasswordViolation> {
    let mut violations = check(password);
    if violations.contains(&PasswordViolation::TooLong) {
        return violations;
    }
    let lower = password.to_ascii_lowercase();
    let email = email.to_ascii_lowercase();
    let name = email.split('@').next().unwrap_or("");
    let contains = |part: &str| part.chars().count() >= 3 && lower.contains(part);
    if contains(&email) || contains(name) {
        violations.push(PasswordViolation::ContainsEmail);
    }
    violations
}

/// Checks `password` against every rule; an empty list means it is acceptable.
pub fn check(password: &str) -> Vec<PasswordViolation> {
    let mut violations = Vec::new();
    let length = password.chars().count();
    if length < MIN_LEN {
        violations.push(PasswordViolation::TooShort);
    }
    if length > MAX_LEN {
        // Nothing else is worth computing on oversized input.
        violations.push(PasswordViolation::TooLong);
        return violations;
    }
    if !password.chars().all(|c| c.is_ascii_graphic()) {
        violations.push(PasswordViolation::NotAscii);
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| c.is_ascii_punctuation()),
    ];
    if classes.iter().filter(|present| **present).count() < 3 {
        violations.push(PasswordViolation::TooFewClasses);
    }
    if is_common(password) {
        violations.push(PasswordViolation::Common);
    }
    violations
}

/// A common password, ignoring case and any digits or symbols appended to it
/// (`Password1!` is `password` with decoration).
fn is_common(password: &str) -> bool {
    let lower = password.to_ascii_lowercase();
    if COMMON.contains(lower.as_str()) {
        return true;
    }
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    stem.len() >= 4 && COMMON.contains(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_holding_the_accounts_email_or_its_name_is_refused() {
        let email = "hanako.yamada@acme.example";
        for bad in ["Hanako.Yamada#2026", "x!HANAKO.YAMADA@ACME.EXAMPLE9"] {
            assert!(
                check_for(bad, email).contains(&PasswordViolation::ContainsEmail),
                "{bad}"
            );
        }
        assert!(check_for("Blue-Kiosk-4821", email).is_empty());
        assert!(
            check_for("Blue-Kiosk-4821", "ab@x.jp").is_empty(),
            "a short name part"
        );
    }

    #[test]
    fn a_strong_password_passes() {
        assert!(check("Kq7#vLp2xW").is_empty());
    }

    #[test]
    fn seven_characters_are_too_short() {
        assert_eq!(check("Zq7#vLp"), vec![PasswordViolation::TooShort]);
        assert!(check("Abcdef1").contains(&PasswordViolation::TooShort));
    }

    #[test]
    fn eight_characters_are_enough() {
        assert!(check("Zq7#vLp2").is_empty());
    }

    #[test]
    fn one_hundred_twenty_nine_characters_are_too_long() {
        let long = "Aa1!".repeat(32) + "x";
        assert_eq!(long.len(), 129);
        assert_eq!(check(&long), vec![PasswordViolation::TooLong]);
        let limit = "Zq7#".repeat(32);
        assert!(check(&limit).is_empty(), "128 characters are allowed");
    }

    #[test]
    fn non_ascii_characters_are_refused() {
        assert_eq!(check("Zq7#vLp2パス"), vec![PasswordViolation::NotAscii]);
        assert_eq!(
            check("Zq7# vLp2"),
            vec![PasswordViolation::NotAscii],
            "space"
        );
    }

    #[test]
    fn two_character_classes_are_not_enough() {
        assert_eq!(check("zqxvlpwk1"), vec![PasswordViolation::TooFewClasses]);
        assert!(check("zqxvlpwk1#").is_empty(), "three classes suffice");
        assert!(check("ZQXVLPWK1#").is_empty());
        assert!(check("zqxvLPWK#!").is_empty());
    }

    #[test]
    fn common_passwords_are_refused_even_decorated() {
        assert_eq!(check("Password1!"), vec![PasswordViolation::Common]);
        assert_eq!(check("Baseball2024!"), vec![PasswordViolation::Common]);
        assert_eq!(check("P@ssw0rd"), vec![PasswordViolation::Common]);
    }

    #[test]
    fn every_broken_rule_is_reported() {
        assert_eq!(
            check("qwerty"),
            vec![
                PasswordViolation::TooShort,
                PasswordViolation::TooFewClasses,
                PasswordViolation::Common
            ]
        );
    }

    #[test]
    fn violations_read_as_sentences() {
        assert!(PasswordViolation::TooShort.to_string().contains('8'));
    }
}
