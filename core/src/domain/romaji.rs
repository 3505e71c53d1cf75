//! Romaji to hiragana, so that a visitor who types `sato` at a kiosk finds 佐藤 (さとう):
//! the directory holds each name's reading in kana, and a query in romaji is read as kana.
//! Hepburn and Kunrei spellings both work (`shi`/`si`, `tsu`/`tu`, `fu`/`hu`, `ji`/`zi`).

/// The hiragana a romaji query spells, or `None` when it is not romaji (digits, symbols,
/// or letters that spell no kana, like `xq`).
pub fn to_hiragana(query: &str) -> Option<String> {
    let lower: String = query
        .trim()
        .chars()
        .map(|c| match c {
            'ā' | 'Ā' | 'â' => "aa".to_owned(),
            'ī' | 'Ī' | 'î' => "ii".to_owned(),
            'ū' | 'Ū' | 'û' => "uu".to_owned(),
            'ē' | 'Ē' | 'ê' => "ee".to_owned(),
            'ō' | 'Ō' | 'ô' => "ou".to_owned(),
            c => c.to_ascii_lowercase().to_string(),
        })
        .collect();
    if lower.is_empty()
        || !lower
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == ' ' || c == '\'')
    {
        return None;
    }
    let bytes = lower.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &lower[i..];
        let c = bytes[i];
        if c == b' ' {
            out.push(' ');
            i += 1;
            continue;
        }
        if c == b'\'' {
            i += 1;
            continue;
        }
        // A doubled consonant (kk, tt, tch) is a small tsu.
        let next = bytes.get(i + 1).copied();
        if c != b'n' && !is_vowel(c) && (next == Some(c) || (c == b't' && next == Some(b'c'))) {
            out.push('っ');
            i += 1;
            continue;
        }
        // n before a consonant other than y, or at the end, is ん (nn too).
        if c == b'n' {
            match next {
                Some(b'n') => {
                    out.push('ん');
                    i += 2;
                    continue;
                }
                Some(n) if !is_vowel(n) && n != b'y' => {
                    out.push('ん');
                    i += 1;
                    continue;
                }
                None => {
                    out.push('ん');
                    i += 1;
                    continue;
                }
                _ => {}
            }
        }
        let matched = [3, 2, 1].into_iter().find_map(|len| {
            let syllable = rest.get(..len)?;
            SYLLABLES
                .iter()
                .find(|(romaji, _)| *romaji == syllable)
                .map(|(_, kana)| (len, *kana))
        });
        let (len, kana) = matched?;
        out.push_str(kana);
        i += len;
    }
    Some(out)
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'i' | b'u' | b'e' | b'o')
}

#[rustfmt::skip]
const SYLLABLES: &[(&str, &str)] = &[
    ("a", "あ"), ("i", "い"), ("u", "う"), ("e", "え"), ("o", "お"),
    ("ka", "か"), ("ki", "き"), ("ku", "く"), ("ke", "け"), ("ko", "こ"),
    ("ga", "が"), ("gi", "ぎ"), ("gu", "ぐ"), ("ge", "げ"), ("go", "ご"),
    ("sa", "さ"), ("shi", "し"), ("si", "し"), ("su", "す"), ("se", "せ"), ("so", "そ"),
    ("za", "ざ"), ("ji", "じ"), ("zi", "じ"), ("zu", "ず"), ("ze", "ぜ"), ("zo", "ぞ"),
    ("ta", "た"), ("chi", "ち"), ("ti", "ち"), ("tsu", "つ"), ("tu", "つ"), ("te", "て"), ("to", "と"),
    ("da", "だ"), ("di", "ぢ"), ("du", "づ"), ("de", "で"), ("do", "ど"),
    ("na", "な"), ("ni", "に"), ("nu", "ぬ"), ("ne", "ね"), ("no", "の"),
    ("ha", "は"), ("hi", "ひ"), ("fu", "ふ"), ("hu", "ふ"), ("he", "へ"), ("ho", "ほ"),
    ("ba", "ば"), ("bi", "び"), ("bu", "ぶ"), ("be", "べ"), ("bo", "ぼ"),
    ("pa", "ぱ"), ("pi", "ぴ"), ("pu", "ぷ"), ("pe", "ぺ"), ("po", "ぽ"),
    ("ma", "ま"), ("mi", "み"), ("mu", "む"), ("me", "め"), ("mo", "も"),
    ("ya", "や"), ("yu", "ゆ"), ("yo", "よ"),
    ("ra", "ら"), ("ri", "り"), ("ru", "る"), ("re", "れ"), ("ro", "ろ"),
    ("la", "ら"), ("li", "り"), ("lu", "る"), ("le", "れ"), ("lo", "ろ"),
    ("wa", "わ"), ("wo", "を"), ("n", "ん"),
    ("kya", "きゃ"), ("kyu", "きゅ"), ("kyo", "きょ"),
    ("gya", "ぎゃ"), ("gyu", "ぎゅ"), ("gyo", "ぎょ"),
    ("sha", "しゃ"), ("shu", "しゅ"), ("sho", "しょ"), ("sya", "しゃ"), ("syu", "しゅ"), ("syo", "しょ"),
    ("ja", "じゃ"), ("ju", "じゅ"), ("jo", "じょ"), ("zya", "じゃ"), ("zyu", "じゅ"), ("zyo", "じょ"),
    ("jya", "じゃ"), ("jyu", "じゅ"), ("jyo", "じょ"),
    ("cha", "ちゃ"), ("chu", "ちゅ"), ("cho", "ちょ"), ("tya", "ちゃ"), ("tyu", "ちゅ"), ("tyo", "ちょ"),
    ("nya", "にゃ"), ("nyu", "にゅ"), ("nyo", "にょ"),
    ("hya", "ひゃ"), ("hyu", "ひゅ"), ("hyo", "ひょ"),
    ("bya", "びゃ"), ("byu", "びゅ"), ("byo", "びょ"),
    ("pya", "ぴゃ"), ("pyu", "ぴゅ"), ("pyo", "ぴょ"),
    ("mya", "みゃ"), ("myu", "みゅ"), ("myo", "みょ"),
    ("rya", "りゃ"), ("ryu", "りゅ"), ("ryo", "りょ"),
];

#[cfg(test)]
mod tests {
    use super::to_hiragana;

    #[test]
    fn names_in_romaji_read_as_their_kana() {
        for (romaji, kana) in [
            ("sato", "さと"),
            ("satou", "さとう"),
            ("Satō", "さとう"),
            ("suzuki", "すずき"),
            ("tanaka", "たなか"),
            ("shinji", "しんじ"),
            ("sinzi", "しんじ"),
            ("ken'ichi", "けんいち"),
            ("hattori", "はっとり"),
            ("matchi", "まっち"),
            ("ryouko", "りょうこ"),
            ("honda", "ほんだ"),
            ("yamada tarou", "やまだ たろう"),
            ("tsutsumi", "つつみ"),
            ("fujii", "ふじい"),
            ("gen", "げん"),
        ] {
            assert_eq!(to_hiragana(romaji).as_deref(), Some(kana), "{romaji}");
        }
        for not_romaji in ["", "alice@x", "x", "qq", "42", "佐藤"] {
            assert_eq!(to_hiragana(not_romaji), None, "{not_romaji}");
        }
    }
}
