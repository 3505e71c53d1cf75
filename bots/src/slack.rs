//! Slack: the [`ChatBot`] over the Slack Web API (slack-morphism), and Frontdesk's messages
//! rendered as Block Kit.
//!
//! Every text goes out as `plain_text`, so a visitor named `<!channel>` or `*bold*` is shown
//! as typed and never becomes a mention or markup. The notification `text` (which Slack reads
//! as mrkdwn) is escaped the way Slack documents (`&`, `<`, `>`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use frontdesk_core::domain::chat::{Block, ButtonStyle, Message};
use frontdesk_core::domain::people::Platform;
use frontdesk_core::port::{ChatBot, ChatError, Recipient, Sent};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

/// Slack's Web API.
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// How long one Web API call may take before it counts as a temporary failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// A Slack app's bot, by its bot token (`xoxb-…`).
pub struct SlackBot {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    call_timeout: Duration,
}

impl std::fmt::Debug for SlackBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs.
        f.debug_struct("SlackBot").finish_non_exhaustive()
    }
}

impl SlackBot {
    /// A bot with `token` calling the Web API at `api_url` ([`SLACK_API_URL`], or a local
    /// fake in tests; no trailing slash).
    pub fn new(token: &str, api_url: &str) -> SlackBot {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector =
            SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url);
        SlackBot {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(SlackApiTokenValue::from(token.to_owned())),
            call_timeout: CALL_TIMEOUT,
        }
    }

    /// This bot, giving up on a call after `timeout` instead of [`CALL_TIMEOUT`] (tests of
    /// a Slack that does not answer).
    pub fn with_call_timeout(self, timeout: Duration) -> SlackBot {
        SlackBot {
            call_timeout: timeout,
            ..self
        }
    }

    /// `future` within the call timeout, its error as a [`ChatError`].
    async fn call<T>(
        &self,
        future: impl Future<Output = Result<T, SlackClientError>>,
    ) -> Result<T, ChatError> {
        match tokio::time::timeout(self.call_timeout, future).await {
            Ok(result) => result.map_err(chat_error),
            Err(_) => Err(ChatError::Temporary("Slack did not answer in time".into())),
        }
    }

    /// The conversation to post `to` in: a person's direct-message channel is opened first.
    async fn conversation(&self, to: &Recipient) -> Result<SlackChannelId, ChatError> {
        match to {
            Recipient::Channel(id) => Ok(SlackChannelId::new(id.clone())),
            Recipient::User(id) => {
                let session = self.client.open_session(&self.token);
                let request = SlackApiConversationsOpenRequest::new()
                    .with_users(vec![SlackUserId::new(id.clone())]);
                let opened = self.call(session.conversations_open(&request)).await?;
                Ok(opened.channel.id)
            }
        }
    }
}

/// Slack's error codes after which retrying cannot help.
const PERMANENT_CODES: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "user_not_found",
    "users_not_found",
    "cannot_dm_bot",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
];

fn chat_error(err: SlackClientError) -> ChatError {
    match err {
        SlackClientError::RateLimitError(limit) => ChatError::RateLimited {
            // Slack always sends Retry-After with a 429; a minute if it ever does not.
            retry_after_secs: limit.retry_after.map_or(60, |wait| wait.as_secs().max(1)),
        },
        SlackClientError::ApiError(api) if PERMANENT_CODES.contains(&api.code.as_str()) => {
            ChatError::Permanent(api.code)
        }
        SlackClientError::ApiError(api) => ChatError::Temporary(api.code),
        SlackClientError::HttpError(http) if http.status_code.is_client_error() => {
            ChatError::Permanent(format!("HTTP {}", http.status_code))
        }
        other => ChatError::Temporary(other.to_string()),
    }
}

#[async_trait]
impl ChatBot for SlackBot {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn send(&self, to: &Recipient, message: &Message) -> Result<Sent, ChatError> {
        let channel = self.conversation(to).await?;
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatPostMessageRequest::new(channel, content(message));
        let posted = self.call(session.chat_post_message(&request)).await?;
        Ok(Sent {
            conversation: posted.channel.to_string(),
            message_id: posted.ts.to_string(),
        })
    }

    async fn update(&self, sent: &Sent, message: &Message) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(sent.conversation.clone()),
            content(message),
            SlackTs::new(sent.message_id.clone()),
        );
        self.call(session.chat_update(&request)).await.map(drop)
    }

    async fn user_email(&self, user_id: &str) -> Result<Option<String>, ChatError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUsersInfoRequest::new(SlackUserId::new(user_id.to_owned()));
        let info = self.call(session.users_info(&request)).await?;
        Ok(info
            .user
            .profile
            .and_then(|profile| profile.email)
            .map(|email| email.to_string()))
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<String>, ChatError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUsersLookupByEmailRequest::new(EmailAddress::new(email.to_owned()));
        match self.call(session.users_lookup_by_email(&request)).await {
            Ok(found) => Ok(Some(found.user.id.to_string())),
            Err(ChatError::Permanent(code)) if code == "users_not_found" => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn show_home(&self, user_id: &str, message: &Message) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let view = SlackView::Home(SlackHomeView::new(blocks(message)));
        let request = SlackApiViewsPublishRequest::new(SlackUserId::new(user_id.to_owned()), view);
        self.call(session.views_publish(&request)).await.map(drop)
    }
}

/// `message` as Slack message content: the escaped summary as the notification text, and
/// Block Kit blocks.
pub fn content(message: &Message) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(escape(&message.summary))
        .with_blocks(blocks(message))
}

/// Slack's mrkdwn escaping: the three characters that start markup or mentions.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn plain(text: &str) -> SlackBlockPlainTextOnly {
    SlackBlockPlainTextOnly::from(text.to_owned())
}

fn plain_text(text: &str) -> SlackBlockText {
    SlackBlockPlainText::new(text.to_owned()).as_block_text()
}

/// The Block Kit blocks of `message`, in order.
pub fn blocks(message: &Message) -> Vec<SlackBlock> {
    message
        .blocks
        .iter()
        .map(|block| match block {
            Block::Text { text } => SlackSectionBlock::new().with_text(plain_text(text)).into(),
            Block::Fields { fields } => SlackSectionBlock::new()
                .with_fields(
                    fields
                        .iter()
                        .map(|f| plain_text(&format!("{}\n{}", f.label, f.value)))
                        .collect(),
                )
                .into(),
            Block::Buttons { buttons } => SlackActionsBlock::new(
                buttons
                    .iter()
                    .map(|button| {
                        let element = SlackBlockButtonElement::new(plain(&button.label))
                            .with_action_id(SlackActionId::new(button.action.id()));
                        let element = match button.style {
                            ButtonStyle::Default => element,
                            ButtonStyle::Primary => {
                                element.with_style(SlackBlockButtonStyle::Primary)
                            }
                            ButtonStyle::Danger => {
                                element.with_style(SlackBlockButtonStyle::Danger)
                            }
                        };
                        SlackActionBlockElement::Button(element)
                    })
                    .collect(),
            )
            .into(),
            Block::Select {
                action,
                placeholder,
                options,
            } => SlackActionsBlock::new(vec![SlackActionBlockElement::StaticSelect(
                SlackBlockStaticSelectElement::new()
                    .with_action_id(SlackActionId::new(action.id()))
                    .with_placeholder(plain(placeholder))
                    .with_options(
                        options
                            .iter()
                            .map(|choice| {
                                SlackBlockChoiceItem::new(
                                    plain(&choice.label),
                                    choice.value.clone(),
                                )
                            })
                            .collect(),
                    ),
            )])
            .into(),
            Block::Image { url, alt } => match url.parse() {
                Ok(url) => SlackImageBlock::new(
                    SlackImageUrlOrFile::ImageUrl { image_url: url },
                    alt.clone(),
                )
                .into(),
                // Not a URL Slack can fetch: say what it shows instead.
                Err(_) => SlackSectionBlock::new().with_text(plain_text(alt)).into(),
            },
        })
        .collect()
}
