//! `/admin/rooms`: the tenant's meeting rooms for an admin (the session cookie the JSON API
//! takes): each room with links to its page, its QR code to print and its door display, a
//! button that adds a door display and shows its pairing code, link and QR code (the
//! script, `/assets/room.js`, calls `POST /api/v1/rooms/{room}/door-displays`), the room's
//! door displays, each with a button that revokes it (`DELETE /api/v1/door-displays/{id}`: a
//! tablet lost or moved stops showing the room at once), and how the
//! rooms were used in the last 30 days — a table, a bar chart drawn here as SVG (booked,
//! used and released hours per room) and the same as CSV. Without a session it is a
//! sign-in form (`POST /api/v1/auth/login`, then the page again).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Days;
use chrono_tz::Tz;
use frontdesk_core::Error;
use frontdesk_core::engine::Actor;
use frontdesk_core::engine::room::RoomSummary;
use frontdesk_core::store::reception::DeviceRow;

use super::{Texts, local_minute, render};
use crate::AppState;
use crate::api::rooms::{RoomUseView, UtilisationQuery};
use crate::extract::SignedIn;
use crate::problem::{ApiError, ApiResult};

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/admin/rooms", get(show))
}

/// The days the page reports on, today included.
const USAGE_DAYS: u64 = 30;

#[derive(Template)]
#[template(path = "admin_rooms.html")]
struct AdminPage {
    t: Texts,
    title: String,
    view: AdminView,
}

enum AdminView {
    /// No session: the sign-in form.
    SignIn,
    Rooms {
        rooms: Vec<AdminRoom>,
        usage: Usage,
    },
}

/// A room as the page lists it.
struct AdminRoom {
    slug: String,
    name: String,
    /// Seats, equipment and floor, in the page's language.
    about: String,
    /// Its door displays not revoked, oldest first.
    doors: Vec<AdminDoor>,
}

/// A door display as the page lists it.
struct AdminDoor {
    id: i64,
    name: String,
    /// Paired when, or waiting to be paired until when, in the page's language and the
    /// room's time zone.
    state: String,
}

/// `device`'s state for the page at `now` (ms), with times in `zone`.
fn door_state(t: Texts, device: &DeviceRow, now: i64, zone: Tz) -> String {
    let local = |at: i64| local_minute(at, zone);
    match (device.paired_at, device.pairing_expires_at) {
        (Some(at), _) => t.format("room_admin.door.paired", &[("time", &local(at))]),
        (None, Some(until)) if until > now => {
            t.format("room_admin.door.waiting", &[("time", &local(until))])
        }
        (None, _) => t.text("room_admin.door.expired"),
    }
}

/// The rooms' use over the last [`USAGE_DAYS`] days.
struct Usage {
    /// Which days, in which zone.
    span: String,
    rows: Vec<UsageRow>,
    chart: Chart,
    csv_url: String,
}

struct UsageRow {
    name: String,
    booked: String,
    used: String,
    released: String,
    meetings: u32,
    no_shows: u32,
    no_show_rate: String,
}

/// A horizontal bar chart in SVG user units: per room its name, then a bar each for
/// booked, used and released hours, scaled to the longest.
struct Chart {
    height: u32,
    rows: Vec<ChartRow>,
}

struct ChartRow {
    name: String,
    name_y: u32,
    bars: Vec<Bar>,
}

struct Bar {
    /// `usage-booked`, `usage-used` or `usage-released` (the stylesheet colours them).
    class: &'static str,
    y: u32,
    width: String,
    label_x: String,
    label_y: u32,
    label: String,
}

/// The chart's width, the longest bar's, and each bar's height with its gap.
const CHART_WIDTH: f64 = 600.0;
const BAR_SPACE: f64 = 520.0;
const BAR_HEIGHT: u32 = 14;
const BAR_STEP: u32 = 18;
/// A room's name line above its bars, and the space after its bars.
const NAME_HEIGHT: u32 = 22;
const ROW_GAP: u32 = 14;
/// Where the legend ends and the rows begin.
const LEGEND_HEIGHT: u32 = 30;

/// "6 seats · Display, Whiteboard · Floor 3" in `t`'s language.
pub(crate) fn room_about(t: Texts, room: &RoomSummary) -> String {
    let mut parts = vec![t.format("room_page.seats", &[("count", &room.capacity.to_string())])];
    let equipment: Vec<String> = room
        .equipment
        .iter()
        .map(|word| match word.as_str() {
            "display" => t.text("room_page.equipment.display"),
            "video" => t.text("room_page.equipment.video"),
            "whiteboard" => t.text("room_page.equipment.whiteboard"),
            other => other.to_owned(),
        })
        .collect();
    if !equipment.is_empty() {
        parts.push(equipment.join(if t.lang() == "ja" { "、" } else { ", " }));
    }
    if let Some(floor) = room.floor {
        parts.push(t.format("room_page.floor", &[("floor", &floor.to_string())]));
    }
    parts.join(" · ")
}

async fn show(State(state): State<AppState>, admin: Result<SignedIn, ApiError>) -> Response {
    let t = Texts::of_request();
    let title = t.text("room_admin.title");
    let view = match admin {
        Ok(SignedIn(actor)) => match rooms_view(&state, &actor, t).await {
            Ok(view) => view,
            Err(refused) => return refused.into_response(),
        },
        Err(ApiError::Unauthorized) => {
            let page = AdminPage {
                t,
                title,
                view: AdminView::SignIn,
            };
            return render(StatusCode::UNAUTHORIZED, &page);
        }
        Err(refused) => return refused.into_response(),
    };
    render(StatusCode::OK, &AdminPage { t, title, view })
}

async fn rooms_view(state: &AppState, actor: &Actor, t: Texts) -> ApiResult<AdminView> {
    let rooms = state.engine.rooms(actor).await?;
    let now = state.engine.ports.clock.now_ms();
    // Those who may not manage door displays see the rooms without them.
    let doors = match state.engine.door_displays(actor).await {
        Ok(doors) => doors,
        Err(Error::Forbidden) => Vec::new(),
        Err(err) => return Err(err.into()),
    };
    // One span for the table: the days of the first room's zone (rooms of one tenant are
    // mostly in one), else UTC.
    let zone: Tz = rooms
        .first()
        .and_then(|room| room.summary.time_zone.parse().ok())
        .unwrap_or(Tz::UTC);
    let today = state
        .engine
        .ports
        .clock
        .now()
        .with_timezone(&zone)
        .date_naive();
    let first = today - Days::new(USAGE_DAYS - 1);
    let query = UtilisationQuery {
        from: first.to_string(),
        to: today.to_string(),
        tz: Some(zone.name().to_owned()),
    };
    let (from, to) = query.span()?;
    let uses: Vec<RoomUseView> = state
        .engine
        .room_utilisation(actor, from, to)
        .await?
        .into_iter()
        .map(RoomUseView::from)
        .collect();
    let hours = |h: f64| t.format("room_admin.usage.hours", &[("hours", &format!("{h:.1}"))]);
    let rows = uses
        .iter()
        .map(|used| UsageRow {
            name: used.name.clone(),
            booked: format!("{:.1}", used.booked_hours),
            used: format!("{:.1}", used.used_hours),
            released: format!("{:.1}", used.released_hours),
            meetings: used.meetings,
            no_shows: used.no_shows,
            no_show_rate: used.no_show_rate.map_or_else(
                || t.text("room_admin.usage.unknown"),
                |rate| format!("{:.0}%", rate * 100.0),
            ),
        })
        .collect();
    let chart = chart(&uses, hours);
    let span = t.format(
        "room_admin.usage.span",
        &[
            ("from", &query.from),
            ("to", &query.to),
            ("zone", zone.name()),
        ],
    );
    let csv_url = format!(
        "/api/v1/rooms/utilisation.csv?from={}&to={}&tz={}",
        query.from,
        query.to,
        zone.name()
    );
    Ok(AdminView::Rooms {
        rooms: rooms
            .iter()
            .map(|room| {
                let zone: Tz = room.summary.time_zone.parse().unwrap_or(Tz::UTC);
                AdminRoom {
                    slug: room.summary.slug.clone(),
                    name: room.summary.name.clone(),
                    about: room_about(t, &room.summary),
                    doors: doors
                        .iter()
                        .filter(|d| d.room_id == Some(room.id) && d.revoked_at.is_none())
                        .map(|d| AdminDoor {
                            id: d.id,
                            name: d.name.clone(),
                            state: door_state(t, d, now, zone),
                        })
                        .collect(),
                }
            })
            .collect(),
        usage: Usage {
            span,
            rows,
            chart,
            csv_url,
        },
    })
}

/// The bars of `uses`, each labelled with `hours`.
fn chart(uses: &[RoomUseView], hours: impl Fn(f64) -> String) -> Chart {
    let longest = uses
        .iter()
        .map(|used| {
            used.booked_hours
                .max(used.used_hours)
                .max(used.released_hours)
        })
        .fold(0.0_f64, f64::max);
    // Nothing booked yet: empty bars, not a division by zero.
    let scale = if longest > 0.0 {
        BAR_SPACE / longest
    } else {
        0.0
    };
    let row_height = NAME_HEIGHT + 3 * BAR_STEP + ROW_GAP;
    let mut rows = Vec::new();
    let mut top = LEGEND_HEIGHT;
    for used in uses {
        let bars = [
            ("usage-booked", used.booked_hours),
            ("usage-used", used.used_hours),
            ("usage-released", used.released_hours),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (class, value))| {
            let y = top + NAME_HEIGHT + i as u32 * BAR_STEP;
            let width = value * scale;
            Bar {
                class,
                y,
                width: format!("{width:.1}"),
                label_x: format!("{:.1}", (width + 6.0).min(CHART_WIDTH - 70.0)),
                label_y: y + BAR_HEIGHT - 3,
                label: hours(value),
            }
        })
        .collect();
        rows.push(ChartRow {
            name: used.name.clone(),
            name_y: top + NAME_HEIGHT - 7,
            bars,
        });
        top += row_height;
    }
    Chart { height: top, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(name: &str, booked: f64, used: f64, released: f64) -> RoomUseView {
        RoomUseView {
            room: name.to_lowercase(),
            name: name.into(),
            booked_hours: booked,
            used_hours: used,
            released_hours: released,
            meetings: 0,
            no_shows: 0,
            no_show_rate: None,
        }
    }

    #[test]
    fn the_longest_bar_fills_the_chart_and_the_others_are_to_scale() {
        let uses = [used("A", 4.0, 2.0, 1.0), used("B", 2.0, 0.0, 0.0)];
        let chart = chart(&uses, |h| format!("{h} h"));
        assert_eq!(chart.rows.len(), 2);
        let widths: Vec<&str> = chart.rows[0]
            .bars
            .iter()
            .map(|b| b.width.as_str())
            .collect();
        assert_eq!(widths, ["520.0", "260.0", "130.0"]);
        assert_eq!(chart.rows[1].bars[0].width, "260.0");
        assert!(chart.rows[1].name_y > chart.rows[0].bars[2].y);
        assert!(chart.height > chart.rows[1].bars[2].y);
    }

    #[test]
    fn rooms_never_used_draw_empty_bars() {
        let chart = chart(&[used("A", 0.0, 0.0, 0.0)], |h| format!("{h} h"));
        assert!(chart.rows[0].bars.iter().all(|b| b.width == "0.0"));
    }
}
