//! A server asking the person for input (elicitation), headless against the reference
//! server: declared only when the connector allows it, a form checked before it is sent, a
//! page opened only on Accept, and the person's time not counted against the call.

#[path = "support/registry.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use support::{MemorySecrets, RecordingBrowser, add, open_with_browser, settled, until};
use switchboard_core::{Connectors, Event};
use switchboard_ipc::ask::{Answer, Input, Question, QuestionEvent, QuestionKind};
use switchboard_ipc::{ConnectorId, ConnectorState};
use switchboard_testkit as kit;
use tokio::sync::broadcast;

const FORM_TOOL: &str = "trigger-elicitation-request";
const PAGE_TOOL: &str = "trigger-url-elicitation";

fn tool_names(connectors: &Connectors, id: &ConnectorId) -> Vec<String> {
    connectors
        .detail(id)
        .expect("detail")
        .catalog
        .map(|c| c.tools.into_iter().map(|t| t.name).collect())
        .unwrap_or_default()
}

/// The next question the window would be shown.
async fn asked(events: &mut broadcast::Receiver<Event>) -> Question {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Ok(Event::Question(QuestionEvent::Asked(question)))) => return question,
            Ok(Ok(_)) => {}
            other => panic!("no question: {other:?}"),
        }
    }
}

/// Waits for the window to be told question `id` is closed.
async fn closed(events: &mut broadcast::Receiver<Event>, id: &str) {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Ok(Event::Question(QuestionEvent::Closed { id: closed }))) if closed == id => {
                return;
            }
            Ok(Ok(_)) => {}
            other => panic!("question {id} not closed: {other:?}"),
        }
    }
}

fn text_of(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_asks_only_when_allowed_and_every_answer_is_checked_before_it_goes_back() {
    let everything = kit::Everything::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let browser = Arc::new(RecordingBrowser::default());
    let connectors = open_with_browser(
        &dir.path().join("settings.json"),
        Arc::new(MemorySecrets::default()),
        browser.clone(),
    );
    let mut events = connectors.subscribe();
    let added = add(&connectors, everything.url(), None).await;
    assert_eq!(
        settled(&connectors, &added.id).await.state,
        ConnectorState::Connected
    );
    // Off by default: the server is not told Switchboard could ask, so it offers no such tool.
    let tools = tool_names(&connectors, &added.id);
    assert!(!tools.iter().any(|t| t == FORM_TOOL), "{tools:?}");
    let settings = connectors.detail(&added.id).expect("detail").tools.settings;
    assert!(!settings.allow_elicitation);

    // Allowed, with a call timeout of one second: the connector connects again and declares it.
    connectors
        .set_tool_options(&added.id, 1, true, false)
        .expect("allowed");
    until(
        &connectors,
        &added.id,
        "connected again, declaring elicitation",
        |s| {
            s.state == ConnectorState::Connected
                && s.counts
                    .is_some_and(|c| c.tools as usize > kit::EVERYTHING_TOOLS)
        },
    )
    .await;
    let tools = tool_names(&connectors, &added.id);
    assert!(
        tools.iter().any(|t| t == FORM_TOOL) && tools.iter().any(|t| t == PAGE_TOOL),
        "{tools:?}"
    );

    // A form: the server's fields in its order, labels, required marks and defaults.
    let session = connectors.session(&added.id).expect("session");
    let call = {
        let session = session.clone();
        tokio::spawn(async move {
            session
                .call_tool_within(FORM_TOOL, Map::new(), Duration::from_secs(1), |_| {})
                .await
        })
    };
    let question = asked(&mut events).await;
    assert_eq!(question.connector_id, added.id);
    assert_eq!(question.connector_name, kit::EVERYTHING_SERVER_TITLE);
    assert_eq!(
        question.message,
        "Please provide inputs for the following fields:"
    );
    let QuestionKind::Form { fields } = &question.kind else {
        panic!("{question:?}");
    };
    let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        &names[..4],
        ["name", "check", "firstLine", "email"],
        "{names:?}"
    );
    assert!(fields[0].required && !fields[1].required);
    assert_eq!(fields[0].label, "String");
    assert!(matches!(
        &fields[2].input,
        Input::Text { default: Some(d), .. } if d == "It was a dark and stormy night."
    ));
    assert_eq!(connectors.waiting_questions(), vec![question.clone()]);

    // The person takes longer than the call's one-second timeout: their time is theirs.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answer = |content: Value| Answer::Accept {
        content: content.as_object().cloned().expect("an object"),
    };
    let wrong = connectors
        .answer_question(
            &question.id,
            answer(json!({"name": "Ada", "email": "ada at home"})),
        )
        .expect_err("not an e-mail address");
    assert_eq!(
        wrong.message,
        "“String with email format” is not an e-mail address."
    );
    let missing = connectors
        .answer_question(&question.id, answer(json!({"check": true})))
        .expect_err("the name is required");
    assert_eq!(missing.message, "“String” is required.");
    assert_eq!(
        connectors.waiting_questions().len(),
        1,
        "still open after wrong answers"
    );
    connectors
        .answer_question(
            &question.id,
            answer(json!({"name": "Ada Lovelace", "check": true, "email": "ada@example.com", "integer": 7})),
        )
        .expect("a right answer");
    closed(&mut events, &question.id).await;
    let result = call.await.expect("joined").expect("the call ends well");
    let text = text_of(&result);
    for line in [
        "- Name: Ada Lovelace",
        "- Agreed to terms: true",
        "- Email: ada@example.com",
        "- Favorite Integer: 7",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert!(connectors.waiting_questions().is_empty());
    assert!(
        connectors
            .answer_question(&question.id, Answer::Decline)
            .is_err(),
        "an answered question cannot be answered again"
    );

    // Declined: the server hears so.
    let call = {
        let session = session.clone();
        tokio::spawn(async move {
            session
                .call_tool_within(FORM_TOOL, Map::new(), Duration::from_secs(30), |_| {})
                .await
        })
    };
    let question = asked(&mut events).await;
    connectors
        .answer_question(&question.id, Answer::Decline)
        .expect("declined");
    let text = text_of(&call.await.expect("joined").expect("the call ends"));
    assert!(text.contains("declined"), "{text}");

    // A page: shown with its host, opened only on Accept.
    let page = "https://pay.example.com/checkout?order=42";
    let arguments = json!({"url": page, "message": "Finish paying on the shop's page."});
    let call = {
        let session = session.clone();
        let arguments = arguments.as_object().cloned().expect("object");
        tokio::spawn(async move {
            session
                .call_tool_within(PAGE_TOOL, arguments, Duration::from_secs(30), |_| {})
                .await
        })
    };
    let question = asked(&mut events).await;
    assert_eq!(
        question.kind,
        QuestionKind::Page {
            url: page.to_owned(),
            host: "pay.example.com".to_owned()
        }
    );
    assert_eq!(question.message, "Finish paying on the shop's page.");
    assert!(
        browser.opened().is_empty(),
        "nothing opened before the person says so"
    );
    connectors
        .answer_question(
            &question.id,
            Answer::Accept {
                content: Map::new(),
            },
        )
        .expect("accepted");
    call.await.expect("joined").expect("the call ends");
    assert_eq!(browser.opened(), vec![page.to_owned()]);

    // A page that is no web page is never shown: the server is told it was unusable.
    let arguments = json!({"url": "file:///etc/passwd"});
    let result = session
        .call_tool_within(
            PAGE_TOOL,
            arguments.as_object().cloned().expect("object"),
            Duration::from_secs(30),
            |_| {},
        )
        .await;
    assert!(connectors.waiting_questions().is_empty());
    assert_eq!(browser.opened().len(), 1, "{result:?}");

    // Switched off again: not declared any more, the tools go away.
    connectors
        .set_tool_options(&added.id, 30, false, false)
        .expect("switched off");
    until(
        &connectors,
        &added.id,
        "connected again without elicitation",
        |s| {
            s.state == ConnectorState::Connected
                && s.counts
                    .is_some_and(|c| c.tools as usize == kit::EVERYTHING_TOOLS)
        },
    )
    .await;
}

/// A model that answers every request with the same words, and remembers what it read.
#[derive(Default)]
struct TestSampler {
    read: std::sync::Mutex<Vec<switchboard_core::ask::SamplingRequest>>,
    over_limit: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl switchboard_core::ask::Sampler for TestSampler {
    fn model(&self, _: &ConnectorId) -> Option<String> {
        Some("Test models · tiny".to_owned())
    }

    fn allowed(&self, _: &ConnectorId) -> switchboard_core::Result<()> {
        if self.over_limit.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(switchboard_core::Error::new(
                switchboard_core::ErrorCode::InvalidSetting,
                "This connector has reached its limit of 1 uses today.",
            ));
        }
        Ok(())
    }

    async fn sample(
        &self,
        _: &ConnectorId,
        _: &str,
        request: switchboard_core::ask::SamplingRequest,
    ) -> switchboard_core::Result<switchboard_core::ask::SamplingReply> {
        self.read.lock().expect("read").push(request);
        Ok(switchboard_core::ask::SamplingReply {
            text: "Autumn moonlight, a worm digs silently.".to_owned(),
            model: "tiny".to_owned(),
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_has_the_persons_model_write_only_when_allowed_and_approved() {
    const SAMPLING_TOOL: &str = "trigger-sampling-request";
    let everything = kit::Everything::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open_with_browser(
        &dir.path().join("settings.json"),
        Arc::new(MemorySecrets::default()),
        Arc::new(RecordingBrowser::default()),
    );
    let sampler = Arc::new(TestSampler::default());
    connectors.set_sampler(sampler.clone());
    let mut events = connectors.subscribe();
    let added = add(&connectors, everything.url(), None).await;
    assert_eq!(
        settled(&connectors, &added.id).await.state,
        ConnectorState::Connected
    );
    assert!(
        !tool_names(&connectors, &added.id)
            .iter()
            .any(|t| t == SAMPLING_TOOL)
    );

    connectors
        .set_tool_options(&added.id, 30, false, true)
        .expect("allowed");
    until(
        &connectors,
        &added.id,
        "connected again, declaring sampling",
        |s| {
            s.state == ConnectorState::Connected
                && s.counts
                    .is_some_and(|c| c.tools as usize > kit::EVERYTHING_TOOLS)
        },
    )
    .await;
    let tools = tool_names(&connectors, &added.id);
    assert!(tools.iter().any(|t| t == SAMPLING_TOOL), "{tools:?}");
    assert!(
        !tools.iter().any(|t| t == FORM_TOOL),
        "forms were not allowed: {tools:?}"
    );

    let session = connectors.session(&added.id).expect("session");
    let call = |session: Arc<switchboard_core::Session>| {
        tokio::spawn(async move {
            let arguments = json!({"prompt": "Write a haiku", "maxTokens": 50});
            session
                .call_tool_within(
                    SAMPLING_TOOL,
                    arguments.as_object().cloned().expect("object"),
                    Duration::from_secs(30),
                    |_| {},
                )
                .await
        })
    };
    // Shown first: the model that would answer, the server's instructions and its words.
    let running = call(session.clone());
    let question = asked(&mut events).await;
    assert_eq!(question.connector_name, kit::EVERYTHING_SERVER_TITLE);
    let QuestionKind::Sampling {
        model,
        system,
        messages,
        max_tokens,
    } = &question.kind
    else {
        panic!("{question:?}");
    };
    assert_eq!(model, "Test models · tiny");
    assert_eq!(system.as_deref(), Some("You are a helpful test server."));
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].role, "user");
    assert!(messages[0].text.ends_with("Write a haiku"), "{messages:?}");
    assert_eq!(*max_tokens, 50);
    assert!(
        sampler.read.lock().expect("read").is_empty(),
        "nothing sent before the person says so"
    );
    connectors
        .answer_question(
            &question.id,
            Answer::Accept {
                content: Map::new(),
            },
        )
        .expect("approved");
    let text = text_of(&running.await.expect("joined").expect("the call ends"));
    assert!(
        text.contains("Autumn moonlight, a worm digs silently."),
        "{text}"
    );
    assert_eq!(sampler.read.lock().expect("read").len(), 1);

    // Declined: the model is not asked; the server hears the person said no.
    let running = call(session.clone());
    let question = asked(&mut events).await;
    connectors
        .answer_question(&question.id, Answer::Decline)
        .expect("declined");
    let declined = running.await.expect("joined");
    let said = match &declined {
        Ok(result) => text_of(result),
        Err(err) => err.message.clone(),
    };
    assert!(said.contains("declined"), "{said}");
    assert_eq!(sampler.read.lock().expect("read").len(), 1);

    // Over the connector's limit: refused before the person is even asked.
    sampler
        .over_limit
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let refused = call(session.clone()).await.expect("joined");
    let said = match &refused {
        Ok(result) => text_of(result),
        Err(err) => err.message.clone(),
    };
    assert!(said.contains("limit"), "{said}");
    assert!(connectors.waiting_questions().is_empty());
    assert_eq!(sampler.read.lock().expect("read").len(), 1);
}
