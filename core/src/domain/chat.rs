//! Chat, platform-neutral: what a person types or presses, and what Frontdesk answers. Each
//! chat surface (Slack, Teams, Discord, the web chat) only translates these to and from its
//! own format (Block Kit, Adaptive Cards, Discord components, HTML).

use unicode_normalization::UnicodeNormalization;

use crate::domain::meeting_request::starts_meeting_request;
use crate::domain::visit::HostAnswer;
use crate::i18n::Lang;

/// An answer or a notice. `summary` is the one-line text platforms show in notifications and
/// where blocks cannot be shown; `blocks` are the message itself, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub summary: String,
    pub blocks: Vec<Block>,
}

/// One part of a [`Message`]. Text is plain: each bot escapes it for its platform, so a
/// visitor's name can never become markup or a mention.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A paragraph.
    Text { text: String },
    /// Labelled values, shown as a short table (who, from which company, when).
    Fields { fields: Vec<Field> },
    /// A row of buttons.
    Buttons { buttons: Vec<Button> },
    /// A menu of choices; picking one sends `action` with the choice's value.
    Select {
        action: Action,
        placeholder: String,
        options: Vec<Choice>,
    },
    /// A picture at `url` (a QR code), described by `alt` for screen readers.
    Image { url: String, alt: String },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Field {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Button {
    pub action: Action,
    pub label: String,
    pub style: ButtonStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    Default,
    /// The expected answer (green on Slack, "positive" on Teams).
    Primary,
    /// An answer that turns someone away (red).
    Danger,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Message {
    /// A message of one paragraph.
    pub fn text(text: impl Into<String>) -> Message {
        let text = text.into();
        Message {
            summary: text.clone(),
            blocks: vec![Block::Text { text }],
        }
    }

    /// This message with another paragraph.
    pub fn paragraph(mut self, text: impl Into<String>) -> Message {
        self.blocks.push(Block::Text { text: text.into() });
        self
    }

    /// This message with a row of buttons.
    pub fn buttons(mut self, buttons: Vec<Button>) -> Message {
        self.blocks.push(Block::Buttons { buttons });
        self
    }

    /// The message as plain text, for mail: paragraphs, fields as `label: value`, pictures
    /// by their description; buttons are left out (mail cannot press them).
    pub fn plain_text(&self) -> String {
        let mut parts = Vec::new();
        for block in &self.blocks {
            match block {
                Block::Text { text } => parts.push(text.clone()),
                Block::Fields { fields } => parts.push(
                    fields
                        .iter()
                        .map(|f| format!("{}: {}", f.label, f.value))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                Block::Image { alt, .. } => parts.push(alt.clone()),
                Block::Buttons { .. } | Block::Select { .. } => {}
            }
        }
        parts.join("\n\n")
    }

    /// This message with labelled values.
    pub fn fields(mut self, fields: Vec<Field>) -> Message {
        self.blocks.push(Block::Fields { fields });
        self
    }

    /// Every button in the message, in order.
    pub fn all_buttons(&self) -> impl Iterator<Item = &Button> {
        self.blocks.iter().flat_map(|block| match block {
            Block::Buttons { buttons } => buttons.as_slice(),
            _ => &[],
        })
    }
}

/// What a button or menu does when pressed, carried through the platform as a short id
/// (Discord allows 100 characters, Slack 255) and decoded — never trusted — on the way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Show the help again.
    Help,
    /// Link this chat account to the employee with the same email.
    Link,
    /// Answer a visitor waiting at reception (the visit's id; who pressed is checked).
    AnswerVisit { visit: i64, answer: HostAnswer },
    /// Check a visitor out (the visit's id; who pressed is checked).
    CheckOutVisit { visit: i64 },
    /// Book the meeting proposed in chat (the proposal's public id) at `start` (epoch
    /// seconds); only its requester may, and the slot is checked again.
    Book { proposal: u128, start: i64 },
    /// Cancel the meeting booked from a chat proposal (the proposal's public id); only its
    /// requester may.
    CancelMeeting { proposal: u128 },
    /// Book room `room` (its id) for `minutes` from `start` (epoch seconds; 0: now), from a
    /// room search.
    BookRoom { room: i64, start: i64, minutes: i64 },
    /// Check in to a room's meeting (the recorded meeting's id; only its organizer may).
    CheckInRoom { meeting: i64 },
    /// Give a room's meeting back now (only its organizer may).
    ReleaseRoom { meeting: i64 },
}

/// The longest action id any platform carries (Discord's `custom_id`).
pub const MAX_ACTION_ID: usize = 100;
const ACTION_VERSION: &str = "fd1";

impl Action {
    /// The id sent to the platform.
    pub fn id(&self) -> String {
        let name = match self {
            Action::Help => "help".to_owned(),
            Action::Link => "link".to_owned(),
            Action::AnswerVisit { visit, answer } => format!("visit:{visit}:{}", answer.code()),
            Action::CheckOutVisit { visit } => format!("checkout:{visit}"),
            Action::Book { proposal, start } => format!("book:{proposal:032x}:{start}"),
            Action::CancelMeeting { proposal } => format!("unbook:{proposal:032x}"),
            Action::BookRoom {
                room,
                start,
                minutes,
            } => format!("room:{room}:{start}:{minutes}"),
            Action::CheckInRoom { meeting } => format!("roomin:{meeting}"),
            Action::ReleaseRoom { meeting } => format!("roomout:{meeting}"),
        };
        format!("{ACTION_VERSION}:{name}")
    }

    /// The action an id names; `None` for anything else (an old, altered or foreign id).
    pub fn from_id(id: &str) -> Option<Action> {
        if id.len() > MAX_ACTION_ID {
            return None;
        }
        let name = id.strip_prefix(ACTION_VERSION)?.strip_prefix(':')?;
        // A database id: a positive number.
        let visit_id = |text: &str| text.parse::<i64>().ok().filter(|id| *id > 0);
        match name.split(':').collect::<Vec<_>>().as_slice() {
            ["help"] => Some(Action::Help),
            ["link"] => Some(Action::Link),
            ["visit", visit, answer] => Some(Action::AnswerVisit {
                visit: visit_id(visit)?,
                answer: HostAnswer::from_code(answer)?,
            }),
            ["checkout", visit] => Some(Action::CheckOutVisit {
                visit: visit_id(visit)?,
            }),
            ["book", proposal, start] => Some(Action::Book {
                proposal: proposal_id(proposal)?,
                start: start.parse::<i64>().ok().filter(|s| *s > 0)?,
            }),
            ["unbook", proposal] => Some(Action::CancelMeeting {
                proposal: proposal_id(proposal)?,
            }),
            ["room", room, start, minutes] => Some(Action::BookRoom {
                room: visit_id(room)?,
                start: start.parse::<i64>().ok().filter(|s| *s >= 0)?,
                minutes: minutes.parse::<i64>().ok().filter(|m| *m > 0)?,
            }),
            ["roomin", meeting] => Some(Action::CheckInRoom {
                meeting: visit_id(meeting)?,
            }),
            ["roomout", meeting] => Some(Action::ReleaseRoom {
                meeting: visit_id(meeting)?,
            }),
            _ => None,
        }
    }
}

impl serde::Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id())
    }
}

impl<'de> serde::Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        Action::from_id(&id).ok_or_else(|| serde::de::Error::custom("not a Frontdesk action"))
    }
}

/// A proposal's public id as its 32 lower-case hex digits carry it.
fn proposal_id(text: &str) -> Option<u128> {
    (text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| u128::from_str_radix(text, 16).ok())
        .flatten()
}

/// What a person asked for in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// What Frontdesk can do here (also the answer to a bare mention or an empty message).
    Help,
    /// Link this chat account to the employee with the same email.
    Link,
    /// Link this chat account with a code from the web chat (platforms that share no
    /// email); the code as typed (lower-cased).
    LinkCode(String),
    /// Expect a visitor (the words after `visitor` / `来客` / `invite` / `招待`, as typed but
    /// NFKC-normalised: names keep their case).
    ExpectVisitor(String),
    /// Today's expected visitors and those on site, for me (`visitors` / `来客` alone).
    Visitors,
    /// My booking links (`links` / `予約リンク`; also `link` once linked).
    Links,
    /// Book a meeting: the words after `book` / `予約` (or all of them, when the message
    /// starts with a day or a length, as in `来週 30分 @bob`), as typed but NFKC-normalised.
    Book(String),
    /// Find a free room: the words after `rooms` / `会議室` (people, length, time, floor,
    /// equipment), NFKC-normalised.
    Rooms(String),
    /// Not understood; the first word, to quote back.
    Unknown(String),
}

/// The longest text the conversation reads; beyond it a message is not a command.
pub const MAX_COMMAND_TEXT: usize = 2_000;

impl Command {
    /// The command in `text`, in English or Japanese. Full-width letters, a leading
    /// `/frontdesk`, the bot's own @mention (`<@U123>`) and letter case do not matter.
    pub fn parse(text: &str) -> Command {
        if text.len() > MAX_COMMAND_TEXT {
            return Command::Unknown(String::new());
        }
        let normalized: String = text.nfkc().collect::<String>().to_lowercase();
        let mut words = normalized
            .split_whitespace()
            .skip_while(|word| is_mention(word) || *word == "/frontdesk" || *word == "frontdesk");
        let Some(first) = words.next() else {
            return Command::Help;
        };
        let original = |skip: usize| -> String {
            let original: String = text.nfkc().collect();
            let rest: Vec<&str> = original
                .split_whitespace()
                .skip_while(|w| {
                    let w = w.to_lowercase();
                    is_mention(&w) || w == "/frontdesk" || w == "frontdesk"
                })
                .skip(skip)
                .collect();
            rest.join(" ")
        };
        let nothing_after = words.clone().next().is_none();
        match first {
            "help" | "?" | "ヘルプ" | "へるぷ" | "使い方" | "つかいかた" => {
                Command::Help
            }
            "visitors" | "visitor" | "来客" | "来訪" | "らいきゃく" if nothing_after => {
                Command::Visitors
            }
            "visitors" | "visitor" | "expect" | "invite" | "来客" | "来訪" | "らいきゃく"
            | "招待" | "しょうたい" => Command::ExpectVisitor(original(1)),
            "links" | "予約リンク" | "リンク一覧" => Command::Links,
            "rooms" | "room" | "会議室" | "かいぎしつ" | "部屋" | "空室" => {
                Command::Rooms(original(1))
            }
            "link" | "連携" | "リンク" | "れんけい" => match words.next() {
                Some(code) => Command::LinkCode(code.chars().take(40).collect()),
                None => Command::Link,
            },
            "book" | "meet" | "予約" | "よやく" | "打ち合わせ" | "ミーティング" => {
                Command::Book(original(1))
            }
            word if starts_meeting_request(word) => Command::Book(original(0)),
            other => Command::Unknown(other.chars().take(40).collect()),
        }
    }
}

/// Whether `word` is a platform mention: `<@U123>` (Slack), `<@123>` / `<@!123>` (Discord).
fn is_mention(word: &str) -> bool {
    word.starts_with("<@") && word.ends_with('>')
}

/// The language to answer in when nothing else says: Japanese when the text has any kana or
/// kanji, else `fallback`.
pub fn language_of(text: &str, fallback: Lang) -> Lang {
    let japanese = text.chars().any(|c| {
        matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}')
    });
    if japanese { Lang::Ja } else { fallback }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_understood_in_english_and_japanese_however_they_are_typed() {
        for (text, expected) in [
            ("help", Command::Help),
            ("  HELP  ", Command::Help),
            ("ｈｅｌｐ", Command::Help),
            ("/frontdesk help", Command::Help),
            ("<@U024BE7LH> help", Command::Help),
            ("<@!80351110224678912> ヘルプ", Command::Help),
            ("使い方", Command::Help),
            ("", Command::Help),
            ("<@U024BE7LH>", Command::Help),
            ("link", Command::Link),
            ("連携", Command::Link),
            ("ﾘﾝｸ", Command::Link),
            (
                "/frontdesk link abcd-efgh",
                Command::LinkCode("abcd-efgh".into()),
            ),
            (
                "連携　ＡＢＣＤ－ＥＦＧＨ",
                Command::LinkCode("abcd-efgh".into()),
            ),
            (
                "book alice tomorrow",
                Command::Book("alice tomorrow".into()),
            ),
            (
                "/frontdesk book <@U02BOB> Kenji@Globex.example 30m next week",
                Command::Book("<@U02BOB> Kenji@Globex.example 30m next week".into()),
            ),
            ("来週 ３０分 @bob", Command::Book("来週 30分 @bob".into())),
            (
                "予約 @bob 明日 30分",
                Command::Book("@bob 明日 30分".into()),
            ),
            ("visitors", Command::Visitors),
            ("来客", Command::Visitors),
            ("<@U024BE7LH> 来客", Command::Visitors),
            ("links", Command::Links),
            ("予約リンク", Command::Links),
            (
                "invite Kenji Mori, Globex tomorrow 14:00",
                Command::ExpectVisitor("Kenji Mori, Globex tomorrow 14:00".into()),
            ),
            (
                "招待 山田太郎、エグザンプル 明日 14:00",
                Command::ExpectVisitor("山田太郎、エグザンプル 明日 14:00".into()),
            ),
            ("hello there", Command::Unknown("hello".into())),
            (
                "/frontdesk visitor Kenji Mori, Globex tomorrow 14:00",
                Command::ExpectVisitor("Kenji Mori, Globex tomorrow 14:00".into()),
            ),
            (
                "来客　山田太郎、エグザンプル 明日 １４：００",
                Command::ExpectVisitor("山田太郎、エグザンプル 明日 14:00".into()),
            ),
        ] {
            assert_eq!(Command::parse(text), expected, "{text:?}");
        }
        let long = "x".repeat(MAX_COMMAND_TEXT + 1);
        assert_eq!(Command::parse(&long), Command::Unknown(String::new()));
    }

    #[test]
    fn action_ids_round_trip_and_anything_else_is_refused() {
        for action in [
            Action::Help,
            Action::Link,
            Action::AnswerVisit {
                visit: 42,
                answer: HostAnswer::Delayed(5),
            },
            Action::CheckOutVisit { visit: 7 },
            Action::Book {
                proposal: u128::MAX,
                start: 1_795_568_400,
            },
            Action::Book {
                proposal: 1,
                start: 1,
            },
            Action::CancelMeeting {
                proposal: u128::MAX,
            },
        ] {
            assert!(action.id().len() <= MAX_ACTION_ID);
            assert_eq!(Action::from_id(&action.id()), Some(action));
        }
        for foreign in [
            "help",
            "fd1:",
            "fd1:delete_everything",
            "fd2:help",
            "fd1:help ",
            "fd1:visit:42",
            "fd1:visit:-1:coming",
            "fd1:visit:x:coming",
            "fd1:visit:1:dance",
            "fd1:checkout:",
            "fd1:book:abc:1795568400",
            "fd1:book:0000000000000000000000000000000G:1795568400",
            "fd1:book:0000000000000000000000000000000A:1795568400",
            "fd1:book:00000000000000000000000000000001:-5",
            "fd1:book:00000000000000000000000000000001",
            "fd1:unbook:",
            "fd1:unbook:abc",
        ] {
            assert_eq!(Action::from_id(foreign), None, "{foreign:?}");
        }
        assert_eq!(Action::from_id(&format!("fd1:{}", "a".repeat(200))), None);
    }

    #[test]
    fn messages_serialise_with_action_ids_and_refuse_unknown_ones() {
        let message = Message::text("hello").buttons(vec![Button {
            action: Action::Link,
            label: "Link".into(),
            style: ButtonStyle::Primary,
        }]);
        let json = serde_json::to_string(&message).unwrap();
        assert!(json.contains(r#""action":"fd1:link""#), "{json}");
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), message);
        let altered = json.replace("fd1:link", "fd1:drop");
        assert!(serde_json::from_str::<Message>(&altered).is_err());
    }

    #[test]
    fn japanese_text_is_answered_in_japanese() {
        assert_eq!(language_of("へるぷ", Lang::En), Lang::Ja);
        assert_eq!(language_of("会議室", Lang::En), Lang::Ja);
        assert_eq!(language_of("help", Lang::En), Lang::En);
        assert_eq!(language_of("help", Lang::Ja), Lang::Ja);
    }
}
