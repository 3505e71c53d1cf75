//! Reception, pure: a visit's status and the host's answers, reception codes, the kiosk's
//! check-in request, and each location's reception settings with their limits.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use std::borrow::Cow;

use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::people::Platform;

/// A refused value and the field that held it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Cow<'static, str>,
    pub reason: Invalid,
}

impl FieldError {
    pub fn new(field: impl Into<Cow<'static, str>>, reason: Invalid) -> FieldError {
        FieldError {
            field: field.into(),
            reason,
        }
    }
}

impl From<FieldError> for crate::Error {
    fn from(err: FieldError) -> crate::Error {
        crate::Error::invalid(err.field, err.reason)
    }
}

/// `value` checked as one line of at most `max` characters (required when `required`).
fn bounded(
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, FieldError> {
    let limit = TextLimit {
        max,
        multiline: false,
        required,
    };
    checked_text(value, limit).map_err(|reason| FieldError::new(field, reason))
}

/// Like [`bounded`], for text that may span lines (terms).
fn bounded_text(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    let limit = TextLimit {
        max,
        multiline: true,
        required: true,
    };
    checked_text(value, limit).map_err(|reason| FieldError::new(field, reason))
}

/// Where a visit stands, as the kiosk shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    /// Checked in; the host has been notified and has not answered.
    Waiting,
    HostComing,
    /// The host asked the visitor to wait (`delay_minutes`).
    HostDelayed,
    /// The host cannot come (the kiosk says someone else will).
    HostUnavailable,
    CheckedOut,
}

impl VisitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitStatus::Waiting => "waiting",
            VisitStatus::HostComing => "host_coming",
            VisitStatus::HostDelayed => "host_delayed",
            VisitStatus::HostUnavailable => "host_unavailable",
            VisitStatus::CheckedOut => "checked_out",
        }
    }

    pub fn parse(text: &str) -> Option<VisitStatus> {
        Some(match text {
            "waiting" => VisitStatus::Waiting,
            "host_coming" => VisitStatus::HostComing,
            "host_delayed" => VisitStatus::HostDelayed,
            "host_unavailable" => VisitStatus::HostUnavailable,
            "checked_out" => VisitStatus::CheckedOut,
            _ => return None,
        })
    }
}

/// The host's answer, from a button in chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAnswer {
    Coming,
    /// Please wait this many minutes.
    Delayed(u8),
    Unavailable,
}

/// How long "Please wait" asks the visitor to wait.
pub const DEFAULT_DELAY_MINUTES: u8 = 5;

impl HostAnswer {
    pub fn status(self) -> VisitStatus {
        match self {
            HostAnswer::Coming => VisitStatus::HostComing,
            HostAnswer::Delayed(_) => VisitStatus::HostDelayed,
            HostAnswer::Unavailable => VisitStatus::HostUnavailable,
        }
    }

    pub fn delay_minutes(self) -> Option<u8> {
        match self {
            HostAnswer::Delayed(minutes) => Some(minutes),
            _ => None,
        }
    }

    /// The short form carried in a button's id.
    pub fn code(self) -> String {
        match self {
            HostAnswer::Coming => "coming".into(),
            HostAnswer::Delayed(minutes) => format!("wait{minutes}"),
            HostAnswer::Unavailable => "unavailable".into(),
        }
    }

    pub fn from_code(code: &str) -> Option<HostAnswer> {
        match code {
            "coming" => Some(HostAnswer::Coming),
            "unavailable" => Some(HostAnswer::Unavailable),
            other => {
                let minutes: u8 = other.strip_prefix("wait")?.parse().ok()?;
                (1..=60)
                    .contains(&minutes)
                    .then_some(HostAnswer::Delayed(minutes))
            }
        }
    }
}

/// Why a visitor came without a host to pick: each notifies its configured contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Delivery,
    Interview,
    Other,
}

impl Category {
    pub const ALL: [Category; 3] = [Category::Delivery, Category::Interview, Category::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Delivery => "delivery",
            Category::Interview => "interview",
            Category::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// How a visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutBy {
    Kiosk,
    Badge,
    Host,
    Admin,
    Auto,
}

impl CheckOutBy {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutBy::Kiosk => "kiosk",
            CheckOutBy::Badge => "badge",
            CheckOutBy::Host => "host",
            CheckOutBy::Admin => "admin",
            CheckOutBy::Auto => "auto",
        }
    }
}

/// Reception codes: six digits, typed at the kiosk.
pub const CODE_LENGTH: usize = 6;

/// A fresh random reception code (leading zeros included).
pub fn generate_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// The code in what a visitor typed: full-width digits, spaces and hyphens do not matter.
/// `None` when it is not six digits.
pub fn normalize_code(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let code: String = typed
        .nfkc()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (code.len() == CODE_LENGTH && code.chars().all(|c| c.is_ascii_digit())).then_some(code)
}

/// Limits on what a visitor types at a kiosk.
pub const MAX_VISITOR_NAME: usize = 100;
pub const MAX_VISITOR_COMPANY: usize = 100;
pub const MAX_FIELD_VALUE: usize = 500;
pub const MAX_EXTRA_FIELDS: usize = 10;

/// Someone to tell: an employee (by email) or a chat channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Contact {
    /// An employee of the directory, by email: notified as hosts are.
    Employee(String),
    /// A channel on a chat platform, by the platform's channel id.
    Channel { platform: Platform, id: String },
}

/// A question the kiosk asks besides name and company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraField {
    /// The key answers are stored under (`[a-z0-9_]`, at most 32).
    pub key: String,
    pub label_ja: String,
    pub label_en: String,
    #[serde(default)]
    pub required: bool,
}

/// Entrance terms (an NDA, safety rules) shown and accepted before check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// Raised whenever the text changes: an acceptance is of one version.
    pub version: i64,
    pub text_ja: String,
    pub text_en: String,
    /// How long an acceptance lasts: a returning visitor is not asked again meanwhile.
    pub validity_days: i64,
}

/// Text in both languages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    pub ja: String,
    pub en: String,
}

/// A location's reception settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceptionSettings {
    pub extra_fields: Vec<ExtraField>,
    pub terms: Option<Terms>,
    /// Told when the host has not answered within `answer_timeout_seconds`.
    pub fallback: Option<Contact>,
    pub answer_timeout_seconds: i64,
    /// Who is told of a visitor who picked a category instead of a host.
    pub categories: BTreeMap<Category, Contact>,
    /// Also told of every arrival, for visibility (the host still gets the buttons).
    pub arrivals_channel: Option<Contact>,
    /// Whether the kiosk offers a badge to print after check-in.
    pub badge_printing: bool,
    /// The address invited to meetings with visitors (`reception-hq@example.com`): an
    /// invite to it registers an expected visit.
    pub reception_address: Option<String>,
    /// Shown by the kiosk when the server cannot be reached (e.g. the phone extension).
    pub offline_message: Bilingual,
    /// The local time (HH:MM) at which visitors still on site are reminded to their hosts.
    pub checkout_reminder_at: String,
    /// The local time (HH:MM) at which visitors still on site are checked out.
    pub auto_checkout_at: String,
    /// Days after which a visitor's personal data is deleted.
    pub retention_days: i64,
}

impl Default for ReceptionSettings {
    fn default() -> Self {
        ReceptionSettings {
            extra_fields: Vec::new(),
            terms: None,
            fallback: None,
            answer_timeout_seconds: 180,
            categories: BTreeMap::new(),
            arrivals_channel: None,
            badge_printing: false,
            reception_address: None,
            offline_message: Bilingual::default(),
            checkout_reminder_at: "18:00".into(),
            auto_checkout_at: "23:30".into(),
            retention_days: 180,
        }
    }
}

/// A time of day is written `HH:MM`: one of these shapes.
const TIME_OF_DAY: Invalid = Invalid::NotOneOf {
    allowed: &["HH:MM"],
};

fn range(min: i64, max: i64) -> Invalid {
    Invalid::OutOfRange { min, max }
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_local_time(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl ReceptionSettings {
    /// The settings if every value is within its limits, else the first field that is not.
    pub fn validate(self) -> Result<ReceptionSettings, FieldError> {
        if self.extra_fields.len() > MAX_EXTRA_FIELDS {
            return Err(FieldError::new(
                "extra_fields",
                Invalid::TooMany {
                    max: MAX_EXTRA_FIELDS,
                },
            ));
        }
        let mut keys = std::collections::BTreeSet::new();
        for field in &self.extra_fields {
            let key_ok = !field.key.is_empty()
                && field.key.len() <= 32
                && field
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !key_ok {
                return Err(FieldError::new("extra_fields.key", Invalid::NotSlug));
            }
            if !keys.insert(field.key.as_str()) {
                return Err(FieldError::new("extra_fields.key", Invalid::Taken));
            }
            bounded("extra_fields.label_ja", &field.label_ja, 100, true)?;
            bounded("extra_fields.label_en", &field.label_en, 100, true)?;
        }
        if let Some(terms) = &self.terms {
            if terms.version < 1 {
                return Err(FieldError::new("terms.version", range(1, i64::MAX)));
            }
            bounded_text("terms.text_ja", &terms.text_ja, 10_000)?;
            bounded_text("terms.text_en", &terms.text_en, 10_000)?;
            if !(0..=3650).contains(&terms.validity_days) {
                return Err(FieldError::new("terms.validity_days", range(0, 3650)));
            }
        }
        for contact in self
            .fallback
            .iter()
            .chain(self.categories.values())
            .chain(self.arrivals_channel.iter())
        {
            validate_contact(contact)?;
        }
        if !(10..=3600).contains(&self.answer_timeout_seconds) {
            return Err(FieldError::new("answer_timeout_seconds", range(10, 3600)));
        }
        if let Some(address) = &self.reception_address {
            crate::domain::people::normalize_email(address)
                .map_err(|_| FieldError::new("reception_address", Invalid::NotEmail))?;
        }
        bounded("offline_message.ja", &self.offline_message.ja, 500, false)?;
        bounded("offline_message.en", &self.offline_message.en, 500, false)?;
        if parse_local_time(&self.checkout_reminder_at).is_none() {
            return Err(FieldError::new("checkout_reminder_at", TIME_OF_DAY));
        }
        if parse_local_time(&self.auto_checkout_at).is_none() {
            return Err(FieldError::new("auto_checkout_at", TIME_OF_DAY));
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err(FieldError::new("retention_days", range(1, 3650)));
        }
        Ok(self)
    }
}

fn validate_contact(contact: &Contact) -> Result<(), FieldError> {
    match contact {
        Contact::Employee(email) => crate::domain::people::normalize_email(email)
            .map(|_| ())
            .map_err(|_| FieldError::new("contact.employee", Invalid::NotEmail)),
        Contact::Channel { id, .. } => bounded("contact.channel.id", id, 100, true).map(|_| ()),
    }
}

/// What a visitor typed at the kiosk, bounded and trimmed; extra fields only those the
/// location asks for, and the required ones present.
pub fn visitor_fields(
    settings: &ReceptionSettings,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, FieldError> {
    let mut fields = BTreeMap::new();
    for field in &settings.extra_fields {
        let value = given.get(&field.key).map(|v| v.trim()).unwrap_or("");
        if value.is_empty() {
            if field.required {
                return Err(FieldError::new(
                    format!("fields.{}", field.key),
                    Invalid::Required,
                ));
            }
            continue;
        }
        let limit = TextLimit::optional(MAX_FIELD_VALUE);
        let value = checked_text(value, limit)
            .map_err(|reason| FieldError::new(format!("fields.{}", field.key), reason))?;
        fields.insert(field.key.clone(), value);
    }
    if let Some(unknown) = given
        .keys()
        .find(|key| !settings.extra_fields.iter().any(|f| &f.key == *key))
    {
        return Err(FieldError::new(
            format!("fields.{unknown}"),
            Invalid::UnknownField,
        ));
    }
    Ok(fields)
}

/// A visitor announced in chat: `Kenji Mori, Globex tomorrow 14:00 kenji@globex.example
/// @hq`, or `山田太郎、エグザンプル 明日 14:00`. The day (`today`/`今日`, `tomorrow`/`明日`,
/// `YYYY-MM-DD`, `M/D`), the time (`HH:MM`), an email and `@location` may stand anywhere;
/// what is left is the name, then after a comma (`,` `、` `/`) the company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorRequest {
    pub name: String,
    pub company: String,
    pub email: Option<String>,
    pub day: chrono::NaiveDate,
    /// Minutes after midnight at the location.
    pub time: Option<u32>,
    pub location: Option<String>,
}

/// Why a visitor request cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitorRequestError {
    /// No name is left once the day, time, email and location are taken out.
    NoName,
    /// A day in the past, or more than a year ahead.
    DayOutOfRange,
}

impl VisitorRequest {
    /// Reads `text`; `today` is the day at the location (a bare `M/D` before today means
    /// next year).
    pub fn parse(
        text: &str,
        today: chrono::NaiveDate,
    ) -> Result<VisitorRequest, VisitorRequestError> {
        use chrono::Datelike;
        let mut day = None;
        let mut time = None;
        let mut email = None;
        let mut location = None;
        let mut rest = Vec::new();
        for word in text.split_whitespace().take(40) {
            let lower = word.to_lowercase();
            let parsed_day = match lower.as_str() {
                "today" | "今日" | "きょう" | "本日" => Some(today),
                "tomorrow" | "明日" | "あした" | "あす" => today.succ_opt(),
                _ => lower.parse::<chrono::NaiveDate>().ok().or_else(|| {
                    let (m, d) = lower.split_once('/')?;
                    let (m, d) = (m.parse().ok()?, d.parse().ok()?);
                    let this_year = chrono::NaiveDate::from_ymd_opt(today.year(), m, d)?;
                    if this_year < today {
                        chrono::NaiveDate::from_ymd_opt(today.year() + 1, m, d)
                    } else {
                        Some(this_year)
                    }
                }),
            };
            if day.is_none() && parsed_day.is_some() {
                day = parsed_day;
            } else if time.is_none() && parse_time_word(&lower).is_some() {
                time = parse_time_word(&lower);
            } else if let Some(slug) = word
                .strip_prefix('@')
                .filter(|s| !s.is_empty() && !s.contains('@'))
            {
                location = Some(slug.to_lowercase());
            } else if email.is_none() && word.contains('@') && word.contains('.') {
                email = Some(lower);
            } else {
                rest.push(word);
            }
        }
        let day = day.unwrap_or(today);
        if day < today || (day - today).num_days() > 366 {
            return Err(VisitorRequestError::DayOutOfRange);
        }
        let rest = rest.join(" ");
        let (name, company) = match rest.find([',', '、', '/', '，']) {
            Some(at) => {
                let separator = rest[at..].chars().next().map_or(1, char::len_utf8);
                (
                    rest[..at].trim().to_owned(),
                    rest[at + separator..].trim().to_owned(),
                )
            }
            None => (rest.trim().to_owned(), String::new()),
        };
        if name.is_empty() {
            return Err(VisitorRequestError::NoName);
        }
        Ok(VisitorRequest {
            name,
            company,
            email,
            day,
            time,
            location,
        })
    }
}

/// `14:00` or `14時` as minutes after midnight.
fn parse_time_word(word: &str) -> Option<u32> {
    if let Some(hour) = word.strip_suffix('時') {
        let hour: u32 = hour.parse().ok()?;
        return (hour < 24).then_some(hour * 60);
    }
    let (h, m) = word.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && m.to_string().len() <= 2).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_however_they_are_typed() {
        for _ in 0..100 {
            let code = generate_code();
            assert_eq!(normalize_code(&code).as_deref(), Some(code.as_str()));
        }
        assert_eq!(normalize_code("246 810").as_deref(), Some("246810"));
        assert_eq!(normalize_code("２４６８１０").as_deref(), Some("246810"));
        assert_eq!(normalize_code("246-810").as_deref(), Some("246810"));
        for bad in ["24681", "2468100", "24681a", "", "٢٤٦٨١٠"] {
            assert_eq!(normalize_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn visitors_announced_in_chat_are_read_in_english_and_japanese() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let read = VisitorRequest::parse(
            "Kenji Mori, Globex tomorrow 14:00 Kenji@Globex.example @HQ",
            today,
        )
        .unwrap();
        assert_eq!(
            read,
            VisitorRequest {
                name: "Kenji Mori".into(),
                company: "Globex".into(),
                email: Some("kenji@globex.example".into()),
                day: today.succ_opt().unwrap(),
                time: Some(14 * 60),
                location: Some("hq".into()),
            }
        );
        let read =
            VisitorRequest::parse("山田太郎、株式会社エグザンプル 12/3 10時", today).unwrap();
        assert_eq!(
            (read.name.as_str(), read.company.as_str()),
            ("山田太郎", "株式会社エグザンプル")
        );
        assert_eq!(
            read.day,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()
        );
        assert_eq!(read.time, Some(600));
        let read = VisitorRequest::parse("Aiko 1/10", today).unwrap();
        assert_eq!(
            read.day,
            chrono::NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
            "next year"
        );
        assert_eq!((read.day, read.time), (read.day, None));
        assert_eq!(VisitorRequest::parse("Aiko", today).unwrap().day, today);
        assert_eq!(
            VisitorRequest::parse("tomorrow 14:00", today),
            Err(VisitorRequestError::NoName)
        );
        assert_eq!(
            VisitorRequest::parse("Aiko 2026-11-24", today),
            Err(VisitorRequestError::DayOutOfRange)
        );
    }

    #[test]
    fn answers_round_trip_through_button_codes() {
        for answer in [
            HostAnswer::Coming,
            HostAnswer::Delayed(5),
            HostAnswer::Unavailable,
        ] {
            assert_eq!(HostAnswer::from_code(&answer.code()), Some(answer));
        }
        for bad in ["wait0", "wait61", "wait", "waitx", "later"] {
            assert_eq!(HostAnswer::from_code(bad), None, "{bad}");
        }
        assert_eq!(HostAnswer::Delayed(5).status(), VisitStatus::HostDelayed);
    }

    #[test]
    fn settings_are_bounded_and_name_the_bad_field() {
        assert!(ReceptionSettings::default().validate().is_ok());
        let bad = ReceptionSettings {
            answer_timeout_seconds: 1,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().field,
            "answer_timeout_seconds".to_string()
        );
        let bad = ReceptionSettings {
            auto_checkout_at: "25:00".into(),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "auto_checkout_at");
        let bad: Result<ReceptionSettings, _> =
            serde_json::from_str(r#"{"fallback": {"employee": "x"}, "surprise": 1}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn extra_fields_are_checked_against_the_location() {
        let settings = ReceptionSettings {
            extra_fields: vec![ExtraField {
                key: "purpose".into(),
                label_ja: "ご用件".into(),
                label_en: "Purpose".into(),
                required: true,
            }],
            ..Default::default()
        };
        let given = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            visitor_fields(&settings, &given(&[])).unwrap_err().field,
            "fields.purpose"
        );
        assert_eq!(
            visitor_fields(&settings, &given(&[("purpose", "x"), ("other", "y")]))
                .unwrap_err()
                .field,
            "fields.other"
        );
        assert_eq!(
            visitor_fields(&settings, &given(&[("purpose", "  商談 ")])).unwrap()["purpose"],
            "商談"
        );
    }
}
