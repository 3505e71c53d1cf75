//! Outgoing webhooks: admins register endpoints (a gate or door controller) that are told,
//! with a signed POST, when a visitor checks in or out.
//!
//! Each event is queued in the outbox in the same transaction as the visit's change, one
//! message per subscribed endpoint, and delivered by the dispatcher through
//! [`crate::port::WebhookSender`] with the outbox's retries and dead letters. The body names
//! the visit, its location, status and host, never the visitor: a gate needs to know that
//! someone was let in for whom, and the visitor's name would only copy personal data into
//! another system (the visit id finds it here, for those allowed to see it).

use serde::Serialize;
use serde_json::json;

use super::access_log::Event;
use super::outbox::{OutboxMessage, WebhookCall};
use super::{Actor, Engine};
use crate::domain::field::Invalid;
use crate::domain::people::Permission;
use crate::domain::token;
use crate::domain::webhook::{
    DELIVERY_HEADER, EVENT_HEADER, MAX_ENDPOINTS, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookEvent,
    event_list, parse_endpoint_url, parse_event_list, signature,
};
use crate::port::{SealedAt, WebhookError, WebhookPost};
use crate::store::reception::{self as store, EndpointRow};
use crate::store::{Tx, employee, tenant};
use crate::{Error, Result};

/// A registered endpoint, as admins see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub created_at: i64,
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        WebhookEndpoint {
            id: row.id,
            events: parse_event_list(&row.events),
            url: row.url,
            created_at: row.created_at,
        }
    }
}

/// Where an endpoint's secret is sealed.
fn secret_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "webhook_endpoints",
        column: "secret",
        row,
    }
}

/// The body of a visit event, exactly as it is signed.
#[derive(Debug, Serialize)]
struct VisitEventBody<'a> {
    event: &'a str,
    visit: VisitEventVisit,
}

#[derive(Debug, Serialize)]
struct VisitEventVisit {
    /// The visit's public id (as the admin API and the kiosk name it).
    id: String,
    /// The location's slug.
    location: String,
    status: String,
    host: Option<VisitEventHost>,
    checked_in_at: String,
    checked_out_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct VisitEventHost {
    id: i64,
    name: String,
    email: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Engine {
    /// Registers an endpoint for `events` (all when empty); returns it with its secret,
    /// made here and shown this once (it is stored sealed). Logged, without the secret.
    pub async fn add_webhook_endpoint(
        &self,
        actor: &Actor,
        url: &str,
        events: &[String],
    ) -> Result<(WebhookEndpoint, String)> {
        actor.require(Permission::ManageReception)?;
        let url = parse_endpoint_url(url).map_err(|reason| Error::invalid("url", reason))?;
        let mut subscribed = Vec::new();
        for name in events {
            let event = WebhookEvent::parse(name).ok_or(Error::invalid(
                "events",
                Invalid::NotOneOf {
                    allowed: WebhookEvent::NAMES,
                },
            ))?;
            if !subscribed.contains(&event) {
                subscribed.push(event);
            }
        }
        if subscribed.is_empty() {
            subscribed = WebhookEvent::ALL.to_vec();
        }
        subscribed.sort();
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let secret = token::generate();
        let mut tx = self.db.write().await?;
        if store::endpoints(&mut tx, tenant_id).await?.len() >= MAX_ENDPOINTS {
            return Err(Error::invalid(
                "url",
                Invalid::TooMany { max: MAX_ENDPOINTS },
            ));
        }
        let stored_events = event_list(&subscribed);
        let id =
            store::insert_endpoint(&mut tx, tenant_id, url.as_str(), &stored_events, now).await?;
        let row = id.to_string();
        let sealed = self.seal_for_tenant(secret.as_bytes(), secret_at(tenant_id, &row))?;
        store::set_endpoint_secret(&mut tx, id, &sealed).await?;
        let event = Event::by(
            actor,
            "webhook_endpoint.create",
            format!("webhook_endpoint:{id}"),
            json!({ "url": url.as_str(), "events": stored_events }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        let endpoint = WebhookEndpoint {
            id,
            url: url.into(),
            events: subscribed,
            created_at: now,
        };
        Ok((endpoint, secret))
    }

    /// The tenant's endpoints (admins).
    pub async fn webhook_endpoints(&self, actor: &Actor) -> Result<Vec<WebhookEndpoint>> {
        actor.require(Permission::ManageReception)?;
        let mut tx = self.db.read().await?;
        let rows = store::endpoints(&mut tx, actor.account.tenant_id).await?;
        Ok(rows.into_iter().map(WebhookEndpoint::from).collect())
    }

    /// Deletes an endpoint: deliveries still queued for it are dropped. Logged.
    pub async fn delete_webhook_endpoint(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Permission::ManageReception)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let deleted = store::delete_endpoint(&mut tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("webhook endpoint"))?;
        let event = Event::by(
            actor,
            "webhook_endpoint.delete",
            format!("webhook_endpoint:{id}"),
            json!({ "url": deleted.url }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Queues `event` about visit `visit_id` (as it stands in `tx`) to every endpoint of
    /// the tenant subscribed to it, in the caller's transaction. Costs one query when the
    /// tenant has no endpoint.
    pub(crate) async fn queue_visit_event(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        visit_id: i64,
        event: WebhookEvent,
    ) -> Result<()> {
        let endpoints: Vec<EndpointRow> = store::endpoints(tx, tenant_id)
            .await?
            .into_iter()
            .filter(|e| parse_event_list(&e.events).contains(&event))
            .collect();
        if endpoints.is_empty() {
            return Ok(());
        }
        let visit = store::visit(tx, tenant_id, visit_id)
            .await?
            .ok_or(Error::NotFound("visit"))?;
        let location = tenant::find_location(tx, tenant_id, visit.location_id)
            .await?
            .map(|l| l.slug)
            .unwrap_or_default();
        let host = match visit.host_employee_id {
            Some(id) => employee::find(tx, tenant_id, id)
                .await?
                .map(|e| VisitEventHost {
                    id: e.id,
                    name: e.profile.name,
                    email: e.profile.email,
                }),
            None => None,
        };
        let body = VisitEventBody {
            event: event.as_str(),
            visit: VisitEventVisit {
                id: visit.public_id,
                location,
                status: visit.status,
                host,
                checked_in_at: rfc3339(visit.checked_in_at),
                checked_out_at: visit.checked_out_at.map(rfc3339),
            },
        };
        let body = serde_json::to_string(&body)
            .map_err(|err| Error::internal("writing a webhook body", err))?;
        for endpoint in endpoints {
            let call = WebhookCall {
                endpoint_id: endpoint.id,
                event: event.as_str().to_owned(),
                body: body.clone(),
            };
            self.queue(tx, tenant_id, &OutboxMessage::Webhook(call))
                .await?;
        }
        Ok(())
    }

    /// Signs and sends one queued delivery (the dispatcher's part); `outbox_id` is the
    /// delivery's id, the same on every retry.
    pub(crate) async fn send_webhook(
        &self,
        tenant_id: i64,
        outbox_id: i64,
        call: &WebhookCall,
    ) -> Result<(), WebhookError> {
        let endpoint = {
            let mut tx = self.db.read().await.map_err(temporary)?;
            store::endpoint(&mut tx, tenant_id, call.endpoint_id)
                .await
                .map_err(temporary)?
        };
        let Some(endpoint) = endpoint else {
            tracing::info!(
                outbox_id,
                endpoint = call.endpoint_id,
                "the webhook endpoint was deleted; its delivery is dropped"
            );
            return Ok(());
        };
        let row = endpoint.id.to_string();
        let secret = self
            .open_for_tenant(&endpoint.secret_sealed, secret_at(tenant_id, &row))
            .map_err(|err| {
                WebhookError::Permanent(format!("the endpoint's secret does not open: {err}"))
            })?;
        let secret = String::from_utf8(secret)
            .map_err(|_| WebhookError::Permanent("the endpoint's secret is not text".into()))?;
        let timestamp = self.ports.clock.now().timestamp();
        let post = WebhookPost {
            url: endpoint.url,
            headers: vec![
                (TIMESTAMP_HEADER.into(), timestamp.to_string()),
                (
                    SIGNATURE_HEADER.into(),
                    signature(&secret, timestamp, &call.body),
                ),
                (EVENT_HEADER.into(), call.event.clone()),
                (DELIVERY_HEADER.into(), outbox_id.to_string()),
            ],
            body: call.body.clone(),
        };
        self.ports.webhooks.post(&post).await
    }
}

/// Storage failing while sending is worth retrying.
fn temporary(err: crate::store::StoreError) -> WebhookError {
    WebhookError::Temporary(err.to_string())
}
