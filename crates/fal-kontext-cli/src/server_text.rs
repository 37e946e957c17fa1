//! Text a server wrote, made fit for a terminal. Log lines, fal's `detail`,
//! an error page's title or body, a failure reason that quotes them: any of
//! it may hold escape sequences (which a terminal obeys: move the cursor,
//! rewrite the screen, set its title, make a link), other control characters,
//! or characters that reorder what follows (bidirectional overrides), and may
//! be any length. Everything the CLI prints to a terminal that came from a
//! server goes through [`printable`], and only it.

/// The most characters of server text printed at once; the rest is cut, and
/// the cut is marked with `…`.
pub const MAX_CHARS: usize = 2000;

/// `text` with every control character (C0, DEL, C1), line and paragraph
/// separator and bidirectional formatting character escaped as `\u{…}`
/// (`\n`, `\r` and `\t` as themselves escaped), so that it prints as one
/// inert line, cut to [`MAX_CHARS`] characters.
pub fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len().min(MAX_CHARS));
    for (count, c) in text.chars().enumerate() {
        if count == MAX_CHARS {
            shown.push('…');
            break;
        }
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if is_unsafe(c) => shown.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => shown.push(c),
        }
    }
    shown
}

/// Whether a terminal could act on `c` instead of showing it.
fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL and C1 (ESC, CSI, OSC, …)
        || matches!(c,
            '\u{2028}' | '\u{2029}'                // line and paragraph separators
            | '\u{200e}' | '\u{200f}' | '\u{061c}' // directional marks
            | '\u{202a}'..='\u{202e}'              // embeddings and overrides
            | '\u{2066}'..='\u{2069}'              // isolates
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_control_characters_print_as_text() {
        assert_eq!(
            printable("\x1b]0;pwned\x07\x1b[2Jok\r\nnext\tcol\u{9b}31m\u{7f}"),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[2Jok\\r\\nnext\\tcol\\u{9b}31m\\u{7f}"
        );
        assert_eq!(
            printable("abc\u{202e}fdp.exe"),
            "abc\\u{202e}fdp.exe",
            "no reordering"
        );
        assert_eq!(printable("Résumé: 503 ✓"), "Résumé: 503 ✓", "text stays");
    }

    #[test]
    fn long_text_is_cut_and_marked() {
        let long = "x".repeat(MAX_CHARS + 10);
        let shown = printable(&long);
        assert_eq!(shown.chars().count(), MAX_CHARS + 1);
        assert!(shown.ends_with("x…"));
        assert_eq!(printable(&"y".repeat(MAX_CHARS)), "y".repeat(MAX_CHARS));
    }
}
