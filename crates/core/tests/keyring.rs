//! The real OS keyring: gnome-keyring's Secret Service in a private D-Bus session.
//! `cargo xtask test` runs this inside `dbus-run-session` with an unlocked keyring
//! (see `xtask/src/main.rs`); plain `cargo test` does not run it.

use std::process::Command;

use switchboard_core::secrets::{
    KEYRING_SERVICE, Keyring, Secret, SecretKind, SecretStore, account,
};
use switchboard_ipc::ConnectorId;

/// What `secret-tool` (libsecret, a second, independent client) finds for an account.
fn lookup(account: &str) -> Option<String> {
    let output = Command::new("secret-tool")
        .args(["lookup", "service", KEYRING_SERVICE, "username", account])
        .output()
        .expect("secret-tool (apt-get install libsecret-tools)");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn secrets_round_trip_through_the_real_keyring_and_nowhere_else() {
    let store = Keyring::default();
    let id = ConnectorId(format!("test{}", std::process::id()));
    let secret = Secret::new("refresh-token-6f1c2b");

    assert_eq!(
        store.read(&id, SecretKind::OAuthTokens).expect("read"),
        None
    );
    store
        .write(&id, SecretKind::OAuthTokens, &secret)
        .expect("write");
    assert_eq!(
        store.read(&id, SecretKind::OAuthTokens).expect("read"),
        Some(secret.clone())
    );
    // Another kind of the same connector is a separate entry.
    assert_eq!(store.read(&id, SecretKind::ApiKey).expect("read"), None);

    // The keyring itself holds it, as seen by libsecret's own tool.
    let account = account(&id, SecretKind::OAuthTokens);
    assert_eq!(lookup(&account).as_deref(), Some(secret.expose()));

    store.delete(&id, SecretKind::OAuthTokens).expect("delete");
    assert_eq!(
        store.read(&id, SecretKind::OAuthTokens).expect("read"),
        None
    );
    assert_eq!(lookup(&account), None, "gone from the keyring");
    store
        .delete(&id, SecretKind::OAuthTokens)
        .expect("deleting twice is fine");
}

#[tokio::test]
async fn oauth_tokens_are_kept_in_the_keyring_for_rmcp() {
    use rmcp::transport::{CredentialStore, StoredCredentials};
    use switchboard_core::secrets::KeyringCredentials;

    let id = ConnectorId(format!("tokens{}", std::process::id()));
    let credentials = KeyringCredentials::new(id.clone(), std::sync::Arc::new(Keyring::default()));
    assert!(credentials.load().await.expect("load").is_none());

    let token: rmcp::transport::auth::OAuthTokenResponse =
        serde_json::from_value(serde_json::json!({
            "access_token": "at-7c1d",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": "rt-93ab"
        }))
        .expect("token response");
    let saved = StoredCredentials::new(
        "client-1".to_owned(),
        Some(token),
        vec!["read".to_owned()],
        Some(1_700_000_000),
    );
    credentials.save(saved).await.expect("save");

    let loaded = credentials.load().await.expect("load").expect("saved");
    assert_eq!(loaded.client_id, "client-1");
    assert_eq!(
        loaded.token_received_at,
        Some(1_700_000_000),
        "refresh needs it"
    );
    let stored = lookup(&account(&id, SecretKind::OAuthTokens)).expect("in the keyring");
    assert!(stored.contains("rt-93ab") && stored.contains("3600"));

    credentials.clear().await.expect("clear");
    assert!(credentials.load().await.expect("load").is_none());
    assert_eq!(lookup(&account(&id, SecretKind::OAuthTokens)), None);
}

/// Windows caps an entry at 2,560 bytes; a keyring with a small limit splits the same way
/// there as this one does here.
#[test]
fn a_secret_over_the_limit_is_split_and_put_back_together() {
    let store = Keyring::with_limit(64);
    let id = ConnectorId(format!("split{}", std::process::id()));
    let long = Secret::new(format!("{{\"access_token\":\"{}\"}}", "x7".repeat(150)));
    store
        .write(&id, SecretKind::OAuthTokens, &long)
        .expect("write");
    assert_eq!(
        store.read(&id, SecretKind::OAuthTokens).expect("read"),
        Some(long.clone())
    );
    let account = account(&id, SecretKind::OAuthTokens);
    let first = lookup(&format!("{account}#1")).expect("a first piece");
    assert!(first.len() <= 64 && long.expose().starts_with(&first));
    assert!(
        lookup(&format!("{account}#5")).is_some(),
        "321 bytes in 6 pieces"
    );

    // Something shorter replaces it whole, and the old pieces go.
    let short = Secret::new("short");
    store
        .write(&id, SecretKind::OAuthTokens, &short)
        .expect("write");
    assert_eq!(
        store.read(&id, SecretKind::OAuthTokens).expect("read"),
        Some(short)
    );
    assert_eq!(
        lookup(&format!("{account}#1")),
        None,
        "stale pieces removed"
    );

    store
        .write(&id, SecretKind::OAuthTokens, &long)
        .expect("write");
    store.delete(&id, SecretKind::OAuthTokens).expect("delete");
    assert_eq!(lookup(&account), None);
    assert_eq!(lookup(&format!("{account}#1")), None, "pieces deleted too");
}
