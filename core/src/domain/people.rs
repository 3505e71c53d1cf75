//! The people Frontdesk knows: employees and admin accounts, and their settings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::domain::field::Invalid;
pub use crate::i18n::Lang;

/// What an admin account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees the directory and the locations; changes nothing.
    Viewer,
    /// Front-desk staff: reads the directory, changes nothing (visitor handling arrives with
    /// reception).
    Receptionist,
    /// Manages employees and locations, reads the access log.
    Admin,
    /// Everything an admin does, plus managing admin accounts.
    Owner,
}

/// Something an account may be allowed to do. Every use case names the one it needs and
/// [`Role::allows`] is the one place that says who may: the matrix the README documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// See the employee directory and the locations.
    ViewDirectory,
    /// Add, change, import and remove employees.
    EditDirectory,
    /// Add and change locations.
    ManageLocations,
    /// Read the access log.
    ViewAccessLog,
    /// Download personal data as CSV (employees, the access log). Needs, besides the role,
    /// the account's own download permission (whitepaper 2-5-1).
    ExportPersonalData,
    /// See the messages that could not be delivered.
    ViewUndeliverable,
    /// Add, change and remove accounts.
    ManageAccounts,
    /// Change the tenant's security settings (the IP allow-list).
    ManageSecurity,
    /// See visits, who is on site and the visitors expected.
    ViewVisits,
    /// Register expected visitors, check visitors out, label visits.
    HandleVisitors,
    /// Change a location's reception settings, pair kiosks, define visitor labels and
    /// outgoing webhooks.
    ManageReception,
    /// Define and change anyone's booking links (each person manages their own anyway).
    ManageBookingLinks,
}

impl Permission {
    /// Every permission, in the order of the README's table.
    pub const ALL: [Permission; 12] = [
        Permission::ViewDirectory,
        Permission::EditDirectory,
        Permission::ManageLocations,
        Permission::ViewAccessLog,
        Permission::ExportPersonalData,
        Permission::ViewUndeliverable,
        Permission::ManageAccounts,
        Permission::ManageSecurity,
        Permission::ViewVisits,
        Permission::HandleVisitors,
        Permission::ManageReception,
        Permission::ManageBookingLinks,
    ];
}

impl Role {
    /// Whether the role may do `permission` (for [`Permission::ExportPersonalData`] the
    /// account must also hold the download permission).
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Viewer => matches!(permission, ViewDirectory),
            Role::Receptionist => matches!(permission, ViewDirectory | ViewVisits | HandleVisitors),
            Role::Admin => matches!(
                permission,
                ViewDirectory
                    | EditDirectory
                    | ManageLocations
                    | ViewAccessLog
                    | ExportPersonalData
                    | ViewUndeliverable
                    | ViewVisits
                    | HandleVisitors
                    | ManageReception
                    | ManageBookingLinks
            ),
            Role::Owner => true,
        }
    }
}

/// A chat platform an employee can be reached on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Slack,
    Teams,
    Discord,
    /// Frontdesk's own web chat.
    Web,
}

impl Platform {
    /// Every platform, in display order.
    pub const ALL: [Platform; 4] = [
        Platform::Slack,
        Platform::Teams,
        Platform::Discord,
        Platform::Web,
    ];
}

/// How an employee wants to hear about visitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationPreference {
    Chat,
    Email,
    ChatAndEmail,
}

/// Implements `as_str`, `Display` and `FromStr` from one table of names.
macro_rules! named {
    ($ty:ty, $what:literal, { $($variant:path => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every name, in order (error messages list them).
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self { $($variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok($variant),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " {:?} (expected one of: {})"),
                        other,
                        [$($name),+].join(", ")
                    )),
                }
            }
        }
    };
}

named!(Role, "role", {
    Role::Viewer => "viewer",
    Role::Receptionist => "receptionist",
    Role::Admin => "admin",
    Role::Owner => "owner",
});
named!(Platform, "platform", {
    Platform::Slack => "slack",
    Platform::Teams => "teams",
    Platform::Discord => "discord",
    Platform::Web => "web",
});
named!(NotificationPreference, "notification preference", {
    NotificationPreference::Chat => "chat",
    NotificationPreference::Email => "email",
    NotificationPreference::ChatAndEmail => "chat_and_email",
});

/// The email address as stored: NFKC-normalised (so a full-width look-alike is the same
/// address), trimmed and lower-cased, and one that mail can be sent to (lettre's own
/// parser decides, so an address accepted here is one the mailer accepts).
pub fn normalize_email(raw: &str) -> Result<String, Invalid> {
    // Bounded before normalising: NFKC may expand, and nothing longer is an address.
    if raw.len() > 4 * MAX_EMAIL_LEN {
        return Err(Invalid::TooLong { max: MAX_EMAIL_LEN });
    }
    let email: String = raw.trim().nfkc().collect::<String>().to_lowercase();
    if email.chars().count() > MAX_EMAIL_LEN {
        return Err(Invalid::TooLong { max: MAX_EMAIL_LEN });
    }
    match email.parse::<lettre::Address>() {
        Ok(_) => Ok(email),
        Err(_) => Err(Invalid::NotEmail),
    }
}

/// The longest email address (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Checks that `zone` is an IANA time zone name such as `Asia/Tokyo`.
pub fn validate_time_zone(zone: &str) -> Result<(), Invalid> {
    zone.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| Invalid::NotTimeZone)
}

/// Checks that a kana reading holds only kana (and spaces / long-vowel marks).
pub fn validate_kana(reading: &str) -> Result<(), Invalid> {
    let is_kana = |c: char| {
        matches!(c, '\u{3040}'..='\u{309F}' | '\u{30A0}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}')
            || c == ' '
            || c == '\u{3000}'
    };
    if reading.chars().all(is_kana) {
        Ok(())
    } else {
        Err(Invalid::NotKana)
    }
}

/// Text normalised for search: lower case, full-width ASCII as ASCII, katakana as hiragana
/// (so ＳＡＴＯ, sato, サトウ and さとう all meet).
pub fn fold_for_search(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            // Full-width ASCII block → ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            // Katakana ァ..ヶ → hiragana ぁ..ゖ.
            '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// What an employee is found by: name, reading and email, folded for search.
pub fn search_text(name: &str, name_kana: &str, email: &str) -> String {
    fold_for_search(&format!("{name} {name_kana} {email}"))
}

/// A `LIKE … ESCAPE '\\'` pattern matching `query` anywhere in a [`search_text`].
pub fn search_pattern(query: &str) -> String {
    let mut pattern = String::from("%");
    for c in fold_for_search(query.trim()).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_explained() {
        for platform in Platform::ALL {
            assert_eq!(platform.as_str().parse::<Platform>(), Ok(platform));
        }
        let err = "superuser".parse::<Role>().unwrap_err();
        assert!(err.contains("superuser") && err.contains("owner"), "{err}");
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_email(" Alice@Demo.Example ").unwrap(),
            "alice@demo.example"
        );
        for bad in [
            "alice",
            "alice@",
            "@demo.example",
            "a b@x.jp",
            "a@@x.jp",
            "a@.jp",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            normalize_email("ＡＬＩＣＥ＠ｄｅｍｏ．ｅｘａｍｐｌｅ").unwrap(),
            "alice@demo.example",
            "a full-width look-alike is the same address"
        );
        assert_eq!(
            normalize_email(&format!("{}@x.jp", "a".repeat(300))),
            Err(Invalid::TooLong { max: MAX_EMAIL_LEN })
        );
    }

    #[test]
    fn search_folds_case_width_and_kana() {
        let text = search_text("Alice Sato", "さとう ありす", "alice@demo.example");
        for query in ["sato", "ＳＡＴＯ", "サトウ", "さとう", "ALICE@"] {
            let folded = fold_for_search(query);
            assert!(text.contains(&folded), "{query} → {folded}");
        }
        assert_eq!(search_pattern("john_doe%"), "%john\\_doe\\%%");
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        assert!(validate_time_zone("Asia/Tokyo").is_ok());
        assert!(validate_time_zone("Tokyo Standard Time").is_err());
    }

    #[test]
    fn kana_readings_accept_hiragana_and_katakana_only() {
        assert!(validate_kana("さとう ありす").is_ok());
        assert!(validate_kana("サトウ・アリス").is_ok());
        assert!(validate_kana("佐藤").is_err());
        assert!(validate_kana("sato").is_err());
    }
}
