//! The two [`Mailer`]s: SMTP through lettre, and `.eml` files for the embedded default.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use frontdesk_core::port::{Mail, MailError, Mailer};

/// The message to send: plain text, or — with attachments — `multipart/mixed` with the text
/// first and each file after it.
fn build(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|err| MailError::Permanent(format!("bad recipient {:?}: {err}", mail.to)))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone());
    let built = if mail.attachments.is_empty() {
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(mail.body.clone()));
        for file in &mail.attachments {
            // A type lettre cannot read would be sent wrongly labelled: refused instead,
            // which only a change in our code can cause.
            let content_type = ContentType::parse(&file.content_type).map_err(|err| {
                MailError::Permanent(format!(
                    "attachment {:?} has a bad content type {:?}: {err}",
                    file.filename, file.content_type
                ))
            })?;
            parts = parts.singlepart(
                Attachment::new(file.filename.clone()).body(file.bytes.clone(), content_type),
            );
        }
        builder.multipart(parts)
    };
    built.map_err(|err| MailError::Permanent(format!("cannot build message: {err}")))
}

/// Why a mailer cannot be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error(
        "[mail] from {from:?} is not a mailbox such as \"Frontdesk <frontdesk@example.com>\": {source}"
    )]
    From {
        from: String,
        source: lettre::address::AddressError,
    },
    #[error("[mail] smtp_url is not usable (expected smtp://host:port or smtps://…): {0}")]
    SmtpUrl(#[source] lettre::transport::smtp::Error),
}

fn mailbox(from: &str) -> Result<Mailbox, MailConfigError> {
    from.parse().map_err(|source| MailConfigError::From {
        from: from.to_owned(),
        source,
    })
}

/// How long one SMTP command may take before the send fails (and is retried later).
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends through an SMTP server (`smtp://host:port`, `smtps://…`, `?tls=required`).
#[derive(Debug)]
pub struct SmtpMailer {
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from`.
    pub fn new(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let from = mailbox(from)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(MailConfigError::SmtpUrl)?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(SmtpMailer { from, transport })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = build(&self.from, mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|err| {
                if err.is_permanent() {
                    MailError::Permanent(err.to_string())
                } else {
                    MailError::Temporary(err.to_string())
                }
            })
    }
}

/// Writes `bytes` to a new file only its owner can read (a mail may hold a reset link).
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.flush().await
}

/// Writes each message as an `.eml` file into a directory (no mail server needed).
#[derive(Debug)]
pub struct FileMailer {
    from: Mailbox,
    dir: PathBuf,
}

impl FileMailer {
    /// A mailer writing into `dir` (created when needed), sending as `from`.
    pub fn new(dir: PathBuf, from: &str) -> Result<Self, MailConfigError> {
        let from = mailbox(from)?;
        Ok(FileMailer { from, dir })
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = build(&self.from, mail)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|err| MailError::Temporary(format!("{}: {err}", self.dir.display())))?;
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            uuid::Uuid::new_v4()
        );
        let path = self.dir.join(&name);
        // Written aside and renamed, so a reader of the directory never sees half a message.
        let partial = self.dir.join(format!(".{name}.partial"));
        write_private(&partial, &message.formatted())
            .await
            .map_err(|err| MailError::Temporary(format!("{}: {err}", partial.display())))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|err| MailError::Temporary(format!("{}: {err}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use frontdesk_core::port::Attachment as File;

    use super::*;

    fn mail(attachments: Vec<File>) -> Mail {
        Mail {
            to: "Taro Yamada <taro@example.com>".into(),
            subject: "Your reception code / 受付コード".into(),
            body: "Dear Taro,\n\n    246810\n".into(),
            attachments,
        }
    }

    fn png() -> File {
        File {
            filename: "reception-code.png".into(),
            content_type: "image/png".into(),
            bytes: b"\x89PNG\r\n\x1a\n not really a picture".to_vec(),
        }
    }

    fn formatted(mail: &Mail) -> String {
        let from = mailbox("Frontdesk <frontdesk@example.com>").unwrap();
        String::from_utf8(build(&from, mail).unwrap().formatted()).unwrap()
    }

    #[test]
    fn a_mail_without_attachments_stays_plain_text() {
        let text = formatted(&mail(Vec::new()));
        assert!(text.contains("Content-Type: text/plain"), "{text}");
        assert!(!text.contains("multipart"), "{text}");
    }

    #[test]
    fn attachments_go_as_multipart_mixed_after_the_text() {
        let text = formatted(&mail(vec![png()]));
        assert!(text.contains("Content-Type: multipart/mixed"), "{text}");
        let body_at = text.find("Dear Taro").expect("the text part");
        let file_at = text
            .find("Content-Disposition: attachment; filename=\"reception-code.png\"")
            .expect("the attachment part");
        assert!(body_at < file_at, "the text comes first: {text}");
        assert!(text.contains("Content-Type: image/png"), "{text}");
        // The bytes in base64 (lettre folds long lines; this one is short).
        assert!(text.contains(&STANDARD.encode(&png().bytes)), "{text}");
    }

    #[test]
    fn a_content_type_lettre_cannot_read_is_refused_for_good() {
        let mut file = png();
        file.content_type = "not a type".into();
        let from = mailbox("Frontdesk <frontdesk@example.com>").unwrap();
        assert!(matches!(
            build(&from, &mail(vec![file])),
            Err(MailError::Permanent(_))
        ));
    }

    #[tokio::test]
    async fn the_file_mailer_writes_the_attachment_into_the_eml() {
        let dir = tempfile::tempdir().unwrap();
        let mailer =
            FileMailer::new(dir.path().to_path_buf(), "Frontdesk <f@example.com>").unwrap();
        mailer.send(&mail(vec![png()])).await.unwrap();
        let written: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(written.len(), 1);
        let text = std::fs::read_to_string(written[0].as_ref().unwrap().path()).unwrap();
        assert!(text.contains("filename=\"reception-code.png\""), "{text}");
    }
}
