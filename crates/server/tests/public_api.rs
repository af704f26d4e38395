//! The crate's public API, listed in `public-api.txt`: widening or narrowing it shows in review.

#[test]
fn public_api() {
    toolbridge_test_support::check_public_api(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
}
