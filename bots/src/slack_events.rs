//! What Slack sends Frontdesk — Events API deliveries, slash commands, button presses —
//! verified and read into what the conversation understands.
//!
//! Every request is checked before anything in it is parsed: `X-Slack-Signature` must be
//! `v0=` + hex HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`) (compared in
//! constant time), and the timestamp within five minutes of now, so a captured request
//! cannot be replayed later.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How far a request's timestamp may be from now.
pub const MAX_AGE_SECS: i64 = 300;

/// Why a request is not accepted as Slack's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Slack-Signature or X-Slack-Request-Timestamp header is missing")]
    Missing,
    #[error("the request timestamp is not within {MAX_AGE_SECS} s of now")]
    Stale,
    #[error("the signature does not match")]
    Wrong,
}

/// Checks that `body` was signed by Slack with `signing_secret` at `timestamp`, at most
/// [`MAX_AGE_SECS`] from `now_secs`.
pub fn verify(
    signing_secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let sent_at: i64 = timestamp.parse().map_err(|_| SignatureError::Wrong)?;
    if (now_secs - sent_at).abs() > MAX_AGE_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = signature
        .strip_prefix("v0=")
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .ok_or(SignatureError::Wrong)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes())
        .map_err(|_| SignatureError::Wrong)?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Wrong)
}

/// A verified request, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Slack checks the events URL: answer with the challenge.
    UrlVerification { challenge: String },
    /// A person wrote to the bot (a direct message).
    Message {
        team_id: String,
        /// Slack's id of this delivery; retries repeat it.
        event_id: String,
        user: String,
        channel: String,
        text: String,
    },
    /// A person opened the app's Home tab: show it to them.
    HomeOpened {
        team_id: String,
        /// Slack's id of this delivery; retries repeat it.
        event_id: String,
        user: String,
    },
    /// `/frontdesk …`.
    Command {
        team_id: String,
        user: String,
        text: String,
    },
    /// A button pressed (or a menu choice picked) in a message.
    Pressed {
        team_id: String,
        user: String,
        channel: String,
        action_id: String,
    },
    /// Something Frontdesk does not act on (the bot's own messages, edits, other events).
    Ignored,
}

/// Why a verified request cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Slack request Frontdesk understands: {0}")]
pub struct UnreadableRequest(pub String);

fn text_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn required(value: &Value, pointer: &str) -> Result<String, UnreadableRequest> {
    text_at(value, pointer)
        .map(str::to_owned)
        .ok_or_else(|| UnreadableRequest(format!("{pointer} is missing")))
}

/// An Events API delivery (JSON).
pub fn read_event(body: &[u8]) -> Result<Inbound, UnreadableRequest> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| UnreadableRequest(err.to_string()))?;
    match text_at(&value, "/type") {
        Some("url_verification") => Ok(Inbound::UrlVerification {
            challenge: required(&value, "/challenge")?,
        }),
        Some("event_callback") => {
            let event = &value["event"];
            if text_at(event, "/type") == Some("app_home_opened") {
                // The Messages tab opening needs nothing from us.
                if text_at(event, "/tab") != Some("home") {
                    return Ok(Inbound::Ignored);
                }
                return Ok(Inbound::HomeOpened {
                    team_id: required(&value, "/team_id")?,
                    event_id: required(&value, "/event_id")?,
                    user: required(event, "/user")?,
                });
            }
            // Only what a person typed in a direct message to the bot: not the bot's own
            // messages (which would answer themselves), nor edits and joins (subtypes).
            let from_a_person = text_at(event, "/type") == Some("message")
                && text_at(event, "/channel_type") == Some("im")
                && event.get("bot_id").is_none()
                && event.get("subtype").is_none();
            if !from_a_person {
                return Ok(Inbound::Ignored);
            }
            Ok(Inbound::Message {
                team_id: required(&value, "/team_id")?,
                event_id: required(&value, "/event_id")?,
                user: required(event, "/user")?,
                channel: required(event, "/channel")?,
                text: text_at(event, "/text").unwrap_or_default().to_owned(),
            })
        }
        _ => Ok(Inbound::Ignored),
    }
}

/// The fields of a form body.
fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field(fields: &[(String, String)], name: &str) -> Result<String, UnreadableRequest> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .ok_or_else(|| UnreadableRequest(format!("{name} is missing")))
}

/// A slash command (a form).
pub fn read_command(body: &[u8]) -> Result<Inbound, UnreadableRequest> {
    let fields = form(body);
    Ok(Inbound::Command {
        team_id: field(&fields, "team_id")?,
        user: field(&fields, "user_id")?,
        text: field(&fields, "text").unwrap_or_default(),
    })
}

/// An interaction (a form whose one field `payload` holds JSON).
pub fn read_interaction(body: &[u8]) -> Result<Inbound, UnreadableRequest> {
    let payload = field(&form(body), "payload")?;
    let value: Value =
        serde_json::from_str(&payload).map_err(|err| UnreadableRequest(err.to_string()))?;
    if text_at(&value, "/type") != Some("block_actions") {
        return Ok(Inbound::Ignored);
    }
    let action = &value["actions"][0];
    let action_id = match text_at(action, "/type") {
        // A menu sends its action id with the picked value; the value says which choice.
        Some("static_select") => format!(
            "{}:{}",
            required(action, "/action_id")?,
            required(action, "/selected_option/value")?
        ),
        _ => required(action, "/action_id")?,
    };
    Ok(Inbound::Pressed {
        team_id: required(&value, "/team/id")?,
        user: required(&value, "/user/id")?,
        channel: required(&value, "/channel/id")?,
        action_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's own example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const NOW: i64 = 1_531_420_618 + 10;

    #[test]
    fn slacks_own_example_verifies_and_every_alteration_is_refused() {
        let body = BODY.as_bytes();
        assert_eq!(
            verify(SECRET, Some(TIMESTAMP), Some(SIGNATURE), body, NOW),
            Ok(())
        );
        let other_body = BODY.replace("roadrunner", "coyote");
        for (secret, timestamp, signature, body, now, expected) in [
            (
                SECRET,
                Some(TIMESTAMP),
                Some(SIGNATURE),
                other_body.as_bytes(),
                NOW,
                SignatureError::Wrong,
            ),
            (
                "another-secret",
                Some(TIMESTAMP),
                Some(SIGNATURE),
                body,
                NOW,
                SignatureError::Wrong,
            ),
            (
                SECRET,
                Some("1531420619"),
                Some(SIGNATURE),
                body,
                NOW,
                SignatureError::Wrong,
            ),
            (
                SECRET,
                Some(TIMESTAMP),
                Some("a2114d57b48e"),
                body,
                NOW,
                SignatureError::Wrong,
            ),
            (
                SECRET,
                Some(TIMESTAMP),
                None,
                body,
                NOW,
                SignatureError::Missing,
            ),
            (
                SECRET,
                None,
                Some(SIGNATURE),
                body,
                NOW,
                SignatureError::Missing,
            ),
            (
                SECRET,
                Some(TIMESTAMP),
                Some(SIGNATURE),
                body,
                NOW + MAX_AGE_SECS,
                SignatureError::Stale,
            ),
            (
                SECRET,
                Some(TIMESTAMP),
                Some(SIGNATURE),
                body,
                NOW - 20 - MAX_AGE_SECS,
                SignatureError::Stale,
            ),
        ] {
            assert_eq!(
                verify(secret, timestamp, signature, body, now),
                Err(expected.clone()),
                "{expected:?}"
            );
        }
        assert_eq!(
            read_command(body).unwrap(),
            Inbound::Command {
                team_id: "T1DC2JH3J".into(),
                user: "U2CERLKJA".into(),
                text: String::new()
            }
        );
    }

    #[test]
    fn direct_messages_from_people_are_read_and_everything_else_ignored() {
        let event = |inner: &str| {
            format!(
                r#"{{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{inner}}}"#
            )
        };
        let dm = event(
            r#"{"type":"message","channel_type":"im","user":"U1","channel":"D1","text":"help"}"#,
        );
        assert_eq!(
            read_event(dm.as_bytes()).unwrap(),
            Inbound::Message {
                team_id: "T1".into(),
                event_id: "Ev1".into(),
                user: "U1".into(),
                channel: "D1".into(),
                text: "help".into()
            }
        );
        for ignored in [
            event(
                r#"{"type":"message","channel_type":"im","bot_id":"B1","channel":"D1","text":"hi"}"#,
            ),
            event(
                r#"{"type":"message","channel_type":"im","subtype":"message_changed","channel":"D1"}"#,
            ),
            event(
                r#"{"type":"message","channel_type":"channel","user":"U1","channel":"C1","text":"hi"}"#,
            ),
            event(r#"{"type":"app_home_opened","user":"U1"}"#),
        ] {
            assert_eq!(
                read_event(ignored.as_bytes()).unwrap(),
                Inbound::Ignored,
                "{ignored}"
            );
        }
        assert_eq!(
            read_event(br#"{"type":"url_verification","challenge":"3eZbrw1aB"}"#).unwrap(),
            Inbound::UrlVerification {
                challenge: "3eZbrw1aB".into()
            }
        );
        assert!(read_event(b"not json").is_err());
        let no_user =
            event(r#"{"type":"message","channel_type":"im","channel":"D1","text":"help"}"#);
        assert!(read_event(no_user.as_bytes()).is_err());
    }

    #[test]
    fn a_pressed_button_is_read_from_the_payload_field() {
        let payload = r#"{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"channel":{"id":"D1"},"actions":[{"type":"button","action_id":"fd1:help"}]}"#;
        let body = format!(
            "payload={}",
            url::form_urlencoded::byte_serialize(payload.as_bytes()).collect::<String>()
        );
        assert_eq!(
            read_interaction(body.as_bytes()).unwrap(),
            Inbound::Pressed {
                team_id: "T1".into(),
                user: "U1".into(),
                channel: "D1".into(),
                action_id: "fd1:help".into()
            }
        );
        assert!(read_interaction(b"payload=%7Bnot").is_err());
        assert!(read_interaction(b"nothing=here").is_err());
    }
}
