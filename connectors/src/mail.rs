//! The two [`Mailer`]s: SMTP through lettre, and `.eml` files for the embedded default.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use frontdesk_core::port::{Mail, MailError, Mailer};

fn build(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|err| MailError::Permanent(format!("bad recipient {:?}: {err}", mail.to)))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|err| MailError::Permanent(format!("cannot build message: {err}")))
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
