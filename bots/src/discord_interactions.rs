//! What Discord sends to the Interactions Endpoint URL — pings, the `/frontdesk` slash
//! command, button presses and menu picks — verified and read into what the conversation
//! understands.
//!
//! Every request is checked before anything in it is parsed: `X-Signature-Ed25519` must be
//! the application's Ed25519 signature of `X-Signature-Timestamp || raw body` (serenity's
//! `Verifier`), and the timestamp within five minutes of now, so a captured request cannot
//! be replayed later (Discord's signature alone does not expire).

use frontdesk_core::i18n::Lang;
use serde_json::Value;
/// Checks Discord's signatures (serenity's), re-exported so its users need not name serenity.
pub use serenity::interactions_endpoint::Verifier;

/// How far a request's timestamp may be from now.
pub const MAX_AGE_SECS: i64 = 300;

/// Why a request is not accepted as Discord's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Signature-Ed25519 or X-Signature-Timestamp header is missing")]
    Missing,
    #[error("the request timestamp is not within {MAX_AGE_SECS} s of now")]
    Stale,
    #[error("the signature does not match")]
    Wrong,
}

/// The public key in the application's settings is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the Discord public key must be the 64 hex digits of the application's Ed25519 key (Developer Portal → General Information)"
)]
pub struct InvalidPublicKey;

/// The verifier of the application whose public key is `public_key_hex`.
pub fn verifier(public_key_hex: &str) -> Result<Verifier, InvalidPublicKey> {
    let bytes: [u8; 32] = hex::decode(public_key_hex.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(InvalidPublicKey)?;
    Verifier::try_new(bytes).map_err(|_| InvalidPublicKey)
}

/// Checks that `body` was signed by the application's key at `timestamp`, at most
/// [`MAX_AGE_SECS`] from `now_secs`.
pub fn verify(
    verifier: &Verifier,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(SignatureError::Missing);
    };
    verifier
        .verify(signature, timestamp, body)
        .map_err(|()| SignatureError::Wrong)?;
    let sent_at: i64 = timestamp.parse().map_err(|_| SignatureError::Wrong)?;
    if (now_secs - sent_at).abs() > MAX_AGE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Who sent an interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The Discord user id (a snowflake).
    pub user_id: String,
    /// The language of the sender's Discord client, when Frontdesk speaks it.
    pub locale: Option<Lang>,
}

/// A verified interaction, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// Discord checks the endpoint: answer `{"type":1}`.
    Ping,
    /// `/frontdesk [text]`.
    Command {
        /// The interaction's id; Discord does not repeat it, a replay would.
        id: String,
        /// The token to answer later with (valid 15 minutes); a secret.
        token: String,
        sender: Sender,
        text: String,
    },
    /// A button pressed (its `custom_id`) or a menu choice picked (the menu's `custom_id`
    /// and the choice's value, `id:value`, as Slack's menus arrive).
    Pressed {
        id: String,
        token: String,
        sender: Sender,
        custom_id: String,
    },
    /// Something Frontdesk does not act on (another command, autocomplete, a modal).
    Ignored,
}

/// Why a verified request cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Discord interaction Frontdesk understands: {0}")]
pub struct UnreadableInteraction(pub String);

const PING: u64 = 1;
const APPLICATION_COMMAND: u64 = 2;
const MESSAGE_COMPONENT: u64 = 3;

fn text_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn required(value: &Value, pointer: &str) -> Result<String, UnreadableInteraction> {
    text_at(value, pointer)
        .map(str::to_owned)
        .ok_or_else(|| UnreadableInteraction(format!("{pointer} is missing")))
}

/// The language of a Discord locale (`ja`, `en-US`, `en-GB`, …).
pub fn language(locale: &str) -> Option<Lang> {
    let primary = locale.split('-').next().unwrap_or_default();
    Lang::from_tag(&primary.to_ascii_lowercase())
}

/// The person behind `interaction`: `member.user` in a server, `user` in a direct message.
fn sender(interaction: &Value) -> Result<Sender, UnreadableInteraction> {
    let user_id = text_at(interaction, "/member/user/id")
        .or_else(|| text_at(interaction, "/user/id"))
        .ok_or_else(|| UnreadableInteraction("member.user.id or user.id is missing".into()))?;
    Ok(Sender {
        user_id: user_id.to_owned(),
        locale: text_at(interaction, "/locale").and_then(language),
    })
}

/// An interaction (JSON).
pub fn read_interaction(body: &[u8]) -> Result<Interaction, UnreadableInteraction> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| UnreadableInteraction(err.to_string()))?;
    let kind = value
        .get("type")
        .and_then(Value::as_u64)
        .ok_or_else(|| UnreadableInteraction("/type is missing".into()))?;
    match kind {
        PING => Ok(Interaction::Ping),
        APPLICATION_COMMAND => {
            if text_at(&value, "/data/name") != Some(crate::discord::COMMAND_NAME) {
                return Ok(Interaction::Ignored);
            }
            let text = value
                .pointer("/data/options")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|option| text_at(option, "/name") == Some(crate::discord::COMMAND_OPTION))
                .and_then(|option| text_at(option, "/value"))
                .unwrap_or_default()
                .to_owned();
            Ok(Interaction::Command {
                id: required(&value, "/id")?,
                token: required(&value, "/token")?,
                sender: sender(&value)?,
                text,
            })
        }
        MESSAGE_COMPONENT => {
            let custom_id = required(&value, "/data/custom_id")?;
            // A menu sends which choice was picked beside its own id.
            let custom_id = match text_at(&value, "/data/values/0") {
                Some(choice) => format!("{custom_id}:{choice}"),
                None => custom_id,
            };
            Ok(Interaction::Pressed {
                id: required(&value, "/id")?,
                token: required(&value, "/token")?,
                sender: sender(&value)?,
                custom_id,
            })
        }
        _ => Ok(Interaction::Ignored),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discord_locales_become_languages_frontdesk_speaks() {
        assert_eq!(language("ja"), Some(Lang::Ja));
        assert_eq!(language("en-US"), Some(Lang::En));
        assert_eq!(language("en-GB"), Some(Lang::En));
        assert_eq!(language("fr"), None);
    }

    #[test]
    fn a_public_key_must_be_64_hex_digits() {
        assert_eq!(verifier("abc").err(), Some(InvalidPublicKey));
        assert_eq!(verifier(&"zz".repeat(32)).err(), Some(InvalidPublicKey));
        // Discord's documentation example key.
        assert!(
            verifier("67c6bd767ca099e79efac9fcce4d2022a63bf7dea780e7f3d813f694c1597089").is_ok()
        );
    }

    #[test]
    fn commands_and_presses_are_read_from_a_server_or_a_direct_message() {
        let command = br#"{"id":"11","type":2,"token":"tok","locale":"ja",
            "data":{"name":"frontdesk","options":[{"name":"text","type":3,"value":"help"}]},
            "member":{"user":{"id":"42"}}}"#;
        assert_eq!(
            read_interaction(command).unwrap(),
            Interaction::Command {
                id: "11".into(),
                token: "tok".into(),
                sender: Sender {
                    user_id: "42".into(),
                    locale: Some(Lang::Ja)
                },
                text: "help".into()
            }
        );
        let pressed = br#"{"id":"12","type":3,"token":"tok","user":{"id":"43"},
            "data":{"custom_id":"fd1:link","component_type":2}}"#;
        assert!(matches!(
            read_interaction(pressed).unwrap(),
            Interaction::Pressed { custom_id, sender, .. } if custom_id == "fd1:link" && sender.user_id == "43"
        ));
        let picked = br#"{"id":"13","type":3,"token":"tok","user":{"id":"43"},
            "data":{"custom_id":"fd1:room","component_type":3,"values":["room-a"]}}"#;
        assert!(matches!(
            read_interaction(picked).unwrap(),
            Interaction::Pressed { custom_id, .. } if custom_id == "fd1:room:room-a"
        ));
        assert_eq!(
            read_interaction(br#"{"type":1}"#).unwrap(),
            Interaction::Ping
        );
        assert!(read_interaction(b"{not json").is_err());
        assert!(
            read_interaction(br#"{"id":"1","type":2,"token":"t","data":{"name":"frontdesk"}}"#)
                .is_err()
        );
    }
}
