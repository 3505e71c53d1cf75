//! Discord: the [`ChatBot`] over Discord's REST API (serenity's routes and builders, no
//! gateway), Frontdesk's messages rendered as Discord content, embeds and components, and the
//! `/frontdesk` slash command's registration.
//!
//! Text goes out with Discord's markdown escaped and with no mentions allowed, so a visitor
//! named `@everyone` or `**bold**` is shown as typed and pings no one.
//!
//! Requests are built by serenity (its `Route`s are the real `/api/v10/...` paths) but sent
//! here: serenity's own send drops the `Retry-After` of a 429 and its rate limiter sleeps
//! and retries inside the call, while the outbox must learn how long to wait and keep the
//! 10 s deadline. Notices are few, so the outbox's waits are rate limiting enough.

use std::time::Duration;

use async_trait::async_trait;
use frontdesk_core::domain::chat::{Block, ButtonStyle, Message};
use frontdesk_core::domain::people::Platform;
use frontdesk_core::port::{ChatBot, ChatError, Recipient, Sent};
use serde::de::DeserializeOwned;
use serde_json::json;
use serenity::all::{
    ApplicationId, ButtonStyle as DiscordButtonStyle, ChannelId, CommandOptionType,
    CreateActionRow, CreateAllowedMentions, CreateButton, CreateCommand, CreateCommandOption,
    CreateEmbed, CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage,
    CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, EditInteractionResponse,
    EditMessage, MessageId,
};
use serenity::http::{Http, HttpBuilder, LightMethod, Request, Route};

/// Discord's API host (serenity adds `/api/v10/...`).
pub const DISCORD_API_URL: &str = "https://discord.com";

/// How long one API call may take before it counts as a temporary failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait asked of the outbox when a 429 does not say how long (it always should).
const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// Discord's limits on what one message may hold.
const MAX_CONTENT: usize = 2_000;
const MAX_BUTTON_LABEL: usize = 80;
const MAX_BUTTONS_PER_ROW: usize = 5;
const MAX_ROWS: usize = 5;
const MAX_FIELDS: usize = 25;
const MAX_FIELD_NAME: usize = 256;
const MAX_FIELD_VALUE: usize = 1_024;
const MAX_SELECT_OPTIONS: usize = 25;
const MAX_OPTION_TEXT: usize = 100;
const MAX_PLACEHOLDER: usize = 150;

/// The slash command everything starts from, and its one optional option.
pub const COMMAND_NAME: &str = "frontdesk";
pub const COMMAND_OPTION: &str = "text";

/// A Discord application's bot, by its bot token.
pub struct DiscordBot {
    /// Holds the token, the API host and the application id; requests are built from it.
    http: Http,
    client: reqwest::Client,
}

impl std::fmt::Debug for DiscordBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs.
        f.debug_struct("DiscordBot").finish_non_exhaustive()
    }
}

/// The `id` of what Discord created (a channel, a message); snowflakes arrive as strings.
#[derive(serde::Deserialize)]
struct Created {
    id: String,
}

/// Discord's error body: `code` and `message`, and `retry_after` (seconds) on a 429.
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
    retry_after: Option<f64>,
}

impl DiscordBot {
    /// A bot of application `application_id` with `token`, calling the API at `api_url`
    /// ([`DISCORD_API_URL`], or a local fake in tests).
    pub fn new(token: &str, application_id: u64, api_url: &str) -> Result<DiscordBot, String> {
        let application_id = std::num::NonZeroU64::new(application_id)
            .ok_or("the Discord application id cannot be 0")?;
        let http = HttpBuilder::new(token)
            .proxy(api_url.trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .application_id(ApplicationId::from(application_id))
            .build();
        let client = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|err| format!("the Discord HTTP client: {err}"))?;
        Ok(DiscordBot { http, client })
    }

    fn application_id(&self) -> ApplicationId {
        self.http
            .application_id()
            .expect("set when the bot is made")
    }

    /// Sends `request` and reads what Discord answers into `T`, or classifies its failure.
    async fn call<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<T, ChatError> {
        let built = request
            .build(&self.client, self.http.token(), self.http.proxy.as_deref())
            .map_err(|err| ChatError::Permanent(format!("a Discord request: {err}")))?;
        let answer = async {
            let response = built.send().await?;
            let status = response.status();
            if status.is_success() {
                return Ok(Ok(response.json::<T>().await?));
            }
            let retry_after_header = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok());
            let body: ErrorBody = response.json().await.unwrap_or_default();
            Ok(Err(failure(status.as_u16(), retry_after_header, body)))
        };
        match tokio::time::timeout(CALL_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(err)) => Err(transport_failure(err)),
            Err(_) => Err(ChatError::Temporary(
                "Discord did not answer in time".into(),
            )),
        }
    }

    /// The channel to post `to` in: a person's direct-message channel is opened first
    /// (Discord returns the same one each time).
    async fn channel(&self, to: &Recipient) -> Result<ChannelId, ChatError> {
        let id = match to {
            Recipient::Channel(id) => id.clone(),
            Recipient::User(user) => {
                let body = json!({ "recipient_id": user });
                let request = Request::new(Route::UserMeDmChannels, LightMethod::Post)
                    .body(Some(to_body(&body)?));
                self.call::<Created>(request).await?.id
            }
        };
        snowflake(&id).map(ChannelId::new)
    }

    /// Registers the global `/frontdesk [text]` command, in English and Japanese. Replaces
    /// the application's whole command list (`PUT`), so running it again changes nothing.
    pub async fn register_commands(&self) -> Result<(), ChatError> {
        let request = Request::new(
            Route::Commands {
                application_id: self.application_id(),
            },
            LightMethod::Put,
        )
        .body(Some(to_body(&[frontdesk_command()])?));
        self.call::<serde_json::Value>(request).await.map(drop)
    }

    /// Replaces the deferred answer ("thinking…") to the interaction with `token` by
    /// `message` (the interaction's webhook, valid 15 minutes).
    pub async fn answer_later(&self, token: &str, message: &Message) -> Result<(), ChatError> {
        let rendered = render(message);
        let body = EditInteractionResponse::new()
            .content(rendered.content)
            .embeds(rendered.embeds)
            .components(rendered.components)
            .allowed_mentions(CreateAllowedMentions::new());
        let request = Request::new(
            Route::WebhookOriginalInteractionResponse {
                application_id: self.application_id(),
                token,
            },
            LightMethod::Patch,
        )
        .body(Some(to_body(&body)?));
        self.call::<serde_json::Value>(request).await.map(drop)
    }
}

fn to_body(value: &impl serde::Serialize) -> Result<Vec<u8>, ChatError> {
    serde_json::to_vec(value).map_err(|err| ChatError::Permanent(format!("a Discord body: {err}")))
}

/// A Discord id (snowflake), which is never 0.
fn snowflake(id: &str) -> Result<u64, ChatError> {
    id.parse::<u64>()
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| ChatError::Permanent(format!("{id:?} is not a Discord id")))
}

/// What a failed answer means for the outbox.
fn failure(status: u16, retry_after_header: Option<f64>, body: ErrorBody) -> ChatError {
    let code = body
        .code
        .map(|code| format!(", Discord code {code}"))
        .unwrap_or_default();
    let reason = format!(
        "HTTP {status}{code}{}",
        body.message.map(|m| format!(": {m}")).unwrap_or_default()
    );
    match status {
        429 => ChatError::RateLimited {
            retry_after_secs: retry_after_header
                .or(body.retry_after)
                .filter(|secs| secs.is_finite() && *secs >= 0.0)
                // Whole seconds, rounded up: waiting less would be refused again.
                .map_or(DEFAULT_RETRY_AFTER_SECS, |secs| (secs.ceil() as u64).max(1)),
        },
        408 | 500..=599 => ChatError::Temporary(reason),
        // 401 (token revoked), 403 (50007: the user does not accept DMs from the bot),
        // 404 (unknown channel or message), 400 (a message Discord will never take).
        _ => ChatError::Permanent(reason),
    }
}

fn transport_failure(err: reqwest::Error) -> ChatError {
    if err.is_timeout() {
        ChatError::Temporary("Discord did not answer in time".into())
    } else if err.is_decode() {
        ChatError::Temporary(format!("Discord's answer could not be read: {err}"))
    } else {
        ChatError::Temporary(format!("Discord could not be reached: {err}"))
    }
}

#[async_trait]
impl ChatBot for DiscordBot {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn send(&self, to: &Recipient, message: &Message) -> Result<Sent, ChatError> {
        let channel_id = self.channel(to).await?;
        let rendered = render(message);
        let body = CreateMessage::new()
            .content(rendered.content)
            .embeds(rendered.embeds)
            .components(rendered.components)
            .allowed_mentions(CreateAllowedMentions::new());
        let request = Request::new(Route::ChannelMessages { channel_id }, LightMethod::Post)
            .body(Some(to_body(&body)?));
        let posted: Created = self.call(request).await?;
        Ok(Sent {
            conversation: channel_id.to_string(),
            message_id: posted.id,
        })
    }

    async fn update(&self, sent: &Sent, message: &Message) -> Result<(), ChatError> {
        let channel_id = ChannelId::new(snowflake(&sent.conversation)?);
        let message_id = MessageId::new(snowflake(&sent.message_id)?);
        let rendered = render(message);
        let body = EditMessage::new()
            .content(rendered.content)
            .embeds(rendered.embeds)
            .components(rendered.components)
            .allowed_mentions(CreateAllowedMentions::new());
        let request = Request::new(
            Route::ChannelMessage {
                channel_id,
                message_id,
            },
            LightMethod::Patch,
        )
        .body(Some(to_body(&body)?));
        self.call::<serde_json::Value>(request).await.map(drop)
    }

    /// Discord shares no email address with bots.
    async fn user_email(&self, _user_id: &str) -> Result<Option<String>, ChatError> {
        Ok(None)
    }

    /// Discord cannot look people up by email: only linked employees are reached.
    async fn find_user_by_email(&self, _email: &str) -> Result<Option<String>, ChatError> {
        Ok(None)
    }
}

/// The global `/frontdesk [text]` command, with Japanese names and descriptions.
pub fn frontdesk_command() -> CreateCommand {
    CreateCommand::new(COMMAND_NAME)
        .description("Ask Frontdesk: help, link, …")
        .name_localized("ja", "受付")
        .description_localized("ja", "Frontdesk に話しかけます（ヘルプ・連携など）")
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::String,
                COMMAND_OPTION,
                "What to ask, e.g. help or link",
            )
            .name_localized("ja", "内容")
            .description_localized("ja", "話しかける内容（例: ヘルプ、連携）")
            .required(false),
        )
}

/// A message in Discord's parts.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Paragraphs, escaped, at most 2,000 characters.
    pub content: String,
    /// Fields and pictures.
    pub embeds: Vec<CreateEmbed>,
    /// Rows of buttons and menus.
    pub components: Vec<CreateActionRow>,
}

/// `message` as Discord content, embeds and components.
pub fn render(message: &Message) -> Rendered {
    let mut paragraphs = Vec::new();
    let mut embeds = Vec::new();
    let mut components = Vec::new();
    // Discord shows the content, not a separate notification text: the summary leads unless
    // the first paragraph already says it.
    let leads =
        matches!(message.blocks.first(), Some(Block::Text { text }) if *text == message.summary);
    if !leads && !message.summary.is_empty() {
        paragraphs.push(escape(&message.summary));
    }
    for block in &message.blocks {
        match block {
            Block::Text { text } => paragraphs.push(escape(text)),
            Block::Fields { fields } => {
                let embed = fields
                    .iter()
                    .take(MAX_FIELDS)
                    .fold(CreateEmbed::new(), |embed, f| {
                        embed.field(
                            cut(&f.label, MAX_FIELD_NAME),
                            cut(&escape(&f.value), MAX_FIELD_VALUE),
                            true,
                        )
                    });
                embeds.push(embed);
            }
            Block::Buttons { buttons } => {
                for row in buttons.chunks(MAX_BUTTONS_PER_ROW) {
                    components.push(CreateActionRow::Buttons(
                        row.iter()
                            .map(|button| {
                                CreateButton::new(button.action.id())
                                    .label(cut(&button.label, MAX_BUTTON_LABEL))
                                    .style(match button.style {
                                        ButtonStyle::Default => DiscordButtonStyle::Secondary,
                                        ButtonStyle::Primary => DiscordButtonStyle::Primary,
                                        ButtonStyle::Danger => DiscordButtonStyle::Danger,
                                    })
                            })
                            .collect(),
                    ));
                }
            }
            Block::Select {
                action,
                placeholder,
                options,
            } => components.push(CreateActionRow::SelectMenu(
                CreateSelectMenu::new(
                    action.id(),
                    CreateSelectMenuKind::String {
                        options: options
                            .iter()
                            .take(MAX_SELECT_OPTIONS)
                            .map(|choice| {
                                CreateSelectMenuOption::new(
                                    cut(&choice.label, MAX_OPTION_TEXT),
                                    cut(&choice.value, MAX_OPTION_TEXT),
                                )
                            })
                            .collect(),
                    },
                )
                .placeholder(cut(placeholder, MAX_PLACEHOLDER)),
            )),
            Block::Image { url, alt } => {
                if url.starts_with("https://") || url.starts_with("http://") {
                    embeds.push(CreateEmbed::new().image(url).description(escape(alt)));
                } else {
                    // Not a URL Discord can fetch: say what it shows instead.
                    paragraphs.push(escape(alt));
                }
            }
        }
    }
    components.truncate(MAX_ROWS);
    Rendered {
        content: cut(&paragraphs.join("\n\n"), MAX_CONTENT),
        embeds,
        components,
    }
}

/// The immediate answer to an interaction: `message`, seen by the person who asked only.
pub fn interaction_answer(message: &Message) -> CreateInteractionResponse {
    let rendered = render(message);
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(rendered.content)
            .embeds(rendered.embeds)
            .components(rendered.components)
            .allowed_mentions(CreateAllowedMentions::new())
            .ephemeral(true),
    )
}

/// "Thinking…", seen by the person who asked only; the answer follows by
/// [`DiscordBot::answer_later`].
pub fn deferred_answer() -> CreateInteractionResponse {
    CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(true))
}

/// Discord's markdown made literal: a backslash before each character that starts markup,
/// a mention (`<@…>`) or a link.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*'
                | '_'
                | '~'
                | '`'
                | '|'
                | '>'
                | '<'
                | '#'
                | '-'
                | '['
                | ']'
                | '('
                | ')'
                | '@'
                | ':'
        ) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// At most `max` characters of `text`, an ellipsis ending what was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(max - 1).collect();
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_mentions_are_shown_as_typed() {
        assert_eq!(escape("@everyone **hi**"), "\\@everyone \\*\\*hi\\*\\*");
        assert_eq!(escape("<@123>"), "\\<\\@123\\>");
        assert_eq!(escape("受付"), "受付");
    }

    #[test]
    fn long_text_is_cut_to_discords_limits() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut(&"受".repeat(100), 80).chars().count(), 80);
    }

    #[test]
    fn rate_limits_take_the_longer_wait_rounded_up_and_codes_are_named() {
        let body = |code, retry_after| ErrorBody {
            code,
            message: Some("m".into()),
            retry_after,
        };
        assert_eq!(
            failure(429, None, body(None, Some(1.2))),
            ChatError::RateLimited {
                retry_after_secs: 2
            }
        );
        assert_eq!(
            failure(429, None, ErrorBody::default()),
            ChatError::RateLimited {
                retry_after_secs: DEFAULT_RETRY_AFTER_SECS
            }
        );
        assert_eq!(
            failure(403, None, body(Some(50007), None)),
            ChatError::Permanent("HTTP 403, Discord code 50007: m".into())
        );
        assert!(matches!(
            failure(502, None, ErrorBody::default()),
            ChatError::Temporary(_)
        ));
    }
}
