//! The paperclip menu's reads against the real PyPI `mcp` server: a resource, a filled-in
//! template, a prompt with arguments, and the completions offered while typing.

use rmcp::model::Reference;
use switchboard_core::chat::attachments::{self, Source};
use switchboard_core::chat::{AttachmentContent, AttachmentKind, Part, Role};
use switchboard_core::{Session, Timeouts};
use switchboard_testkit as kit;

fn source(kind: AttachmentKind, name: &str) -> Source<'_> {
    Source {
        kind,
        connector_id: "c1",
        connector_name: kit::PYTHON_SERVER_NAME,
        name,
    }
}

#[tokio::test]
async fn resources_templates_and_prompts_become_attachments() {
    let server = kit::PythonMcp::start();
    let session = Session::connect(server.url(), Timeouts::default())
        .await
        .expect("connected");

    let read = session
        .read_resource("fixture://readme")
        .await
        .expect("read");
    let readme = attachments::resource(
        source(AttachmentKind::Resource, "readme"),
        "fixture://readme",
        read,
        attachments::TEXT_BOUND,
    );
    let AttachmentContent::Parts { parts } = &readme.content else {
        panic!("a resource has parts");
    };
    assert!(
        matches!(&parts[..], [Part::Resource { text, mime_type, .. }]
        if text.starts_with("# Python Fixture") && mime_type.as_deref() == Some("text/markdown"))
    );
    assert_eq!(
        readme.size,
        "# Python Fixture\n\nA test server for Switchboard.\n".len() as u64
    );

    let read = session
        .read_resource("fixture://greeting/Ann")
        .await
        .expect("read the template");
    let greeting = attachments::resource(
        source(AttachmentKind::Template, "greeting"),
        "fixture://greeting/Ann",
        read,
        attachments::TEXT_BOUND,
    );
    assert!(
        matches!(&greeting.content, AttachmentContent::Parts { parts }
        if matches!(&parts[..], [Part::Resource { text, .. }] if text == "Hello, Ann!"))
    );

    let mut arguments = serde_json::Map::new();
    arguments.insert("code".into(), "fn main() {}".into());
    arguments.insert("language".into(), "python".into());
    let got = session
        .get_prompt("review_code", arguments)
        .await
        .expect("the prompt");
    let prompt = attachments::prompt(
        source(AttachmentKind::Prompt, "review_code"),
        got,
        attachments::TEXT_BOUND,
    );
    let AttachmentContent::Messages { messages } = &prompt.content else {
        panic!("a prompt has messages");
    };
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].role, Role::User);
    assert_eq!(
        messages[0].text(),
        "Please review this python code:\n\nfn main() {}"
    );
}

#[tokio::test]
async fn completions_follow_what_is_typed() {
    let server = kit::PythonMcp::start();
    let session = Session::connect(server.url(), Timeouts::default())
        .await
        .expect("connected");
    let languages = session
        .complete(
            Reference::for_prompt("review_code"),
            "language",
            "py",
            Default::default(),
        )
        .await
        .expect("completions");
    assert_eq!(languages, ["python"]);
    let all = session
        .complete(
            Reference::for_prompt("review_code"),
            "language",
            "",
            Default::default(),
        )
        .await
        .expect("completions");
    assert_eq!(all, kit::PYTHON_LANGUAGES);
    let names = session
        .complete(
            Reference::for_resource("fixture://greeting/{name}"),
            "name",
            "a",
            Default::default(),
        )
        .await
        .expect("completions");
    assert_eq!(names, ["Ann", "Ada"]);
}
