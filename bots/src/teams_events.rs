//! Teams' requests: the Bot Framework's bearer token checked before the activity is trusted,
//! and the activity read into what Frontdesk acts on.
//!
//! The token is an RS256 JWT signed with a key the Bot Framework publishes (OpenID metadata →
//! `jwks_uri`). There is no Rust SDK and no JWT crate in the tree, so the few checks are done
//! here with `ring`, which also keeps the clock injectable: `now` is always passed in. Only
//! RS256 is accepted; `alg: none` and HMAC tokens are refused before any key is looked at.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

/// Where the Bot Framework publishes its signing keys (via `jwks_uri`).
pub const BOT_FRAMEWORK_OPENID_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// The issuer of the tokens the Bot Framework sends with each activity.
pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";
/// The hosts the Bot Framework sends activities from (its `serviceUrl`s).
pub const MICROSOFT_SERVICE_HOSTS: &[&str] = &[
    "smba.trafficmanager.net",
    "*.botframework.com",
    "*.teams.microsoft.com",
    "smba.infra.gcc.teams.microsoft.com",
];
/// The channel a Teams activity comes through (a key must be endorsed for it).
pub const TEAMS_CHANNEL: &str = "msteams";

/// How far token times may be off (clock skew between Microsoft and us).
const LEEWAY_SECS: i64 = 300;
/// An unknown `kid` refetches the keys at most this often, so a flood of made-up ids
/// cannot make us hammer the metadata endpoint.
const REFETCH_AT_MOST_EVERY_SECS: i64 = 60;
/// Keys are refetched after this long even when every `kid` is known (Microsoft rotates them).
const KEYS_FRESH_FOR_SECS: i64 = 24 * 3600;
/// The metadata and key set are small; anything bigger is not them.
const MAX_METADATA_BYTES: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request is not taken as coming from the Bot Framework.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no bearer token")]
    Missing,
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token is not signed with RS256")]
    Algorithm,
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has another issuer")]
    Issuer,
    #[error("the token is for another bot")]
    Audience,
    #[error("the token has expired or is not valid yet")]
    Time,
    #[error("the token is for another serviceUrl")]
    ServiceUrl,
    #[error("the signing key is not endorsed for this channel")]
    Endorsement,
    #[error("the serviceUrl's host is not allowed")]
    ServiceHost,
    /// Not the sender's fault: the keys could not be fetched.
    #[error("the Bot Framework's keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

/// One published signing key.
#[derive(Debug, Clone)]
struct Key {
    n: Vec<u8>,
    e: Vec<u8>,
    endorsements: Vec<String>,
}

#[derive(Debug, Default)]
struct KeyCache {
    keys: HashMap<String, Key>,
    /// When the keys were last fetched (or a fetch was last tried), epoch seconds.
    fetched_at: Option<i64>,
}

/// Checks the Bot Framework's tokens for one bot (its app id), with the keys cached.
#[derive(Debug)]
pub struct Verifier {
    app_id: String,
    openid_url: String,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<KeyCache>,
}

/// A token that verified: what it vouches for, to check against the activity.
#[derive(Debug, Clone)]
pub struct Verified {
    service_url: String,
    endorsements: Vec<String>,
}

impl Verified {
    /// Whether the token covers an activity from `service_url` through `channel_id`.
    pub fn covers(&self, service_url: &str, channel_id: &str) -> Result<(), Rejection> {
        if self.service_url != service_url {
            return Err(Rejection::ServiceUrl);
        }
        if !self.endorsements.iter().any(|e| e == channel_id) {
            return Err(Rejection::Endorsement);
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
    #[serde(rename = "serviceUrl", alias = "serviceurl")]
    service_url: Option<String>,
}

impl Verifier {
    /// A verifier for the bot `app_id`, taking keys from the OpenID metadata at `openid_url`.
    pub fn new(app_id: &str, openid_url: &str) -> Verifier {
        Verifier {
            app_id: app_id.to_owned(),
            openid_url: openid_url.to_owned(),
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .expect("the HTTP client builds"),
            cache: tokio::sync::Mutex::default(),
        }
    }

    /// Verifies the `Authorization` header's token at `now` (epoch seconds).
    pub async fn verify(
        &self,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<Verified, Rejection> {
        let token = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(Rejection::Missing)?;
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        let decoded_header: Header = decode_json(header)?;
        if decoded_header.alg != "RS256" {
            return Err(Rejection::Algorithm);
        }
        let kid = decoded_header.kid.ok_or(Rejection::UnknownKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Rejection::Malformed)?;
        let key = self.key(&kid, now).await?;
        let signed = &token[..header.len() + 1 + claims.len()];
        ring::signature::RsaPublicKeyComponents {
            n: &key.n,
            e: &key.e,
        }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        )
        .map_err(|_| Rejection::Signature)?;
        let claims: Claims = decode_json(claims)?;
        if claims.iss.as_deref() != Some(BOT_FRAMEWORK_ISSUER) {
            return Err(Rejection::Issuer);
        }
        let audience_matches = match &claims.aud {
            Some(Value::String(aud)) => *aud == self.app_id,
            Some(Value::Array(auds)) => auds.iter().any(|aud| *aud == *self.app_id),
            _ => false,
        };
        if !audience_matches {
            return Err(Rejection::Audience);
        }
        // exp is required; nbf is optional.
        let expired = claims.exp.is_none_or(|exp| now > exp + LEEWAY_SECS);
        let early = claims.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf);
        if expired || early {
            return Err(Rejection::Time);
        }
        Ok(Verified {
            service_url: claims.service_url.ok_or(Rejection::ServiceUrl)?,
            endorsements: key.endorsements,
        })
    }

    /// The key `kid`, fetching the key set when it is unknown (at most once a minute) or old.
    async fn key(&self, kid: &str, now: i64) -> Result<Key, Rejection> {
        let mut cache = self.cache.lock().await;
        let stale = cache
            .fetched_at
            .is_none_or(|at| now - at >= KEYS_FRESH_FOR_SECS);
        let may_refetch = cache
            .fetched_at
            .is_none_or(|at| now - at >= REFETCH_AT_MOST_EVERY_SECS);
        if stale || (!cache.keys.contains_key(kid) && may_refetch) {
            cache.fetched_at = Some(now);
            match self.fetch_keys().await {
                Ok(keys) => cache.keys = keys,
                // Keys already known keep working while Microsoft is unreachable.
                Err(err) if cache.keys.is_empty() => return Err(err),
                Err(err) => tracing::warn!(%err, "refetching the Bot Framework's keys failed"),
            }
        }
        if cache.keys.is_empty() {
            // The last fetch failed and none succeeded before: not the sender's fault.
            return Err(Rejection::KeysUnavailable("no keys fetched yet".into()));
        }
        cache.keys.get(kid).cloned().ok_or(Rejection::UnknownKey)
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, Key>, Rejection> {
        let metadata = self.fetch_json(&self.openid_url).await?;
        let jwks_uri = metadata["jwks_uri"]
            .as_str()
            .ok_or_else(|| Rejection::KeysUnavailable("the metadata has no jwks_uri".into()))?;
        let set = self.fetch_json(jwks_uri).await?;
        let mut keys = HashMap::new();
        for key in set["keys"].as_array().into_iter().flatten() {
            let text = |name: &str| key[name].as_str().unwrap_or_default();
            if text("kty") != "RSA" || text("kid").is_empty() {
                continue;
            }
            let (Ok(n), Ok(e)) = (
                URL_SAFE_NO_PAD.decode(text("n")),
                URL_SAFE_NO_PAD.decode(text("e")),
            ) else {
                continue;
            };
            let endorsements = key["endorsements"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect();
            keys.insert(text("kid").to_owned(), Key { n, e, endorsements });
        }
        Ok(keys)
    }

    async fn fetch_json(&self, url: &str) -> Result<Value, Rejection> {
        let unavailable = |why: String| Rejection::KeysUnavailable(format!("{url}: {why}"));
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|err| unavailable(err.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| unavailable(err.to_string()))?
        {
            if body.len() + chunk.len() > MAX_METADATA_BYTES {
                return Err(unavailable("too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|err| unavailable(err.to_string()))
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, Rejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Rejection::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Rejection::Malformed)
}

/// Whether outbound calls may go to `service_url`: https to a host on `allowed` (`*.x.com`
/// admits subdomains of x.com), or plain http to a loopback address that is listed (tests).
pub fn service_url_allowed(service_url: &str, allowed: &[String]) -> bool {
    let Ok(url) = url::Url::parse(service_url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let listed = allowed.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == pattern,
        }
    });
    let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    listed && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

/// What is in the activity that checking the token needs: read before the rest.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(rename = "serviceUrl")]
    pub service_url: String,
    #[serde(rename = "channelId")]
    pub channel_id: String,
}

/// The activity cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the activity cannot be read: {0}")]
pub struct UnreadableActivity(String);

/// The envelope of the activity `body`.
pub fn read_envelope(body: &[u8]) -> Result<Envelope, UnreadableActivity> {
    serde_json::from_slice(body).map_err(|err| UnreadableActivity(err.to_string()))
}

/// What an activity asks of Frontdesk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Text typed to the bot (mentions of the bot removed).
    Message {
        id: String,
        user: Sender,
        text: String,
    },
    /// A card's `Action.Submit`: a message whose `value` carries the action id.
    Submitted {
        id: String,
        user: Sender,
        action_id: String,
    },
    /// A card's `Action.Execute`: an `adaptiveCard/action` invoke that wants its answer in
    /// the HTTP response.
    Executed {
        id: String,
        user: Sender,
        action_id: String,
    },
    /// The bot was installed or someone joined a conversation with it.
    Installed { user: Option<Sender> },
    /// Anything else (typing, reactions, …): acknowledged and ignored.
    Other,
}

/// Who sent an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The person's Microsoft Entra object id: the id Frontdesk links and messages.
    pub aad_object_id: String,
    /// The activity's `locale` (`ja-JP`, `en-US`, …), if any.
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Activity {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    name: Option<String>,
    text: Option<String>,
    value: Option<Value>,
    locale: Option<String>,
    from: Option<Account>,
    #[serde(rename = "membersAdded")]
    members_added: Option<Vec<Account>>,
}

#[derive(Debug, Deserialize)]
struct Account {
    #[serde(rename = "aadObjectId")]
    aad_object_id: Option<String>,
}

/// The activity `body` (already verified) as what Frontdesk acts on.
pub fn read_activity(body: &[u8]) -> Result<Inbound, UnreadableActivity> {
    let activity: Activity =
        serde_json::from_slice(body).map_err(|err| UnreadableActivity(err.to_string()))?;
    let sender = activity
        .from
        .as_ref()
        .and_then(|from| from.aad_object_id.clone())
        .filter(|id| !id.is_empty())
        .map(|aad_object_id| Sender {
            aad_object_id,
            locale: activity.locale.clone(),
        });
    let id = activity.id.clone().unwrap_or_default();
    Ok(match (activity.kind.as_str(), sender) {
        ("message", Some(user)) => match activity.value.as_ref().and_then(submitted_action) {
            Some(action_id) => Inbound::Submitted {
                id,
                user,
                action_id,
            },
            None => Inbound::Message {
                id,
                user,
                text: without_mentions(activity.text.as_deref().unwrap_or_default()),
            },
        },
        ("invoke", Some(user)) if activity.name.as_deref() == Some("adaptiveCard/action") => {
            match activity.value.as_ref().and_then(executed_action) {
                Some(action_id) => Inbound::Executed {
                    id,
                    user,
                    action_id,
                },
                None => Inbound::Other,
            }
        }
        ("conversationUpdate" | "installationUpdate", user) => Inbound::Installed {
            user: user.or_else(|| {
                let added = activity.members_added.as_ref()?.first()?;
                Some(Sender {
                    aad_object_id: added.aad_object_id.clone()?,
                    locale: activity.locale.clone(),
                })
            }),
        },
        _ => Inbound::Other,
    })
}

/// The action id an `Action.Submit` put in `value` (the card's `data`).
fn submitted_action(value: &Value) -> Option<String> {
    value["action"].as_str().map(str::to_owned)
}

/// The action id of an `Action.Execute` (its `verb`).
fn executed_action(value: &Value) -> Option<String> {
    let action = &value["action"];
    action["verb"]
        .as_str()
        .or_else(|| action["data"]["action"].as_str())
        .map(str::to_owned)
}

/// `text` without Teams' `<at>…</at>` mentions (a message in a channel starts with one for
/// the bot) and the HTML line breaks Teams may add.
pub fn without_mentions(text: &str) -> String {
    let mut rest = text;
    let mut out = String::new();
    while let Some(start) = rest.find("<at>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</at>") {
            Some(end) => rest = &rest[start + end + "</at>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("<br>", " ")
        .replace("&nbsp;", " ")
        .trim()
        .to_owned()
}

/// The language a Teams `locale` names: `ja…` is Japanese, anything else English.
pub fn is_japanese(locale: Option<&str>) -> bool {
    locale.is_some_and(|l| l.to_ascii_lowercase().starts_with("ja"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_of_the_bot_are_removed_from_what_was_typed() {
        assert_eq!(without_mentions("<at>Frontdesk</at> help"), "help");
        assert_eq!(
            without_mentions("<at>Front Desk</at>&nbsp;link<br>"),
            "link"
        );
        assert_eq!(without_mentions("help"), "help");
        assert_eq!(without_mentions("<at>unclosed help"), "");
    }

    #[test]
    fn only_listed_hosts_are_allowed_and_only_over_https_unless_loopback() {
        let allowed: Vec<String> = MICROSOFT_SERVICE_HOSTS
            .iter()
            .map(|h| h.to_string())
            .chain(["127.0.0.1".to_owned()])
            .collect();
        assert!(service_url_allowed(
            "https://smba.trafficmanager.net/apac/",
            &allowed
        ));
        assert!(service_url_allowed("https://x.botframework.com/", &allowed));
        assert!(!service_url_allowed(
            "https://botframework.com.evil.example/",
            &allowed
        ));
        assert!(!service_url_allowed(
            "http://smba.trafficmanager.net/apac/",
            &allowed
        ));
        assert!(!service_url_allowed("https://evil.example/", &allowed));
        assert!(service_url_allowed("http://127.0.0.1:4000/", &allowed));
        assert!(!service_url_allowed("not a url", &allowed));
    }

    #[test]
    fn a_button_press_is_read_from_submit_and_from_execute() {
        let submit = br#"{"type":"message","id":"1","from":{"id":"29:x","aadObjectId":"aad-1"},"value":{"action":"fd1:link"},"locale":"ja-JP"}"#;
        let Inbound::Submitted {
            action_id, user, ..
        } = read_activity(submit).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (action_id.as_str(), user.locale.as_deref()),
            ("fd1:link", Some("ja-JP"))
        );
        let execute = br#"{"type":"invoke","name":"adaptiveCard/action","id":"2","from":{"aadObjectId":"aad-1"},"value":{"action":{"type":"Action.Execute","verb":"fd1:help","data":{"action":"fd1:help"}}}}"#;
        assert!(
            matches!(read_activity(execute).unwrap(), Inbound::Executed { action_id, .. } if action_id == "fd1:help")
        );
    }
}
