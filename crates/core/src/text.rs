//! A server's words on their way to the screen: plain text of bounded length, without the
//! characters that could disguise it (controls, and the bidirectional overrides that make
//! text read differently from how it is stored).

/// Whether `c` is kept out of anything shown: control characters, and the bidirectional
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// One line of at most `max` characters: line breaks and other hidden characters become
/// spaces, the ends are trimmed.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if hidden(c) { ' ' } else { c })
        .take(max)
        .collect();
    flat.trim().to_owned()
}

/// Paragraphs of at most `max` characters in all: line breaks and tabs kept, other hidden
/// characters dropped, the ends trimmed.
pub fn paragraphs(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .filter(|c| matches!(c, '\n' | '\t') || !hidden(*c))
        .take(max)
        .collect();
    kept.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_do_not_reach_the_screen() {
        assert_eq!(one_line("a\nb\tc\u{202e}d", 100), "a b c d");
        assert_eq!(paragraphs("a\nb\r\n\u{2066}c\u{7}\td", 100), "a\nb\nc\td");
        assert_eq!(one_line(&"é".repeat(10), 3), "ééé");
        assert_eq!(paragraphs("  \n x \n ", 100), "x");
    }
}
