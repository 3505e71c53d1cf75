//! Outgoing mail.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A plain-text message to one person, with files attached (a reception code's QR, a
/// booking's calendar invitation).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// May carry a secret (a reset link), so `Debug` leaves it out.
    pub body: String,
    /// Files sent beside the body. Mails queued before attachments existed have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("attachments", &self.attachments)
            .finish_non_exhaustive()
    }
}

/// A file attached to a mail.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The name the recipient sees (`reception-code.png`).
    pub filename: String,
    /// Its MIME type (`image/png`, `text/calendar; method=REQUEST`).
    pub content_type: String,
    /// The file itself; base64 in the outbox's JSON.
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    // The bytes may be a secret too (a QR of a reception code): only their size is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("size", &self.bytes.len())
            .finish()
    }
}

/// Bytes as standard base64 text in JSON (an array of numbers would be four times longer).
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying later (connection refused, 4xx from the server).
    #[error("temporary mail failure: {0}")]
    Temporary(String),
    /// Retrying will not help (bad address, 5xx rejection).
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

/// Sends mail.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends `mail`; returns when the server (or the mail directory) has accepted it.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_travel_as_base64_and_old_mails_without_them_still_read() {
        let plain = |subject: &str, body: &str| Mail {
            to: "a@example.com".into(),
            subject: subject.into(),
            body: body.into(),
            attachments: Vec::new(),
        };
        let mut mail = plain("Hello", "Body");
        mail.attachments.push(Attachment {
            filename: "reception-code.png".into(),
            content_type: "image/png".into(),
            bytes: vec![0x89, b'P', b'N', b'G', 0, 255],
        });
        let json = serde_json::to_value(&mail).unwrap();
        assert_eq!(json["attachments"][0]["bytes"], "iVBORwD/");
        assert_eq!(serde_json::from_value::<Mail>(json).unwrap(), mail);

        let old = r#"{"to":"a@example.com","subject":"s","body":"b"}"#;
        assert_eq!(serde_json::from_str::<Mail>(old).unwrap(), plain("s", "b"));
        // Nothing attached: the stored form is what it was before attachments.
        assert_eq!(serde_json::to_string(&plain("s", "b")).unwrap(), old);
        assert!(!format!("{mail:?}").contains("Body"));
    }
}
