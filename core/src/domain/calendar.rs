//! Calendar time: busy intervals in integer seconds since the Unix epoch (UTC), the form
//! every calendar (ICS feed, Google, Microsoft 365, the built-in one) is reduced to before
//! free slots are computed from it.

/// Where a calendar's events live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    /// The built-in calendar, in Frontdesk's own database.
    Local,
    /// An ICS feed subscribed to by URL.
    Ics,
    /// Google Calendar.
    Google,
    /// Microsoft 365 (Graph).
    Microsoft,
}

impl Provider {
    /// Every provider, in a fixed order.
    pub const ALL: [Provider; 4] = [
        Provider::Local,
        Provider::Ics,
        Provider::Google,
        Provider::Microsoft,
    ];

    /// The name stored and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Local => "local",
            Provider::Ics => "ics",
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
        }
    }

    /// The provider named `name`.
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Whose time a calendar holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Employee(i64),
    Room(i64),
}

impl Owner {
    /// The owner as the two nullable columns that store it: (employee id, room id).
    pub fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            Owner::Employee(id) => (Some(id), None),
            Owner::Room(id) => (None, Some(id)),
        }
    }

    /// The owner stored in those columns (exactly one is set; a CHECK ensures it).
    pub fn from_columns(employee_id: Option<i64>, room_id: Option<i64>) -> Option<Owner> {
        match (employee_id, room_id) {
            (Some(id), None) => Some(Owner::Employee(id)),
            (None, Some(id)) => Some(Owner::Room(id)),
            _ => None,
        }
    }
}

/// A half-open span of time `[start, end)`, in seconds since the Unix epoch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Interval {
    pub start: i64,
    pub end: i64,
}

impl Interval {
    /// `[start, end)`; `None` when it is empty or reversed.
    pub fn new(start: i64, end: i64) -> Option<Interval> {
        (start < end).then_some(Interval { start, end })
    }

    /// The part of this interval inside `[from, to)`, if any.
    pub fn clip(self, from: i64, to: i64) -> Option<Interval> {
        Interval::new(self.start.max(from), self.end.min(to))
    }
}

/// `intervals` sorted, with those that overlap or touch merged into one: the time that is
/// busy, however many events make it so.
pub fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort_unstable();
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for next in intervals {
        match merged.last_mut() {
            Some(last) if next.start <= last.end => last.end = last.end.max(next.end),
            _ => merged.push(next),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: i64, end: i64) -> Interval {
        Interval::new(start, end).unwrap()
    }

    #[test]
    fn overlapping_and_touching_intervals_merge_and_the_rest_stay_apart() {
        let merged = merge(vec![
            iv(50, 60),
            iv(0, 10),
            iv(5, 20),
            iv(20, 30),
            iv(40, 45),
            iv(41, 42),
        ]);
        assert_eq!(merged, vec![iv(0, 30), iv(40, 45), iv(50, 60)]);
        assert_eq!(merge(vec![]), vec![]);
    }

    #[test]
    fn empty_and_reversed_intervals_do_not_exist_and_clipping_can_empty_one() {
        assert_eq!(Interval::new(5, 5), None);
        assert_eq!(Interval::new(6, 5), None);
        assert_eq!(iv(0, 10).clip(5, 20), Some(iv(5, 10)));
        assert_eq!(iv(0, 10).clip(10, 20), None);
    }
}
