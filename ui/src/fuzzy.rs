//! The attachment menu's fuzzy match: a word's letters found in order in a name, however far
//! apart ("gtwthr" in "get_weather"), scored so that letters at the start of words and
//! letters side by side count for more, and gaps for less.
//!
//! One pass forward finds where the earliest complete match ends, one pass back from there
//! finds the latest start for that end, and the letters between are scored as found
//! left to right: linear in the name's length, with no table to fill, read in place from the
//! text the menu already keeps.

/// Every letter found counts this much.
const MATCH: i32 = 16;
/// A gap between two letters found costs this much to open, and this much per letter more.
const GAP_START: i32 = 3;
const GAP_EXTENSION: i32 = 1;
/// A letter found at the start of a word: after a space, after a separator of parts (`/`,
/// `:`...), or after other punctuation (`_`, `-`, `.`).
const AFTER_SPACE: i32 = 10;
const AFTER_SEPARATOR: i32 = 9;
const AFTER_PUNCTUATION: i32 = 8;
/// Where letters meet digits ("v2", "2fa").
const LETTER_DIGIT: i32 = 5;
/// At least this for each letter found right after the one before.
const CONSECUTIVE: i32 = GAP_START + GAP_EXTENSION;

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Space,
    Separator,
    Punctuation,
    Letter,
    Digit,
}

fn class(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if matches!(c, '/' | ',' | ':' | ';' | '|') {
        Class::Separator
    } else if c.is_numeric() {
        Class::Digit
    } else if c.is_alphanumeric() {
        Class::Letter
    } else {
        Class::Punctuation
    }
}

/// What a letter of class `now` after one of class `before` is worth when found.
fn bonus(before: Class, now: Class) -> i32 {
    match (before, now) {
        (_, Class::Space | Class::Separator | Class::Punctuation) => 0,
        (Class::Space, _) => AFTER_SPACE,
        (Class::Separator, _) => AFTER_SEPARATOR,
        (Class::Punctuation, _) => AFTER_PUNCTUATION,
        (Class::Letter, Class::Digit) | (Class::Digit, Class::Letter) => LETTER_DIGIT,
        _ => 0,
    }
}

/// The score of `needle`'s letters found in order in `haystack`, or `None` when they are
/// not all there. Both sides are case folded already; with `plain`, a letter of the
/// haystack with marks is read as its plain letter ([`crate::letters::plain`]).
pub fn score(haystack: &str, needle: &[char], plain: bool) -> Option<u32> {
    if needle.is_empty() {
        return None;
    }
    let read = |c: char| if plain { crate::letters::plain(c) } else { c };
    // Forward: where the earliest match ends (in bytes, past its last letter).
    let mut wanted = needle.iter();
    let mut next = wanted.next();
    let mut end = None;
    for (at, c) in haystack.char_indices() {
        if next == Some(&read(c)) {
            next = wanted.next();
            if next.is_none() {
                end = Some(at + c.len_utf8());
                break;
            }
        }
    }
    let end = end?;
    // Back: the latest start for that end, which makes the match as tight as it gets.
    let mut wanted = needle.iter().rev();
    let mut next = wanted.next();
    let mut start = 0;
    for (at, c) in haystack[..end].char_indices().rev() {
        if next == Some(&read(c)) {
            next = wanted.next();
            if next.is_none() {
                start = at;
                break;
            }
        }
    }
    // Score the letters between, found left to right.
    let mut before = haystack[..start]
        .chars()
        .next_back()
        .map_or(Class::Space, class);
    let mut wanted = needle.iter().peekable();
    let (mut total, mut run_bonus, mut in_run, mut first) = (0, 0, false, true);
    for c in haystack[start..end].chars() {
        let now = class(c);
        if wanted.next_if(|&&w| w == read(c)).is_some() {
            let mut gained = bonus(before, now);
            if in_run {
                run_bonus = run_bonus.max(gained);
                gained = run_bonus.max(CONSECUTIVE);
            } else {
                run_bonus = gained;
            }
            if first {
                gained *= 2;
                first = false;
            }
            total += MATCH + gained;
            in_run = true;
        } else {
            total -= if in_run { GAP_START } else { GAP_EXTENSION };
            in_run = false;
        }
        before = now;
    }
    Some(u32::try_from(total.max(1)).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    fn of(haystack: &str, needle: &str) -> Option<u32> {
        score(haystack, &chars(needle), true)
    }

    #[test]
    fn finds_letters_in_order_however_far_apart() {
        assert!(of("get_weather", "gtwthr").is_some());
        assert!(of("read me", "rdme").is_some());
        assert!(of("get_weather", "wg").is_none());
        assert!(of("get_weather", "gtwthrx").is_none());
        assert!(of("", "a").is_none());
        assert!(of("abc", "").is_none());
    }

    #[test]
    fn ranks_word_starts_and_letters_side_by_side_higher() {
        // Word starts beat letters inside words.
        assert!(of("open bugs", "ob") > of("cobweb", "ob"));
        // Letters side by side beat the same letters spread out.
        assert!(of("a_weather", "eat") > of("a_wexaxt", "eat"));
        // A tight match beats a loose one: the back pass finds the latest start.
        assert!(of("xaaab", "ab") > of("xaxxb", "ab"));
        // Letters meeting digits count as a start.
        assert!(of("oauth2token", "2t") > of("oauth22token", "2t"));
    }

    #[test]
    fn reads_marks_as_plain_letters_only_when_asked() {
        let haystack = "crème brûlée";
        assert!(score(haystack, &chars("crmbrl"), true).is_some());
        assert!(score(haystack, &chars("brl"), false).is_some());
        assert!(score(haystack, &chars("bru"), false).is_none());
        assert!(score(haystack, &chars("bru"), true).is_some());
    }
}
