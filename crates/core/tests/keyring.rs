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
    let store = Keyring;
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
