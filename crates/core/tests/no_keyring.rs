//! Without any keyring, sign-in secrets are refused with a plain sentence naming what to
//! install — never kept anywhere else. `cargo xtask test` runs this with no session bus.

use switchboard_core::ErrorCode;
use switchboard_core::secrets::{Keyring, Secret, SecretKind, SecretStore};
use switchboard_ipc::ConnectorId;

#[test]
fn no_keyring_means_a_clear_refusal() {
    let id = ConnectorId("no-keyring".into());
    let err = Keyring::default()
        .write(&id, SecretKind::ApiKey, &Secret::new("sk-test-0000"))
        .expect_err("no keyring here");
    assert_eq!(err.code, ErrorCode::KeyringUnavailable);
    assert!(
        err.message
            .contains("Install and unlock a keyring such as GNOME Keyring or KWallet"),
        "says what to install: {}",
        err.message
    );
    assert!(
        !format!("{err:?}").contains("sk-test-0000"),
        "the secret is not in the error"
    );
    assert_eq!(
        Keyring::default()
            .read(&id, SecretKind::ApiKey)
            .expect_err("no keyring")
            .code,
        ErrorCode::KeyringUnavailable
    );
}
