//! Every text a person reads, from one catalogue per language.
//!
//! `i18n/en.json` and `i18n/ja.json` map the same keys to texts; `{name}` marks a value
//! filled in by [`format`]. A test fails when a key is in one catalogue and not the other.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// A language Frontdesk speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 日本語 (the default: Frontdesk's first users are in Japan).
    #[default]
    Ja,
    En,
}

impl Lang {
    /// The BCP 47 tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The language of a tag such as `ja`, `en-US`, `ja-JP`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best language for an `Accept-Language` header (by q-value), else the default.
    pub fn negotiate(accept_language: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.split(',') {
            let mut pieces = part.split(';');
            let Some(lang) = pieces.next().and_then(Lang::from_tag) else {
                continue;
            };
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or_default()
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ja" => Ok(Lang::Ja),
            "en" => Ok(Lang::En),
            other => Err(format!("unknown language {other:?} (expected ja or en)")),
        }
    }
}

type Catalogue = HashMap<String, String>;

fn parse(source: &str, name: &str) -> Catalogue {
    // The catalogues are compiled in; a malformed one is a build defect caught by the tests.
    serde_json::from_str(source).unwrap_or_else(|err| panic!("i18n/{name}.json is invalid: {err}"))
}

static JA: LazyLock<Catalogue> = LazyLock::new(|| parse(include_str!("../i18n/ja.json"), "ja"));
static EN: LazyLock<Catalogue> = LazyLock::new(|| parse(include_str!("../i18n/en.json"), "en"));

fn catalogue(lang: Lang) -> &'static Catalogue {
    match lang {
        Lang::Ja => &JA,
        Lang::En => &EN,
    }
}

/// The text for `key` in `lang`; the key itself if it is missing (and the tests fail).
pub fn text(lang: Lang, key: &str) -> String {
    catalogue(lang)
        .get(key)
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// The text for `key` with each `{name}` replaced by its value from `args`.
pub fn format(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut out = text(lang, key);
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let ja: BTreeSet<_> = JA.keys().collect();
        let en: BTreeSet<_> = EN.keys().collect();
        let only_ja: Vec<_> = ja.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&ja).collect();
        assert!(
            only_ja.is_empty() && only_en.is_empty(),
            "only in ja.json: {only_ja:?}; only in en.json: {only_en:?}"
        );
    }

    #[test]
    fn both_catalogues_use_the_same_placeholders() {
        let placeholders = |s: &str| -> BTreeSet<String> {
            s.split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}'))
                .map(|(n, _)| n.to_owned())
                .collect()
        };
        for (key, en) in EN.iter() {
            assert_eq!(
                placeholders(en),
                placeholders(&JA[key]),
                "placeholders of {key}"
            );
        }
    }

    /// Every string literal in the workspace's code and templates that looks like a key of
    /// the catalogues (it starts with one of their sections, such as `page.` or `error.`).
    fn keys_used_in_code() -> BTreeSet<(String, String)> {
        let sections: BTreeSet<&str> = EN.keys().filter_map(|k| k.split('.').next()).collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut found = BTreeSet::new();
        let mut pending: Vec<_> = [
            "core/src",
            "webhooks/src",
            "webhooks/templates",
            "src",
            "bots/src",
            "connectors/src",
        ]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
        while let Some(path) = pending.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).expect("readable source dir") {
                    pending.push(entry.expect("a directory entry").path());
                }
                continue;
            }
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            for literal in source.split('"').skip(1).step_by(2) {
                let looks_like_key = literal.split_once('.').is_some_and(|(section, rest)| {
                    sections.contains(section)
                        && !rest.is_empty()
                        && literal
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                });
                if looks_like_key {
                    found.insert((literal.to_owned(), path.display().to_string()));
                }
            }
        }
        found
    }

    #[test]
    fn every_key_the_code_asks_for_exists() {
        let used = keys_used_in_code();
        assert!(
            used.iter().any(|(key, _)| key == "page.home.title"),
            "sanity: the sources were read: {used:?}"
        );
        let missing: Vec<_> = used
            .iter()
            .filter(|(key, _)| !EN.contains_key(key.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "keys asked for but not in the catalogues: {missing:?}"
        );
        let typed = crate::domain::field::Invalid::examples().map(|i| i.message_key());
        for key in typed {
            assert!(EN.contains_key(key) && JA.contains_key(key), "{key}");
        }
    }

    #[test]
    fn accept_language_picks_the_preferred_known_language() {
        assert_eq!(Lang::negotiate("en-US,en;q=0.9,ja;q=0.8"), Lang::En);
        assert_eq!(Lang::negotiate("fr-FR, ja;q=0.5, en;q=0.4"), Lang::Ja);
        assert_eq!(Lang::negotiate("de"), Lang::Ja);
        assert_eq!(Lang::negotiate(""), Lang::Ja);
    }

    #[test]
    fn values_fill_placeholders() {
        let text = format(
            Lang::En,
            "mail.reset.body",
            &[("url", "https://x/r"), ("minutes", "60")],
        );
        assert!(
            text.contains("https://x/r") && text.contains("60"),
            "{text}"
        );
    }
}
