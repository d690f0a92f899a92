//! Benchmarks (run by `cargo xtask bench`): numbers printed next to a baseline measured in
//! the same run. Nothing here asserts a time.

#[test]
fn placeholder_until_the_benchmarks_land() {}
