//! Sorting, through one copy of the standard library's sort, and text folded for comparing.
//!
//! Each `sort_by` or `sort_by_cached_key` on another element type or comparator is another
//! copy of the standard library's sort in the wasm, 2 to 8 KB each: the window's seven sort
//! sites made 38 KB of it. So the window sorts positions instead, with one comparator type
//! (behind a `dyn`), and then moves its items into that order. The lists sorted this way are
//! short or sorted once (connectors, conversations, a catalog's entries when the menu opens);
//! the menu's per-keystroke ranking keeps its own sort.

use std::cmp::Ordering;

use crate::letters;

/// `text` with its letters' case folded, for sorting and searching: simple Unicode case
/// folding, one character for one ([`letters::fold`]). `str::to_lowercase` would bring the
/// standard library's own table (12 KB) into the wasm, and sometimes changes a text's
/// length.
pub fn fold_case(text: &str) -> String {
    text.chars().map(letters::fold).collect()
}

/// Sorts `items` by `compare`, stably.
pub fn sort_by<T>(items: &mut Vec<T>, compare: impl Fn(&T, &T) -> Ordering) {
    let order = order(items.len(), &|a, b| compare(&items[a], &items[b]));
    reorder(items, &order);
}

/// Sorts `items` by the key `key` gives each, computed once per item, stably.
pub fn sort_by_cached_key<T, K: Ord>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let keys: Vec<K> = items.iter().map(key).collect();
    let order = order(keys.len(), &|a, b| keys[a].cmp(&keys[b]));
    reorder(items, &order);
}

/// The positions `0..len` in the order `compare` puts them: the window's one sort.
fn order(len: usize, compare: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| compare(a, b));
    order
}

/// Moves `items` into `order`, a permutation of their positions.
fn reorder<T>(items: &mut Vec<T>, order: &[usize]) {
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(order.iter().filter_map(|&i| slots[i].take()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably_by_a_comparator_and_by_a_cached_key() {
        let mut pairs = vec![(2, 'a'), (1, 'b'), (2, 'c'), (0, 'd'), (1, 'e')];
        sort_by(&mut pairs, |a, b| a.0.cmp(&b.0));
        assert_eq!(pairs, [(0, 'd'), (1, 'b'), (1, 'e'), (2, 'a'), (2, 'c')]);

        let mut words = vec![
            "pear".to_owned(),
            "Fig".into(),
            "apple".into(),
            "fig".into(),
        ];
        sort_by_cached_key(&mut words, |w| fold_case(w));
        assert_eq!(words, ["apple", "Fig", "fig", "pear"]);

        let mut none: Vec<u8> = Vec::new();
        sort_by(&mut none, u8::cmp);
        assert!(none.is_empty());
    }
}
