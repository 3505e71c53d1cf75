//! Microsoft Teams: the [`ChatBot`] over the Bot Framework connector REST API (there is no
//! Rust SDK), Frontdesk's messages rendered as Adaptive Cards, people looked up in Microsoft
//! Graph.
//!
//! A person is addressed by their Microsoft Entra object id (`aadObjectId`): what Graph
//! returns for an email, what every activity carries in `from`, and what the link stores.
//! Every message to a person first creates (or, as Teams returns the existing one, finds)
//! the 1:1 conversation at the configured service URL. So nothing beyond the link is stored,
//! and people who never wrote to the bot get notices too, provided the Teams app is
//! installed for them (an admin can pre-install it for everyone).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use frontdesk_core::domain::chat::{Block, ButtonStyle, Message};
use frontdesk_core::domain::people::Platform;
use frontdesk_core::port::{ChatBot, ChatError, Recipient, Sent};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The Bot Framework's token endpoint for bots (multi-tenant app registrations).
pub const BOT_TOKEN_URL: &str =
    "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";
/// The scope of a token for the connector.
pub const BOT_SCOPE: &str = "https://api.botframework.com/.default";
/// The scope of a token for Microsoft Graph.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Microsoft Graph.
pub const GRAPH_URL: &str = "https://graph.microsoft.com";
/// Teams' global service URL: it reaches every region for proactive messages.
pub const TEAMS_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";
/// The Adaptive Card attachment's content type.
pub const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";

/// How long one call may take before it counts as a temporary failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A token is renewed this long before it expires, so none expires in flight.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// What the bot needs to reach Teams and Graph.
#[derive(Clone)]
pub struct TeamsSettings {
    /// The bot's Microsoft app id (the Azure Bot's "Microsoft App ID").
    pub app_id: String,
    /// Its client secret.
    pub app_password: String,
    /// The organisation's Microsoft Entra tenant id (conversations are created in it).
    pub directory_tenant_id: String,
    /// Where conversations are created and messages sent ([`TEAMS_SERVICE_URL`]), ending in `/`.
    pub service_url: String,
    /// The token endpoint for the connector ([`BOT_TOKEN_URL`]).
    pub token_url: String,
    /// The token endpoint for Graph (`https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`).
    pub graph_token_url: String,
    /// Microsoft Graph ([`GRAPH_URL`]), without a trailing slash.
    pub graph_url: String,
}

impl std::fmt::Debug for TeamsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is a secret: never in logs.
        f.debug_struct("TeamsSettings")
            .field("app_id", &self.app_id)
            .field("service_url", &self.service_url)
            .finish_non_exhaustive()
    }
}

/// The Graph token endpoint of the Entra tenant `directory_tenant_id`.
pub fn graph_token_url(directory_tenant_id: &str) -> String {
    format!("https://login.microsoftonline.com/{directory_tenant_id}/oauth2/v2.0/token")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Connector,
    Graph,
}

#[derive(Debug, Default)]
struct Tokens {
    connector: Option<(String, Instant)>,
    graph: Option<(String, Instant)>,
}

/// A Teams bot (one app registration).
#[derive(Debug)]
pub struct TeamsBot {
    settings: TeamsSettings,
    http: reqwest::Client,
    tokens: tokio::sync::Mutex<Tokens>,
}

impl TeamsBot {
    /// A bot with `settings`.
    pub fn new(settings: TeamsSettings) -> TeamsBot {
        TeamsBot {
            settings,
            http: reqwest::Client::builder()
                .timeout(CALL_TIMEOUT)
                .build()
                .expect("the HTTP client builds"),
            tokens: tokio::sync::Mutex::default(),
        }
    }

    /// A token for `api`, fetched when there is none or it is about to expire.
    async fn token(&self, api: Api) -> Result<String, ChatError> {
        let mut tokens = self.tokens.lock().await;
        let slot = match api {
            Api::Connector => &mut tokens.connector,
            Api::Graph => &mut tokens.graph,
        };
        if let Some((token, until)) = slot
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (url, scope) = match api {
            Api::Connector => (&self.settings.token_url, BOT_SCOPE),
            Api::Graph => (&self.settings.graph_token_url, GRAPH_SCOPE),
        };
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.settings.app_id.as_str()),
            ("client_secret", self.settings.app_password.as_str()),
            ("scope", scope),
        ];
        let response = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            // Wrong app id or password: retrying will not help until the config changes.
            return Err(classify(
                status,
                retry_after(&response),
                "the token endpoint",
            ));
        }
        let body: Value = response.json().await.map_err(transport)?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| ChatError::Temporary("the token endpoint sent no token".into()))?
            .to_owned();
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3600));
        *slot = Some((
            token.clone(),
            Instant::now() + lifetime.saturating_sub(RENEW_BEFORE),
        ));
        Ok(token)
    }

    async fn forget_token(&self, api: Api) {
        let mut tokens = self.tokens.lock().await;
        match api {
            Api::Connector => tokens.connector = None,
            Api::Graph => tokens.graph = None,
        }
    }

    /// Calls `api`; a 401 renews the token and tries once more. `Ok(None)` is a 404.
    async fn call(
        &self,
        api: Api,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, ChatError> {
        let mut renewed = false;
        loop {
            let token = self.token(api).await?;
            let mut request = self.http.request(method.clone(), url).bearer_auth(token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(transport)?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !renewed {
                // The token may have been revoked or rotated early: one fresh try.
                self.forget_token(api).await;
                renewed = true;
                continue;
            }
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                let what = match api {
                    Api::Connector => "Teams",
                    Api::Graph => "Microsoft Graph",
                };
                return Err(classify(status, retry_after(&response), what));
            }
            let bytes = response.bytes().await.map_err(transport)?;
            return Ok(Some(serde_json::from_slice(&bytes).unwrap_or(Value::Null)));
        }
    }

    /// A connector call that must find what it addresses (a 404 is permanent).
    async fn connector(&self, method: Method, url: &str, body: &Value) -> Result<Value, ChatError> {
        self.call(Api::Connector, method, url, Some(body))
            .await?
            .ok_or_else(|| ChatError::Permanent("Teams: HTTP 404 Not Found".into()))
    }

    fn conversations_url(&self) -> String {
        let base = &self.settings.service_url;
        let slash = if base.ends_with('/') { "" } else { "/" };
        format!("{base}{slash}v3/conversations")
    }

    /// The 1:1 conversation with the person `aad_object_id` (Teams returns the existing one).
    async fn personal_conversation(&self, aad_object_id: &str) -> Result<String, ChatError> {
        let body = json!({
            "bot": {"id": format!("28:{}", self.settings.app_id)},
            "members": [{"id": aad_object_id}],
            "isGroup": false,
            "tenantId": self.settings.directory_tenant_id,
            "channelData": {"tenant": {"id": self.settings.directory_tenant_id}},
        });
        let created = self
            .connector(Method::POST, &self.conversations_url(), &body)
            .await?;
        created["id"].as_str().map(str::to_owned).ok_or_else(|| {
            ChatError::Temporary("Teams created a conversation without an id".into())
        })
    }
}

/// `status` as the dispatcher needs it.
fn classify(status: StatusCode, retry_after: Option<u64>, what: &str) -> ChatError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Microsoft sends Retry-After with a 429; a minute if it ever does not.
        ChatError::RateLimited {
            retry_after_secs: retry_after.unwrap_or(60).max(1),
        }
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        ChatError::Temporary(format!("{what}: HTTP {status}"))
    } else {
        ChatError::Permanent(format!("{what}: HTTP {status}"))
    }
}

fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A failure to get an answer at all: worth retrying.
fn transport(err: reqwest::Error) -> ChatError {
    if err.is_timeout() {
        ChatError::Temporary("Teams did not answer in time".into())
    } else {
        ChatError::Temporary(err.to_string())
    }
}

/// `text` as one URL path segment (conversation ids hold `:`, `@`, `;`).
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[async_trait]
impl ChatBot for TeamsBot {
    fn platform(&self) -> Platform {
        Platform::Teams
    }

    async fn send(&self, to: &Recipient, message: &Message) -> Result<Sent, ChatError> {
        let conversation = match to {
            Recipient::User(aad_object_id) => self.personal_conversation(aad_object_id).await?,
            Recipient::Channel(id) => id.clone(),
        };
        let url = format!(
            "{}/{}/activities",
            self.conversations_url(),
            segment(&conversation)
        );
        let posted = self
            .connector(Method::POST, &url, &activity(message))
            .await?;
        let message_id = posted["id"]
            .as_str()
            .ok_or_else(|| ChatError::Temporary("Teams accepted a message without an id".into()))?
            .to_owned();
        Ok(Sent {
            conversation,
            message_id,
        })
    }

    async fn update(&self, sent: &Sent, message: &Message) -> Result<(), ChatError> {
        let url = format!(
            "{}/{}/activities/{}",
            self.conversations_url(),
            segment(&sent.conversation),
            segment(&sent.message_id)
        );
        let mut activity = activity(message);
        activity["id"] = json!(sent.message_id);
        self.connector(Method::PUT, &url, &activity).await.map(drop)
    }

    async fn user_email(&self, user_id: &str) -> Result<Option<String>, ChatError> {
        let url = format!(
            "{}/v1.0/users/{}?$select=id,mail,userPrincipalName",
            self.settings.graph_url,
            segment(user_id)
        );
        let Some(user) = self.call(Api::Graph, Method::GET, &url, None).await? else {
            return Ok(None);
        };
        // `mail` is the address the organisation set; a user without a mailbox signs in
        // with their userPrincipalName, which is then their address.
        Ok(user["mail"]
            .as_str()
            .or_else(|| user["userPrincipalName"].as_str())
            .filter(|email| email.contains('@'))
            .map(str::to_owned))
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<String>, ChatError> {
        let url = format!(
            "{}/v1.0/users/{}?$select=id",
            self.settings.graph_url,
            segment(email)
        );
        let found = self.call(Api::Graph, Method::GET, &url, None).await?;
        Ok(found.and_then(|user| user["id"].as_str().map(str::to_owned)))
    }
}

/// `message` as a Bot Framework message activity carrying one Adaptive Card. The summary is
/// the activity's `summary`: what Teams shows in notifications and the chat list.
pub fn activity(message: &Message) -> Value {
    json!({
        "type": "message",
        "summary": message.summary,
        "attachments": [{"contentType": ADAPTIVE_CARD, "content": card(message)}],
    })
}

/// `message` as an Adaptive Card (1.4, what Teams renders): TextBlocks, FactSets for
/// fields, ActionSets of `Action.Execute` buttons (`verb` and `data.action` = the action
/// id; `Action.Submit` as the fallback for clients without universal actions), an
/// `Input.ChoiceSet` for a menu, Images.
pub fn card(message: &Message) -> Value {
    let body: Vec<Value> = message.blocks.iter().map(element).collect();
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    })
}

fn button(action_id: &str, title: &str, style: ButtonStyle) -> Value {
    let style = match style {
        ButtonStyle::Default => "default",
        ButtonStyle::Primary => "positive",
        ButtonStyle::Danger => "destructive",
    };
    json!({
        "type": "Action.Execute",
        "title": title,
        "verb": action_id,
        "data": {"action": action_id},
        "style": style,
        "fallback": {"type": "Action.Submit", "title": title, "data": {"action": action_id}},
    })
}

/// `text` with the characters that start Teams' markdown backslash-escaped (CommonMark), so
/// a visitor named `[urgent](https://…)` or `**VIP**` is shown as typed, never as a link or
/// markup. TextBlocks and facts are the only texts Teams reads as markdown.
pub fn escape_markdown(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '[' | ']' | '`' | '~' | '#') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn element(block: &Block) -> Value {
    match block {
        Block::Text { text } => {
            json!({"type": "TextBlock", "text": escape_markdown(text), "wrap": true})
        }
        Block::Fields { fields } => json!({
            "type": "FactSet",
            "facts": fields
                .iter()
                .map(|f| json!({"title": escape_markdown(&f.label), "value": escape_markdown(&f.value)}))
                .collect::<Vec<_>>(),
        }),
        Block::Buttons { buttons } => json!({
            "type": "ActionSet",
            "actions": buttons
                .iter()
                .map(|b| button(&b.action.id(), &b.label, b.style))
                .collect::<Vec<_>>(),
        }),
        Block::Select {
            action,
            placeholder,
            options,
        } => {
            let id = action.id();
            json!({
                "type": "Container",
                "items": [
                    {
                        "type": "Input.ChoiceSet",
                        "id": id,
                        "placeholder": placeholder,
                        "style": "compact",
                        "choices": options.iter().map(|c| json!({"title": c.label, "value": c.value})).collect::<Vec<_>>(),
                    },
                    // A menu needs a button to send the choice; a check mark needs no translation.
                    {"type": "ActionSet", "actions": [button(&id, "✓", ButtonStyle::Primary)]},
                ],
            })
        }
        // Teams fetches only https images; anything else is described instead.
        Block::Image { url, alt } if url.starts_with("https://") => {
            json!({"type": "Image", "url": url, "altText": alt})
        }
        Block::Image { alt, .. } => {
            json!({"type": "TextBlock", "text": escape_markdown(alt), "wrap": true})
        }
    }
}
