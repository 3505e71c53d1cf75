//! The built-in web chat: the chat surface every Frontdesk has, with no outside account.
//!
//! Employees have no admin account, so they sign in by a link mailed to their directory
//! address (15 minutes, single use, only its SHA-256 stored, at most one mail a minute, the
//! same answer whether or not the address is in the directory). The web chat user *is* the
//! signed-in employee: signing in links their `web` identity (external id = employee id), so
//! the shared conversation knows them.
//!
//! Why no [`crate::port::ChatBot`] for the web: the web chat's "platform" is this database.
//! Its notices are written by [`Engine::notify_employee`] and updated by
//! [`Engine::update_notice`] straight into the employee's history in the caller's
//! transaction — sealed with the tenant's key, which only the engine holds — so a notice
//! exists exactly when its change does, and an update can never overtake the notice it
//! updates (an outbox hop would add both risks and buy nothing). Live streams learn of new
//! rows from [`Engine::web_chat_changes`]: woken after this instance commits (the
//! conversation here, notices when the caller wakes the outbox dispatcher after its commit,
//! as it must anyway), and polling for what other instances wrote.
//!
//! Every write takes the employee's next event number (`seq`) under a row lock, so one
//! employee's events are numbered in commit order and "messages after event N" is exact:
//! a stream that resumes after N loses nothing and repeats nothing.

use chrono::Duration;
use serde_json::json;

use super::Engine;
use super::access_log::{Event, finish_csv, write_row};
use super::conversation::{ChatUser, Input};
use super::outbox::OutboxMessage;
use crate::domain::chat::Message;
use crate::domain::people::{Platform, normalize_email};
use crate::domain::token;
use crate::engine::tenant::validate_slug;
use crate::i18n;
use crate::port::{Mail, SealedAt};
use crate::store::employee::{self, Employee};
use crate::store::web_chat::{self, Author, StoredMessage};
use crate::store::{Tx, tenant};
use crate::{Error, Result};

/// How long a mailed sign-in link works.
pub const SIGN_IN_LINK_TTL: Duration = Duration::minutes(15);

/// The shortest time between two sign-in mails to one employee.
pub const SIGN_IN_LINK_COOLDOWN: Duration = Duration::seconds(60);

/// How long a web chat sign-in lasts.
pub const EMPLOYEE_SESSION_TTL: Duration = Duration::days(30);

/// The longest text an employee may send (what the conversation reads at most).
pub const MAX_WEB_CHAT_TEXT: usize = crate::domain::chat::MAX_COMMAND_TEXT;

/// How many messages one read of the history returns at most.
pub const WEB_CHAT_PAGE: i64 = 50;

/// A signed-in web chat employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEmployee {
    pub tenant_id: i64,
    pub employee: Employee,
}

impl ChatEmployee {
    /// The employee as the conversation sees them.
    pub fn chat_user(&self) -> ChatUser {
        ChatUser {
            tenant_id: self.tenant_id,
            platform: Platform::Web,
            user_id: self.employee.id.to_string(),
            locale: Some(self.employee.profile.language),
        }
    }
}

/// A new web chat sign-in: who, and the session token for the cookie.
#[derive(Clone)]
pub struct EmployeeSignIn {
    pub employee: ChatEmployee,
    pub session_token: String,
}

impl std::fmt::Debug for EmployeeSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmployeeSignIn")
            .field("employee", &self.employee)
            .field("session_token", &"[redacted]")
            .finish()
    }
}

/// One message of an employee's web chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebChatMessage {
    pub id: i64,
    /// The number of its latest event (a stream's event id).
    pub seq: i64,
    pub author: Author,
    pub message: Message,
    /// When it was first written (epoch ms).
    pub at: i64,
}

fn body_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "web_chat_messages",
        column: "body",
        row,
    }
}

impl Engine {
    /// Mails a web chat sign-in link to `email` if it is in the tenant's directory. The
    /// answer is the same either way, so the form does not reveal who is in the directory.
    pub async fn request_chat_sign_in(
        &self,
        tenant_slug: &str,
        email: &str,
        ip: &str,
    ) -> Result<()> {
        let Ok(email) = normalize_email(email) else {
            return Ok(());
        };
        if validate_slug(tenant_slug).is_err() {
            return Ok(());
        }
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let Some(tenant) = tenant::find_tenant_by_slug(&mut tx, tenant_slug).await? else {
            return Ok(());
        };
        let Some(employee) = employee::find_by_email(&mut tx, tenant.id, &email).await? else {
            return Ok(());
        };
        // One mail a minute at most, so the form cannot flood someone's inbox.
        let last = web_chat::latest_link_at(&mut tx, tenant.id, employee.id).await?;
        if last.is_some_and(|at| now - at < SIGN_IN_LINK_COOLDOWN.num_milliseconds()) {
            return Ok(());
        }
        let link_token = token::generate();
        let expires = now + SIGN_IN_LINK_TTL.num_milliseconds();
        web_chat::insert_link(
            &mut tx,
            &token::hash(&link_token),
            tenant.id,
            employee.id,
            now,
            expires,
        )
        .await?;
        let lang = employee.profile.language;
        let url = format!(
            "{}/chat/sign-in?token={}",
            self.settings.public_url.trim_end_matches('/'),
            link_token
        );
        let minutes = SIGN_IN_LINK_TTL.num_minutes().to_string();
        let mail = Mail {
            to: employee.profile.email.clone(),
            subject: i18n::text(lang, "mail.chat_sign_in.subject"),
            body: i18n::format(
                lang,
                "mail.chat_sign_in.body",
                &[("url", &url), ("minutes", &minutes)],
            ),
            attachments: Vec::new(),
        };
        self.queue(&mut tx, tenant.id, &OutboxMessage::Mail(mail))
            .await?;
        let event = Event {
            actor: &employee.profile.email,
            ip,
            action: "chat.sign_in_request",
            target: format!("employee:{}", employee.id),
            detail: json!({}),
        };
        self.record(&mut tx, tenant.id, now, event).await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        Ok(())
    }

    /// Signs an employee in to the web chat with a mailed link, using it up.
    pub async fn sign_in_to_chat(&self, link_token: &str, ip: &str) -> Result<EmployeeSignIn> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let Some((tenant_id, employee_id)) =
            web_chat::consume_link(&mut tx, &token::hash(link_token), now).await?
        else {
            return Err(Error::InvalidSignInLink);
        };
        let mut employee = employee::find(&mut tx, tenant_id, employee_id)
            .await?
            .ok_or(Error::InvalidSignInLink)?;
        // The web chat user is the employee: link them so the conversation knows them.
        let web_id = employee.id.to_string();
        if employee.profile.chat_identities.get(&Platform::Web) != Some(&web_id) {
            employee::link_identity(&mut tx, tenant_id, employee.id, Platform::Web, &web_id)
                .await?;
            employee
                .profile
                .chat_identities
                .insert(Platform::Web, web_id);
        }
        let session_token = token::generate();
        let expires = now + EMPLOYEE_SESSION_TTL.num_milliseconds();
        web_chat::insert_session(
            &mut tx,
            &token::hash(&session_token),
            tenant_id,
            employee.id,
            now,
            expires,
        )
        .await?;
        let event = Event {
            actor: &employee.profile.email,
            ip,
            action: "chat.sign_in",
            target: format!("employee:{}", employee.id),
            detail: json!({}),
        };
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(EmployeeSignIn {
            employee: ChatEmployee {
                tenant_id,
                employee,
            },
            session_token,
        })
    }

    /// The employee signed in to the web chat with this session token, if it is valid.
    pub async fn chat_session(&self, session_token: &str) -> Result<Option<ChatEmployee>> {
        let mut tx = self.db.read().await?;
        let now = self.ports.clock.now_ms();
        let Some((tenant_id, employee_id)) =
            web_chat::find_session(&mut tx, &token::hash(session_token), now).await?
        else {
            return Ok(None);
        };
        Ok(employee::find(&mut tx, tenant_id, employee_id)
            .await?
            .map(|employee| ChatEmployee {
                tenant_id,
                employee,
            }))
    }

    /// Ends a web chat session.
    pub async fn sign_out_of_chat(&self, session_token: &str) -> Result<()> {
        let mut tx = self.db.write().await?;
        web_chat::delete_session(&mut tx, &token::hash(session_token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What the employee typed or pressed, and the conversation's answer, both kept in
    /// their web chat; returns the two messages.
    pub async fn web_chat_say(
        &self,
        who: &ChatEmployee,
        input: &Input,
    ) -> Result<Vec<WebChatMessage>> {
        let said = match input {
            Input::Text(text) => {
                if text.chars().count() > MAX_WEB_CHAT_TEXT {
                    return Err(Error::invalid(
                        "text",
                        crate::domain::field::Invalid::TooLong {
                            max: MAX_WEB_CHAT_TEXT,
                        },
                    ));
                }
                Message::text(text.trim())
            }
            // A pressed button is shown as its label, found in the message that carried it.
            Input::Pressed(id) => Message::text(self.pressed_label(who, id).await?),
        };
        let answer = self.converse(&who.chat_user(), input).await?;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let mut written = Vec::new();
        for (author, message) in [(Author::Employee, said), (Author::Frontdesk, answer)] {
            written.push(
                self.write_web_chat(
                    &mut tx,
                    who.tenant_id,
                    who.employee.id,
                    author,
                    None,
                    message,
                    now,
                )
                .await?,
            );
        }
        tx.commit().await?;
        self.wake_web_chat();
        Ok(written)
    }

    /// The label of the button with action id `id` in the employee's recent messages (the
    /// id itself when none has it: an old or altered button, which the conversation answers).
    async fn pressed_label(&self, who: &ChatEmployee, id: &str) -> Result<String> {
        let recent = self.web_chat_after(who, None).await?;
        Ok(recent
            .iter()
            .rev()
            .flat_map(|m| m.message.all_buttons())
            .find(|b| b.action.id() == id)
            .map_or_else(|| id.chars().take(100).collect(), |b| b.label.clone()))
    }

    /// The employee's web chat: without `after`, the latest [`WEB_CHAT_PAGE`] messages;
    /// with it, the messages whose latest event comes after event `after` (new ones and
    /// new versions), at most a page. Both in event order.
    pub async fn web_chat_after(
        &self,
        who: &ChatEmployee,
        after: Option<i64>,
    ) -> Result<Vec<WebChatMessage>> {
        let mut tx = self.db.read().await?;
        let stored = match after {
            Some(after) => {
                web_chat::after(
                    &mut tx,
                    who.tenant_id,
                    who.employee.id,
                    after,
                    WEB_CHAT_PAGE,
                )
                .await?
            }
            None => {
                web_chat::latest(&mut tx, who.tenant_id, who.employee.id, WEB_CHAT_PAGE).await?
            }
        };
        drop(tx);
        stored
            .into_iter()
            .map(|s| self.open_web_chat(who.tenant_id, s))
            .collect()
    }

    /// Told whenever this instance has written web chat messages (a counter; streams wait
    /// for it to change, and poll for other instances' writes).
    pub fn web_chat_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.web_chat_written.subscribe()
    }

    /// Wakes every live web chat stream of this instance to look for new messages.
    pub fn wake_web_chat(&self) {
        self.web_chat_written
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Writes a notice to the employee's web chat in `tx` (see the module's notes).
    pub(crate) async fn notify_web_chat(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        employee: &Employee,
        notice: &str,
        message: &Message,
    ) -> Result<()> {
        let now = self.ports.clock.now_ms();
        self.write_web_chat(
            tx,
            tenant_id,
            employee.id,
            Author::Frontdesk,
            Some(notice),
            message.clone(),
            now,
        )
        .await?;
        Ok(())
    }

    /// Replaces every web chat message of each `(notice, message)` with its message in `tx`,
    /// each under a new event number so live streams show the new version; returns how
    /// many. Their messages are found in one statement (a sweep updates many reminders).
    pub(crate) async fn update_web_chat_notices(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        updates: &[(&str, &Message)],
    ) -> Result<usize> {
        let now = self.ports.clock.now_ms();
        let notices: Vec<&str> = updates.iter().map(|(notice, _)| *notice).collect();
        let mut found = web_chat::of_notices(tx, tenant_id, &notices).await?;
        // Heads are locked in employee order, so two updates cannot wait on each other.
        found.sort_by_key(|(id, employee_id, _)| (*employee_id, *id));
        for (id, employee_id, notice) in &found {
            let Some((_, message)) = updates.iter().find(|(wanted, _)| wanted == notice) else {
                continue;
            };
            let seq = web_chat::next_seq(tx, tenant_id, *employee_id).await?;
            let body = self.seal_web_chat(tenant_id, *id, message)?;
            web_chat::replace(tx, tenant_id, *id, &body, seq, now).await?;
        }
        Ok(found.len())
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_web_chat(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        employee_id: i64,
        author: Author,
        notice: Option<&str>,
        message: Message,
        now: i64,
    ) -> Result<WebChatMessage> {
        let seq = web_chat::next_seq(tx, tenant_id, employee_id).await?;
        let id =
            web_chat::insert_message(tx, tenant_id, employee_id, author, notice, seq, now).await?;
        let body = self.seal_web_chat(tenant_id, id, &message)?;
        web_chat::set_body(tx, tenant_id, id, &body).await?;
        Ok(WebChatMessage {
            id,
            seq,
            author,
            message,
            at: now,
        })
    }

    fn seal_web_chat(&self, tenant_id: i64, id: i64, message: &Message) -> Result<String> {
        let json = serde_json::to_string(message)
            .map_err(|err| Error::internal("encoding a web chat message", err))?;
        let row = id.to_string();
        self.seal_for_tenant(json.as_bytes(), body_at(tenant_id, &row))
    }

    /// The tenant's web chat conversations for its export: one row per message, opened
    /// and as plain text.
    pub(crate) async fn web_chat_csv(&self, tx: &mut Tx, tenant_id: i64) -> Result<String> {
        let mut csv = csv::Writer::from_writer(Vec::new());
        write_row(&mut csv, ["employee_email", "at", "author", "text"])?;
        for (email, stored) in web_chat::of_tenant(tx, tenant_id).await? {
            let message = self.open_web_chat(tenant_id, stored)?;
            let at = chrono::DateTime::from_timestamp_millis(message.at)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            let text = message.message.plain_text();
            write_row(
                &mut csv,
                [email.as_str(), &at, message.author.as_str(), &text],
            )?;
        }
        finish_csv(csv)
    }

    fn open_web_chat(&self, tenant_id: i64, stored: StoredMessage) -> Result<WebChatMessage> {
        let row = stored.id.to_string();
        let plain = self
            .open_for_tenant(&stored.body, body_at(tenant_id, &row))
            .map_err(|err| Error::internal("opening a web chat message", err))?;
        let message = serde_json::from_slice(&plain)
            .map_err(|err| Error::internal("decoding a web chat message", err))?;
        Ok(WebChatMessage {
            id: stored.id,
            seq: stored.seq,
            author: stored.author,
            message,
            at: stored.created_at,
        })
    }
}
