//! Outgoing webhooks, pure: the events a gate or door controller can subscribe to, which
//! endpoint URLs are accepted, and the signature a receiver checks.
//!
//! A delivery is a POST of a JSON body with `X-Frontdesk-Timestamp: <unix seconds>` and
//! `X-Frontdesk-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}" keyed with the
//! endpoint's secret>`. Signing the timestamp with the body lets a receiver refuse replays
//! of an old delivery (the README says how to verify).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::field::Invalid;
use super::network::is_secure_or_loopback;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Frontdesk-Signature";
/// The header carrying the instant of signing (unix seconds), which the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Frontdesk-Timestamp";
/// The header naming the event (also in the body).
pub const EVENT_HEADER: &str = "X-Frontdesk-Event";
/// The header carrying the delivery's id: the same on every retry of one delivery, so a
/// receiver can tell a retry (after a timeout) from a new event.
pub const DELIVERY_HEADER: &str = "X-Frontdesk-Delivery";

/// The longest endpoint URL accepted.
pub const MAX_URL_LENGTH: usize = 2000;
/// The most endpoints one tenant may register.
pub const MAX_ENDPOINTS: usize = 20;

/// What an endpoint can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WebhookEvent {
    /// A visitor checked in at a kiosk.
    VisitCheckedIn,
    /// A visitor left (at the kiosk, by the host, by reception, or at the day's end).
    VisitCheckedOut,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 2] =
        [WebhookEvent::VisitCheckedIn, WebhookEvent::VisitCheckedOut];

    /// The names as written on the wire and in requests.
    pub const NAMES: &'static [&'static str] = &["visit.checked_in", "visit.checked_out"];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::VisitCheckedIn => "visit.checked_in",
            WebhookEvent::VisitCheckedOut => "visit.checked_out",
        }
    }

    pub fn parse(text: &str) -> Option<WebhookEvent> {
        WebhookEvent::ALL
            .into_iter()
            .find(|event| event.as_str() == text.trim())
    }
}

/// The events of a stored subscription (`visit.checked_in,visit.checked_out`); names this
/// build does not know are skipped.
pub fn parse_event_list(stored: &str) -> Vec<WebhookEvent> {
    stored.split(',').filter_map(WebhookEvent::parse).collect()
}

/// The stored form of a subscription.
pub fn event_list(events: &[WebhookEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// An endpoint URL an admin typed, or why it is refused: `https://` (plain `http://` only on
/// the loopback, for tests), no user name or password in it (the secret signs instead), at
/// most [`MAX_URL_LENGTH`] characters.
pub fn parse_endpoint_url(raw: &str) -> Result<url::Url, Invalid> {
    let raw = raw.trim();
    if raw.chars().nth(MAX_URL_LENGTH).is_some() {
        return Err(Invalid::TooLong {
            max: MAX_URL_LENGTH,
        });
    }
    let url = url::Url::parse(raw).map_err(|_| Invalid::NotWebhookUrl)?;
    let has_credentials = !url.username().is_empty() || url.password().is_some();
    if !is_secure_or_loopback(&url) || has_credentials || url.fragment().is_some() {
        return Err(Invalid::NotWebhookUrl);
    }
    Ok(url)
}

/// The signature header's value for `body` sent at `timestamp` (unix seconds):
/// `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` keyed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"whsec-test",
        // b'1764028800.{"event":"visit.checked_in"}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature(
                "whsec-test",
                1_764_028_800,
                r#"{"event":"visit.checked_in"}"#
            ),
            "v1=3ff0c373453979907820b7509d7bb21f090c55a4a5efc9f2fc478e5a6c586b9f"
        );
        assert_ne!(
            signature(
                "whsec-test",
                1_764_028_801,
                r#"{"event":"visit.checked_in"}"#
            ),
            signature(
                "whsec-test",
                1_764_028_800,
                r#"{"event":"visit.checked_in"}"#
            ),
            "the timestamp is signed"
        );
    }

    #[test]
    fn endpoints_are_https_or_the_loopback_without_credentials() {
        for ok in [
            "https://gate.example.com/frontdesk",
            "https://10.0.0.8:8443/hook?site=hq",
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:81/",
        ] {
            assert!(parse_endpoint_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://gate.example.com/hook",
            "http://10.0.0.8/hook",
            "ftp://gate.example.com/",
            "https://user:pass@gate.example.com/",
            "https://gate.example.com/#x",
            "gate.example.com",
            "",
        ] {
            assert_eq!(
                parse_endpoint_url(bad),
                Err(Invalid::NotWebhookUrl),
                "{bad}"
            );
        }
        let long = format!("https://gate.example.com/{}", "a".repeat(MAX_URL_LENGTH));
        assert_eq!(
            parse_endpoint_url(&long),
            Err(Invalid::TooLong {
                max: MAX_URL_LENGTH
            })
        );
    }

    #[test]
    fn event_lists_round_trip_and_skip_unknown_names() {
        let stored = event_list(&WebhookEvent::ALL);
        assert_eq!(stored, "visit.checked_in,visit.checked_out");
        assert_eq!(parse_event_list(&stored), WebhookEvent::ALL);
        assert_eq!(
            parse_event_list("visit.checked_out,room.released"),
            [WebhookEvent::VisitCheckedOut]
        );
    }
}
