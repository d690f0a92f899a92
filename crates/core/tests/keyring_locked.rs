//! A locked keyring, with no way to ask the person to unlock it (no prompt can be shown):
//! secrets are refused in words, and nothing lands anywhere else — not in the settings, not
//! in an error. `cargo xtask test` runs this in a private D-Bus session whose gnome-keyring
//! the test locks first, with no display.

#[path = "support/registry.rs"]
mod support;

use std::process::Command;
use std::sync::Arc;

use switchboard_core::secrets::{Keyring, Secret, SecretKind, SecretStore};
use switchboard_core::settings::FileStore;
use switchboard_core::{Connectors, ErrorCode};
use switchboard_ipc::{AddConnectorRequest, ConnectorId, SecretInput, SignInChoice};
use switchboard_testkit as kit;

/// A method of the session's Secret Service, called with `gdbus`; what it printed.
fn secret_service(method: &str, argument: &str) -> String {
    let out = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            "/org/freedesktop/secrets",
            "--method",
            &format!("org.freedesktop.Secret.Service.{method}"),
            argument,
        ])
        .output()
        .expect("gdbus runs");
    assert!(
        out.status.success(),
        "{method}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Locks the keyring's default collection, as the system does at screen lock or logout.
fn lock_the_keyring() {
    let default = secret_service("ReadAlias", "default");
    let path = default
        .split('\'')
        .nth(1)
        .filter(|p| p.starts_with("/org/freedesktop/secrets/collection/"))
        .unwrap_or("/org/freedesktop/secrets/collection/login")
        .to_owned();
    secret_service("Lock", &format!("[objectpath '{path}']"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_keyring_refuses_secrets_in_words_and_nothing_lands_in_plaintext() {
    const KEY: &str = "sk-locked-7f3a9c";
    let id = ConnectorId("locked".into());
    // Unlocked, it works: the test's keyring is real.
    Keyring::default()
        .write(&id, SecretKind::ApiKey, &Secret::new("before-the-lock"))
        .expect("an unlocked keyring keeps a secret");
    lock_the_keyring();

    let err = Keyring::default()
        .write(&id, SecretKind::ApiKey, &Secret::new(KEY))
        .expect_err("a locked keyring keeps nothing");
    assert_eq!(err.code, ErrorCode::KeyringUnavailable, "{err:?}");
    assert_eq!(
        err.message,
        "Your system keyring is locked, so Switchboard kept nothing. Unlock it when your system asks (or sign in to your computer again), then try again."
    );
    assert!(
        !format!("{err:?}").contains(KEY),
        "the secret is not in the error"
    );

    // Adding a connector with a key: refused in words, nothing saved, the key nowhere.
    let server = kit::Everything::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let connectors = Connectors::load(
        Box::new(FileStore::open(&path).0),
        Arc::new(Keyring::default()),
        Arc::new(support::NoBrowser),
        support::timeouts(),
        tokio::runtime::Handle::current(),
    )
    .expect("loads");
    let refused = connectors
        .add(AddConnectorRequest {
            url: server.url().to_owned(),
            name: None,
            sign_in: SignInChoice::ApiKey {
                header: None,
                key: SecretInput(KEY.to_owned()),
            },
        })
        .await
        .expect_err("no keyring to keep the key");
    assert_eq!(refused.code, ErrorCode::KeyringUnavailable, "{refused:?}");
    assert!(
        refused.message.starts_with("Your system keyring is locked"),
        "{refused:?}"
    );
    assert!(!format!("{refused:?}").contains(KEY));
    assert!(connectors.list().is_empty(), "nothing half-added");
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{} holds the key",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
