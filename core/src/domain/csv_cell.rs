//! CSV cells safe to open in a spreadsheet (OWASP CSV injection).
//!
//! A cell starting with `= + - @`, TAB or CR is prefixed with `'` so spreadsheets show it as
//! text instead of evaluating it; [`restore`] undoes that when the file is imported again.

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `value` starts with a formula character, after any `'` already in front of it
/// (so text such as `'=1` is prefixed too, and [`restore`] gives it back unchanged).
fn formula_like(value: &str) -> bool {
    value.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// The cell as written to an exported file.
pub fn neutralize(value: &str) -> String {
    if formula_like(value) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// The original text of a cell written by [`neutralize`].
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_read_back_as_written() {
        for value in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+81 3 1234",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'=1+1",
        ] {
            let cell = neutralize(value);
            assert!(cell.starts_with('\''), "{value:?}");
            assert_eq!(restore(&cell), value);
        }
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for value in ["佐藤 ありす", "O'Brien", "'quoted", ""] {
            assert_eq!(neutralize(value), value);
            assert_eq!(restore(value), value);
        }
    }
}
