//! Settings → Models headless: a provider is checked before anything is kept, its key goes
//! to the keyring only, and the connectors and the models share the settings file without
//! writing over each other.

#[path = "support/registry.rs"]
mod support;

use std::sync::Arc;

use switchboard_core::models::providers::Providers;
use switchboard_core::settings::FileStore;
use switchboard_ipc::chat::{AddProviderRequest, ModelChoice, ProviderKind};
use switchboard_ipc::{AddConnectorRequest, ErrorCode, SecretInput};
use switchboard_testkit::{self as kit, ModelServer};

use support::MemorySecrets;

const KEY: &str = "sk-providers-test-0042";

fn providers(path: &std::path::Path, secrets: Arc<MemorySecrets>) -> Providers {
    let (store, _) = FileStore::open(path);
    Providers::load(Box::new(store), secrets).expect("loads")
}

fn request(server: &ModelServer, key: &str) -> AddProviderRequest {
    AddProviderRequest {
        kind: ProviderKind::Anthropic,
        name: String::new(),
        base_url: server.anthropic_url(),
        key: SecretInput(key.to_owned()),
    }
}

#[tokio::test]
async fn a_refused_key_keeps_nothing_and_an_accepted_one_only_in_the_keyring() {
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("settings.json");
    let server = ModelServer::with_key(KEY);
    server.models(&["model-a", "model-b"]);
    let secrets = Arc::new(MemorySecrets::default());
    let models = providers(&path, secrets.clone());

    let refused = models
        .add(request(&server, "sk-wrong"))
        .await
        .expect_err("a wrong key is refused");
    assert_eq!(refused.code, ErrorCode::CredentialsRejected);
    assert!(
        refused.message.contains("did not accept the API key"),
        "{}",
        refused.message
    );
    assert!(secrets.is_empty(), "no key kept");
    assert!(
        !path.exists()
            || !std::fs::read_to_string(&path)
                .expect("read")
                .contains("providers")
    );
    assert!(models.overview().providers.is_empty());

    let added = models.add(request(&server, KEY)).await.expect("added");
    assert_eq!(added.name, "Anthropic");
    assert!(added.has_key);
    let ids: Vec<&str> = added.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["model-a", "model-b"]);
    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(saved.contains(&added.id) && !saved.contains(KEY), "{saved}");
    assert!(!secrets.is_empty(), "the key is in the keyring");
    // The first model becomes the default, and a restart reads it all back.
    let again = providers(&path, secrets.clone());
    assert_eq!(
        again.overview().default,
        Some(ModelChoice {
            provider_id: added.id.clone(),
            model: "model-a".into()
        })
    );
    // The adapter from the saved provider uses the key from the keyring.
    let listed = again
        .model(&added.id)
        .await
        .expect("an adapter")
        .list_models()
        .await
        .expect("the key works");
    assert_eq!(listed.len(), 2);

    again.remove(&added.id).await.expect("removed");
    assert!(secrets.is_empty(), "the key went with the provider");
    assert_eq!(again.overview().default, None);
}

#[tokio::test]
async fn connectors_and_models_share_the_settings_file() {
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("settings.json");
    let server = ModelServer::with_key(KEY);
    server.models(&["model-a"]);
    let mcp = kit::Everything::start();
    let secrets = Arc::new(MemorySecrets::default());
    let connectors = support::open_with(&path, secrets.clone());
    let models = providers(&path, secrets.clone());

    let provider = models.add(request(&server, KEY)).await.expect("added");
    // The connectors loaded the file before the provider was added; their save must not
    // write that old copy back.
    connectors
        .add(AddConnectorRequest {
            url: mcp.url().to_owned(),
            name: None,
            sign_in: Default::default(),
        })
        .await
        .expect("a connector");
    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(
        saved.contains(&provider.id),
        "the provider survived: {saved}"
    );
    assert!(saved.contains(mcp.url()), "the connector is saved: {saved}");
    let reread = providers(&path, secrets);
    assert_eq!(reread.overview().providers.len(), 1);
}

#[test]
fn the_attachment_limit_is_checked_saved_and_used() {
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("settings.json");
    let secrets = Arc::new(MemorySecrets::default());
    let models = providers(&path, secrets.clone());
    assert_eq!(models.overview().attachment_limit_kb, 200);
    assert_eq!(models.attachment_bound(), 200 * 1024);

    for wrong in [0, 10_241, u32::MAX] {
        let err = models
            .set_attachment_limit(wrong)
            .expect_err("out of range");
        assert_eq!(err.code, ErrorCode::InvalidSetting);
        assert_eq!(
            err.message,
            "Choose between 1 and 10,240 KB of text per attachment."
        );
    }
    assert!(!path.exists(), "nothing saved for a refused value");

    let overview = models.set_attachment_limit(1).expect("1 KB");
    assert_eq!(overview.attachment_limit_kb, 1);
    assert_eq!(models.attachment_bound(), 1024);
    let reread = providers(&path, secrets.clone());
    assert_eq!(
        reread.overview().attachment_limit_kb,
        1,
        "kept across a restart"
    );

    // What the chip says is the limit in force.
    let text = "x".repeat(3000);
    let read = rmcp::model::ReadResourceResult::new(vec![
        rmcp::model::ResourceContents::TextResourceContents {
            uri: "file:///long".into(),
            mime_type: Some("text/plain".into()),
            text,
            meta: None,
        },
    ]);
    let attachment = switchboard_core::chat::attachments::resource(
        switchboard_core::chat::attachments::Source {
            kind: switchboard_ipc::chat::AttachmentKind::Resource,
            connector_id: "c",
            connector_name: "C",
            name: "long",
        },
        "file:///long",
        read,
        reread.attachment_bound(),
    );
    assert!(attachment.truncated);
    assert_eq!(
        attachment.note.as_deref(),
        Some("Cut to the first 1 KB: the model sees only that part.")
    );

    reread
        .set_attachment_limit(200)
        .expect("back to the default");
    assert_eq!(
        providers(&path, secrets).overview().attachment_limit_kb,
        200
    );
}
