//! Badges: a location that prints badges gives each check-in a badge token (shown once, in
//! the check-in's answer as the badge's URL). The badge page shows who the visitor is and a
//! QR code of that URL, which the kiosk's check-out takes. Only the token's SHA-256 is
//! stored; a wrong token, another location's visit, or a visit that has left finds nothing.

use super::Engine;
use super::reception::{Kiosk, VisitView};
use crate::domain::token;
use crate::store::reception as store;
use crate::{Error, Result};

impl Engine {
    /// The visit whose badge carries `badge_token`, for the badge page of `kiosk`: it must
    /// be visit `public_id`, of the kiosk's location, still on site. `NotFound` otherwise.
    pub async fn kiosk_badge(
        &self,
        kiosk: &Kiosk,
        public_id: &str,
        badge_token: &str,
    ) -> Result<VisitView> {
        let not_found = || Error::NotFound("badge");
        if badge_token.is_empty() || badge_token.len() > 200 {
            return Err(not_found());
        }
        let mut tx = self.db.read().await?;
        let row = store::visit_by_badge(&mut tx, kiosk.tenant_id, &token::hash(badge_token))
            .await?
            .filter(|row| row.public_id == public_id && row.location_id == kiosk.location.id)
            .filter(|row| row.checked_out_at.is_none())
            .ok_or_else(not_found)?;
        self.visit_view(&mut tx, &row).await
    }
}
