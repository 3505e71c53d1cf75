//! Badges: a location that prints badges gives each check-in a badge token (shown once, in
//! the check-in's answer as the badge's URL). The badge page shows who the visitor is and a
//! QR code of that URL, which the kiosk's check-out takes. Only the token's SHA-256 is
//! stored; a wrong token, another location's visit, or a visit that has left finds nothing.

use super::Engine;
use super::reception::{local_time, visit_at, zone_of};
use crate::domain::token;
use crate::store::reception as store;
use crate::store::{employee, tenant};
use crate::{Error, Result};

/// What a printed badge shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub visitor_name: String,
    pub visitor_company: String,
    pub host_name: Option<String>,
    pub location_name: String,
    /// The check-in's date and time at the location (`YYYY-MM-DD HH:MM`).
    pub checked_in_local: String,
}

impl Engine {
    /// The badge of visit `public_id` at location `slug`, for the holder of its badge
    /// token; `NotFound` for anything else.
    pub async fn badge(&self, slug: &str, public_id: &str, badge_token: &str) -> Result<Badge> {
        let not_found = || Error::NotFound("badge");
        if badge_token.is_empty() || badge_token.len() > 100 {
            return Err(not_found());
        }
        let mut tx = self.db.read().await?;
        let row = store::visit_by_badge_anywhere(&mut tx, &token::hash(badge_token))
            .await?
            .filter(|row| row.public_id == public_id)
            .filter(|row| row.checked_out_at.is_none() && row.purged_at.is_none())
            .ok_or_else(not_found)?;
        let location = tenant::find_location_by_slug(&mut tx, row.tenant_id, slug)
            .await?
            .filter(|location| location.id == row.location_id)
            .ok_or_else(not_found)?;
        let host_name = match row.host_employee_id {
            Some(id) => employee::find(&mut tx, row.tenant_id, id)
                .await?
                .map(|e| e.profile.name),
            None => None,
        };
        let at = |column| visit_at(row.tenant_id, column, &row.public_id);
        let checked_in_local = local_time(zone_of(&location.time_zone), row.checked_in_at)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        Ok(Badge {
            visitor_name: self
                .open_optional(row.visitor_name_sealed.as_deref(), at("visitor_name"))?
                .unwrap_or_default(),
            visitor_company: self
                .open_optional(row.visitor_company_sealed.as_deref(), at("visitor_company"))?
                .unwrap_or_default(),
            host_name,
            location_name: location.name,
            checked_in_local,
        })
    }
}
