//! The conversation history on real files: what is saved reads back the same, after a
//! reopen, across migrations, from several threads and stores at once, and after the
//! writing process is killed mid-write.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;
use switchboard_core::chat::store::{ChatStore, SCHEMA_VERSION};
use switchboard_core::chat::{
    Attachment, AttachmentContent, AttachmentKind, Message, MessageStatus, ModelChoice, Part, Role,
};
use switchboard_core::{Error, ErrorCode};

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("history").join("chats.sqlite")
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

fn count(path: &Path, table: &str) -> i64 {
    raw(path)
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .expect("count")
}

fn choice(provider: &str, model: &str) -> ModelChoice {
    ModelChoice {
        provider_id: provider.into(),
        model: model.into(),
    }
}

fn say(store: &ChatStore, conversation: i64, text: &str) -> i64 {
    store
        .append(
            conversation,
            Role::User,
            &[Part::text(text)],
            &[],
            MessageStatus::Complete,
            None,
        )
        .expect("append")
        .id
}

fn texts(store: &ChatStore, conversation: i64) -> Vec<String> {
    store
        .messages(conversation)
        .expect("messages")
        .iter()
        .map(|m| {
            Message {
                role: m.role,
                parts: m.parts.clone(),
            }
            .text()
        })
        .collect()
}

fn every_part() -> Vec<Part> {
    vec![
        Part::text("Hello, ünïcode ✓ and \"quotes\"\n"),
        Part::Resource {
            uri: "file:///notes/a.md".into(),
            name: "a.md".into(),
            mime_type: Some("text/markdown".into()),
            text: "# Notes".into(),
        },
        Part::Resource {
            uri: "x://no-mime".into(),
            name: "no mime".into(),
            mime_type: None,
            text: String::new(),
        },
        Part::Image {
            media_type: "image/png".into(),
            data: "iVBORw0KGgo=".into(),
        },
        Part::ToolCall {
            id: "call_1".into(),
            name: "search".into(),
            arguments: json!({"q": "rust", "limit": 3, "deep": {"a": [1, null, true]}}),
            label: Some(switchboard_ipc::chat::ToolLabel {
                connector_id: "c1".into(),
                connector_name: "Search".into(),
                tool: "search".into(),
                title: Some("Search the web".into()),
            }),
        },
        Part::ToolResult {
            call_id: "call_1".into(),
            content: vec![
                Part::text("found"),
                Part::Image {
                    media_type: "image/jpeg".into(),
                    data: "/9j/".into(),
                },
            ],
            is_error: true,
        },
    ]
}

fn every_attachment() -> Vec<Attachment> {
    vec![
        Attachment {
            kind: AttachmentKind::Resource,
            connector_id: "c1".into(),
            connector_name: "Files".into(),
            name: "a.md".into(),
            uri: Some("file:///notes/a.md".into()),
            size: 7,
            truncated: false,
            note: None,
            content: AttachmentContent::Parts {
                parts: vec![Part::text("# Notes")],
            },
        },
        Attachment {
            kind: AttachmentKind::Template,
            connector_id: "c1".into(),
            connector_name: "Files".into(),
            name: "Issue 42".into(),
            uri: Some("issues://42".into()),
            size: 1_000_000,
            truncated: true,
            note: Some("Cut at 1 MB.".into()),
            content: AttachmentContent::Parts { parts: vec![] },
        },
        Attachment {
            kind: AttachmentKind::Prompt,
            connector_id: "c2".into(),
            connector_name: "Prompts".into(),
            name: "Review".into(),
            uri: None,
            size: 30,
            truncated: false,
            note: None,
            content: AttachmentContent::Messages {
                messages: vec![Message::user("Review this"), Message::assistant("Sure")],
            },
        },
    ]
}

#[test]
fn the_store_can_be_shared_between_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<ChatStore>();
}

#[test]
fn every_part_kind_and_attachment_reads_back_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ChatStore::open(&db_in(&dir)).expect("open");
    let conversation = store
        .create_conversation("  Everything  ", Some(&choice("anthropic", "claude-x")))
        .expect("create");
    assert_eq!(conversation.title, "Everything", "the title is trimmed");
    let sent = store
        .append(
            conversation.id,
            Role::User,
            &every_part(),
            &every_attachment(),
            MessageStatus::Failed,
            None,
        )
        .expect("append");
    let reply = store
        .append(
            conversation.id,
            Role::Assistant,
            &[Part::text("Half a rep")],
            &[],
            MessageStatus::Unfinished,
            Some("claude-x"),
        )
        .expect("append");
    let read = store.messages(conversation.id).expect("messages");
    assert_eq!(read, vec![sent.clone(), reply.clone()]);
    assert_eq!(read[0].parts, every_part());
    assert_eq!(read[0].attachments, every_attachment());
    assert_eq!(read[0].conversation_id, conversation.id);
    assert_eq!(read[1].model.as_deref(), Some("claude-x"));
    assert!(sent.id < reply.id);

    // And from the file, by a store that did not write it.
    drop(store);
    let store = ChatStore::open(&db_in(&dir)).expect("reopen");
    assert_eq!(
        store.messages(conversation.id).expect("messages"),
        vec![sent, reply]
    );
}

#[test]
fn conversations_are_listed_most_recently_active_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ChatStore::open(&db_in(&dir)).expect("open");
    let a = store.create_conversation("A", None).expect("a");
    let b = store.create_conversation("B", None).expect("b");
    let c = store.create_conversation("C", None).expect("c");
    let order = |store: &ChatStore| -> Vec<String> {
        store
            .conversations()
            .expect("list")
            .into_iter()
            .map(|c| c.title)
            .collect()
    };
    assert_eq!(order(&store), ["C", "B", "A"]);
    say(&store, a.id, "bump a");
    assert_eq!(order(&store), ["A", "C", "B"]);
    say(&store, b.id, "bump b");
    say(&store, a.id, "bump a again");
    assert_eq!(order(&store), ["A", "B", "C"]);
    // Renaming or switching the model does not move a conversation.
    store.rename(c.id, "C renamed").expect("rename");
    store
        .set_model(b.id, Some(&choice("p", "m")))
        .expect("set model");
    assert_eq!(order(&store), ["A", "B", "C renamed"]);

    // The one touched last is first, however quickly they follow each other (many within
    // one millisecond here).
    let ids = [a.id, b.id, c.id];
    let mut last = store.conversations().expect("list")[0].updated_at;
    for n in 0..60 {
        let id = ids[(n * 7) % 3];
        say(&store, id, &format!("quick {n}"));
        let first = &store.conversations().expect("list")[0];
        assert_eq!(first.id, id, "after message {n}");
        assert!(first.updated_at > last, "{} after {last}", first.updated_at);
        last = first.updated_at;
        if n % 20 == 0 {
            let new = store.create_conversation("New", None).expect("new");
            assert_eq!(store.conversations().expect("list")[0].id, new.id);
            store.delete(new.id).expect("delete");
        }
    }
    assert!(store.conversation(a.id).expect("a").created_at < last);
}

#[test]
fn rename_trims_and_refuses_an_empty_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ChatStore::open(&db_in(&dir)).expect("open");
    let conversation = store.create_conversation("Old", None).expect("create");
    store
        .rename(conversation.id, "  New name \n")
        .expect("rename");
    assert_eq!(
        store.conversation(conversation.id).expect("get").title,
        "New name"
    );
    for empty in ["", "   ", "\n\t"] {
        let err = store
            .rename(conversation.id, empty)
            .expect_err("an empty name is refused");
        assert_eq!(err.code, ErrorCode::Storage);
        assert_eq!(err.message, "A conversation needs a name.");
    }
    assert_eq!(
        store.conversation(conversation.id).expect("get").title,
        "New name"
    );
    store
        .create_conversation(" ", None)
        .expect_err("nor is an empty conversation created");
    assert_eq!(store.conversations().expect("list").len(), 1);

    let err = store
        .rename(conversation.id + 100, "x")
        .expect_err("unknown");
    assert_eq!(err.message, "This conversation no longer exists.");
}

#[test]
fn model_and_status_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ChatStore::open(&db_in(&dir)).expect("open");
    let conversation = store.create_conversation("Models", None).expect("create");
    assert_eq!(conversation.model, None);
    store
        .set_model(conversation.id, Some(&choice("openai", "gpt-y")))
        .expect("set");
    assert_eq!(
        store.conversation(conversation.id).expect("get").model,
        Some(choice("openai", "gpt-y"))
    );
    let id = say(&store, conversation.id, "hi");
    store
        .set_status(id, MessageStatus::Failed)
        .expect("set status");
    drop(store);

    let store = ChatStore::open(&db_in(&dir)).expect("reopen");
    assert_eq!(
        store.conversation(conversation.id).expect("get").model,
        Some(choice("openai", "gpt-y"))
    );
    assert_eq!(
        store.messages(conversation.id).expect("messages")[0].status,
        MessageStatus::Failed
    );
    store.set_model(conversation.id, None).expect("clear");
    assert_eq!(
        store.conversation(conversation.id).expect("get").model,
        None
    );
    assert_eq!(
        store
            .set_status(id + 100, MessageStatus::Complete)
            .expect_err("unknown message")
            .message,
        "This message no longer exists."
    );
    assert_eq!(
        store
            .set_model(conversation.id + 100, None)
            .expect_err("unknown conversation")
            .message,
        "This conversation no longer exists."
    );
}

#[test]
fn deleting_a_conversation_deletes_its_messages_and_attachments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_in(&dir);
    let store = ChatStore::open(&path).expect("open");
    let gone = store.create_conversation("Gone", None).expect("create");
    let kept = store.create_conversation("Kept", None).expect("create");
    for conversation in [gone.id, kept.id] {
        for _ in 0..3 {
            store
                .append(
                    conversation,
                    Role::User,
                    &every_part(),
                    &every_attachment(),
                    MessageStatus::Complete,
                    None,
                )
                .expect("append");
        }
    }
    assert_eq!(count(&path, "messages"), 6);
    assert_eq!(count(&path, "attachments"), 18);

    store.delete(gone.id).expect("delete");
    assert_eq!(count(&path, "conversations"), 1);
    assert_eq!(count(&path, "messages"), 3);
    assert_eq!(count(&path, "attachments"), 9);
    assert_eq!(store.messages(kept.id).expect("kept").len(), 3);
    let err = store.conversation(gone.id).expect_err("gone");
    assert_eq!(err.code, ErrorCode::Storage);
    assert_eq!(err.message, "This conversation no longer exists.");
    assert_eq!(
        store.messages(gone.id).expect_err("gone").message,
        "This conversation no longer exists."
    );
    store.delete(gone.id).expect("deleting it again is fine");

    // Ids are not reused, not even the latest one's: a stale window cannot reach a newer
    // conversation.
    let latest = store.create_conversation("Latest", None).expect("create");
    store.delete(latest.id).expect("delete");
    let newer = store.create_conversation("Newer", None).expect("create");
    assert!(newer.id > latest.id, "{} after {}", newer.id, latest.id);
}

#[test]
fn reopening_the_file_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_in(&dir);
    let (conversations, messages) = {
        let store = ChatStore::open(&path).expect("open");
        let a = store
            .create_conversation("A", Some(&choice("p", "m")))
            .expect("a");
        let b = store.create_conversation("B", None).expect("b");
        say(&store, a.id, "one");
        store
            .append(
                b.id,
                Role::Assistant,
                &every_part(),
                &every_attachment(),
                MessageStatus::Unfinished,
                Some("m"),
            )
            .expect("append");
        say(&store, a.id, "two");
        (
            store.conversations().expect("list"),
            [
                store.messages(a.id).expect("a"),
                store.messages(b.id).expect("b"),
            ],
        )
    };
    let store = ChatStore::open(&path).expect("reopen");
    assert_eq!(store.conversations().expect("list"), conversations);
    assert_eq!(store.messages(conversations[0].id).expect("a"), messages[0]);
    assert_eq!(store.messages(conversations[1].id).expect("b"), messages[1]);
}

#[test]
fn an_old_file_without_tables_is_migrated() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One written by SQLite at version 0, and an empty file (also a database to SQLite).
    let written = dir.path().join("written.sqlite");
    {
        let conn = raw(&written);
        conn.execute_batch("CREATE TABLE t (x); DROP TABLE t;")
            .expect("touch");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("version");
        assert_eq!(version, 0);
    }
    let empty = dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").expect("empty file");

    for path in [written, empty] {
        let store = ChatStore::open(&path).expect("migrated");
        let conversation = store.create_conversation("Works", None).expect("create");
        say(&store, conversation.id, "hello");
        drop(store);
        let conn = raw(&path);
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .expect("prepare")
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("names");
        tables.sort();
        assert_eq!(
            tables,
            ["attachments", "conversations", "messages", "tool_calls"]
        );
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        // Opening again migrates nothing and loses nothing.
        drop(conn);
        let store = ChatStore::open(&path).expect("reopen");
        assert_eq!(texts(&store, conversation.id), ["hello"]);
    }
}

#[test]
fn a_file_from_a_newer_switchboard_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chats.sqlite");
    {
        // As a newer Switchboard would leave it: WAL, its own tables, a higher version.
        let conn = raw(&path);
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.execute_batch("CREATE TABLE future (x TEXT); INSERT INTO future VALUES ('keep me');")
            .expect("future schema");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("version");
    }
    let before = std::fs::read(&path).expect("read");
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let files_before = names(dir.path());

    let err: Error = ChatStore::open(&path).expect_err("refused");
    assert_eq!(err.code, ErrorCode::Storage);
    assert!(
        err.message.contains("written by a newer Switchboard"),
        "{err:?}"
    );
    assert!(
        err.detail
            .as_deref()
            .is_some_and(|d| d.contains("chats.sqlite")),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "byte-identical"
    );
    assert_eq!(names(dir.path()), files_before, "no file added or removed");
}

#[test]
fn truncate_from_removes_that_message_and_every_later_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_in(&dir);
    let store = ChatStore::open(&path).expect("open");
    let conversation = store.create_conversation("Edit", None).expect("create");
    let other = store.create_conversation("Other", None).expect("create");
    let ids: Vec<i64> = (0..5)
        .map(|n| {
            let id = say(&store, conversation.id, &format!("m{n}"));
            say(&store, other.id, &format!("o{n}"));
            id
        })
        .collect();
    let last = store
        .append(
            conversation.id,
            Role::User,
            &[Part::text("m5")],
            &every_attachment(),
            MessageStatus::Complete,
            None,
        )
        .expect("with attachments")
        .id;

    store
        .truncate_from(conversation.id, ids[2])
        .expect("truncate");
    assert_eq!(texts(&store, conversation.id), ["m0", "m1"]);
    assert_eq!(
        texts(&store, other.id),
        ["o0", "o1", "o2", "o3", "o4"],
        "the other conversation is untouched"
    );
    assert_eq!(count(&path, "attachments"), 0);

    // A message that is gone, or of another conversation, changes nothing.
    let err = store
        .truncate_from(conversation.id, ids[3])
        .expect_err("gone");
    assert_eq!(err.message, "This message no longer exists.");
    let others = store.messages(other.id).expect("other");
    store
        .truncate_from(conversation.id, others[0].id)
        .expect_err("not in this conversation");
    assert_eq!(texts(&store, conversation.id), ["m0", "m1"]);
    assert_eq!(texts(&store, other.id).len(), 5);

    // What comes next follows on.
    let again = say(&store, conversation.id, "m2 again");
    assert_eq!(texts(&store, conversation.id), ["m0", "m1", "m2 again"]);
    assert!(again > last, "a deleted message's id is not reused");
    store.truncate_from(conversation.id, ids[0]).expect("all");
    assert!(texts(&store, conversation.id).is_empty());
}

#[test]
fn appending_to_an_unknown_conversation_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_in(&dir);
    let store = ChatStore::open(&path).expect("open");
    let conversation = store.create_conversation("Real", None).expect("create");
    let err = store
        .append(
            conversation.id + 1,
            Role::User,
            &every_part(),
            &every_attachment(),
            MessageStatus::Complete,
            None,
        )
        .expect_err("unknown");
    assert_eq!(err.code, ErrorCode::Storage);
    assert_eq!(err.message, "This conversation no longer exists.");
    assert_eq!(count(&path, "messages"), 0);
    assert_eq!(count(&path, "attachments"), 0);
    assert_eq!(
        store.conversation(conversation.id).expect("get"),
        conversation,
        "nor did the real one change"
    );
}

#[test]
fn an_append_that_fails_halfway_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_in(&dir);
    let store = ChatStore::open(&path).expect("open");
    let conversation = store.create_conversation("Atomic", None).expect("create");
    say(&store, conversation.id, "before");
    let before = store.conversation(conversation.id).expect("get");
    // The second attachment cannot be written: the message and the first attachment,
    // written already in the same transaction, must go too.
    raw(&path)
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON attachments WHEN NEW.position = 1
             BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
        )
        .expect("trigger");
    let err = store
        .append(
            conversation.id,
            Role::User,
            &[Part::text("lost")],
            &every_attachment(),
            MessageStatus::Complete,
            None,
        )
        .expect_err("refused");
    assert_eq!(err.code, ErrorCode::Storage);
    assert_eq!(err.message, "Switchboard could not save the conversation.");
    assert!(
        err.detail
            .as_deref()
            .is_some_and(|d| d.contains("disk says no")),
        "{err:?}"
    );
    assert_eq!(texts(&store, conversation.id), ["before"]);
    assert_eq!(count(&path, "attachments"), 0);
    assert_eq!(store.conversation(conversation.id).expect("get"), before);

    raw(&path)
        .execute_batch("DROP TRIGGER refuse")
        .expect("drop trigger");
    say(&store, conversation.id, "after");
    assert_eq!(texts(&store, conversation.id), ["before", "after"]);
}

#[test]
fn a_migration_that_fails_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chats.sqlite");
    // Something at version 0 that the first migration collides with.
    raw(&path)
        .execute_batch("CREATE TABLE attachments (x); INSERT INTO attachments VALUES (1);")
        .expect("collision");
    let err = ChatStore::open(&path).expect_err("the migration fails");
    assert_eq!(err.code, ErrorCode::Storage);
    assert_eq!(
        err.message,
        "Switchboard could not open the conversation history."
    );
    let conn = raw(&path);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("version");
    assert_eq!(version, 0);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("names");
    assert_eq!(
        tables,
        ["attachments"],
        "no table of the migration was left"
    );
    assert_eq!(count(&path, "attachments"), 1);
}

#[test]
fn a_damaged_row_is_an_error_not_a_panic() {
    let damages = [
        "UPDATE messages SET parts = '[{\"type\": \"text\"' WHERE id = ?1",
        "UPDATE messages SET parts = '[{\"type\": \"hologram\"}]' WHERE id = ?1",
        "UPDATE messages SET role = 'system' WHERE id = ?1",
        "UPDATE messages SET status = 'maybe' WHERE id = ?1",
        "UPDATE attachments SET data = 'not json' WHERE message_id = ?1",
    ];
    for damage in damages {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = db_in(&dir);
        let store = ChatStore::open(&path).expect("open");
        let conversation = store.create_conversation("Damaged", None).expect("create");
        say(&store, conversation.id, "fine");
        let damaged = store
            .append(
                conversation.id,
                Role::User,
                &[Part::text("attached")],
                &every_attachment(),
                MessageStatus::Complete,
                None,
            )
            .expect("append")
            .id;
        assert_eq!(store.messages(conversation.id).expect("whole").len(), 2);
        let changed = raw(&path).execute(damage, [damaged]).expect("damage");
        assert!(changed > 0, "{damage}");
        let err = store.messages(conversation.id).expect_err(damage);
        assert_eq!(err.code, ErrorCode::Storage, "{damage}");
        assert!(err.message.contains("damaged"), "{damage}: {err:?}");
        // The rest of the history still works.
        assert_eq!(store.conversations().expect("list").len(), 1);
    }
}

const PER_THREAD: usize = 150;

/// Two writers, each through its own store handle, appending to its own conversation and
/// taking turns in a shared one.
fn two_writers(stores: [ChatStore; 2]) {
    let setup = &stores[0];
    let shared = setup.create_conversation("Shared", None).expect("shared");
    let own: Vec<i64> = ["Left", "Right"]
        .iter()
        .map(|title| setup.create_conversation(title, None).expect("own").id)
        .collect();
    std::thread::scope(|scope| {
        for (n, store) in stores.iter().enumerate() {
            let own = own[n];
            let shared = shared.id;
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    say(store, own, &format!("{i}"));
                    say(store, shared, &format!("{n}:{i}"));
                }
            });
        }
    });
    let expected: Vec<String> = (0..PER_THREAD).map(|i| i.to_string()).collect();
    for id in own {
        assert_eq!(texts(setup, id), expected);
    }
    let shared_texts = texts(setup, shared.id);
    assert_eq!(shared_texts.len(), 2 * PER_THREAD);
    for n in 0..2 {
        let mine: Vec<String> = shared_texts
            .iter()
            .filter_map(|t| t.strip_prefix(&format!("{n}:")).map(str::to_owned))
            .collect();
        assert_eq!(mine, expected, "writer {n}, in its order");
    }
}

#[test]
fn clones_appending_from_two_threads_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ChatStore::open(&db_in(&dir)).expect("open");
    two_writers([store.clone(), store.clone()]);
    drop(store);
    let store = ChatStore::open(&db_in(&dir)).expect("reopen");
    assert_eq!(store.conversations().expect("list").len(), 3);
}

#[test]
fn two_stores_on_one_file_appending_at_once_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_in(&dir);
    two_writers([
        ChatStore::open(&path).expect("open one"),
        ChatStore::open(&path).expect("open two"),
    ]);
    let store = ChatStore::open(&path).expect("reopen");
    assert_eq!(count(&path, "messages"), 4 * PER_THREAD as i64);
    assert_eq!(store.conversations().expect("list").len(), 3);
}

/// Where the crash helper writes; set only in the helper's own process.
const CRASH_DB: &str = "SWITCHBOARD_CHAT_STORE_CRASH_DB";
const CRASH_HELPER: &str = "crash_helper_appends_until_killed";
const CRASH_ROUNDS: u32 = 24;

/// The text of the `n`th message the helper writes: its number and a size that varies
/// (from a few bytes to a few pages), so a torn write would show as a wrong text or a
/// failed decode. Small enough that an append is mostly SQLite's work, not JSON's: that
/// is where the kills should land.
fn crash_text(n: usize) -> String {
    format!("message {n} {}", "x".repeat((n * 7_919) % 9_000))
}

fn crash_attachment(n: usize) -> Attachment {
    Attachment {
        kind: AttachmentKind::Resource,
        connector_id: "c".into(),
        connector_name: "C".into(),
        name: format!("attachment {n}"),
        uri: Some(format!("x://{n}")),
        size: n as u64,
        truncated: false,
        note: None,
        content: AttachmentContent::Parts {
            parts: vec![Part::text(crash_text(n + 1))],
        },
    }
}

/// Not a test: the process `a_writer_killed_mid_write_leaves_whole_messages` kills. Deletes
/// the conversation of the round before (checked already), then appends to a new one until
/// killed, printing `committed <count>` after each append.
#[test]
#[ignore = "a helper process for the crash test, which runs it"]
fn crash_helper_appends_until_killed() {
    use std::io::Write;
    let Some(path) = std::env::var_os(CRASH_DB) else {
        return;
    };
    let store = ChatStore::open(Path::new(&path)).expect("open");
    for old in store.conversations().expect("list") {
        store.delete(old.id).expect("delete");
    }
    let conversation = store.create_conversation("Crash", None).expect("create").id;
    let mut out = std::io::stdout().lock();
    for n in 0.. {
        store
            .append(
                conversation,
                Role::User,
                &[Part::text(crash_text(n))],
                &[crash_attachment(n)],
                MessageStatus::Complete,
                None,
            )
            .expect("append");
        writeln!(out, "committed {}", n + 1).expect("report");
        out.flush().expect("flush");
    }
}

/// The count in a helper's `committed <count>` line; the first comes after the test
/// harness's "test … ... " on the same line.
fn commit_report(line: &str) -> Option<usize> {
    line.rsplit_once("committed ")?.1.trim().parse().ok()
}

/// Each round a helper process appends in a loop and is killed with SIGKILL, at a point a
/// different fraction into an append each round; then the history must open, and hold every
/// append the helper reported committed, each whole, with its attachment.
#[test]
fn a_writer_killed_mid_write_leaves_whole_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_in(&dir);
    for round in 0..CRASH_ROUNDS {
        let mut child = Command::new(std::env::current_exe().expect("this test binary"))
            .args([CRASH_HELPER, "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CRASH_DB, &path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the helper starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut next_commit = || loop {
            let line = lines
                .next()
                .expect("the helper reports before it is killed")
                .expect("readable");
            if let Some(n) = commit_report(&line) {
                return (n, Instant::now());
            }
        };
        // How long an append takes here, averaged over a few; then the kill lands a
        // different fraction of an append after a reported commit each round, so the kills
        // spread over the whole of an append (right after a report is the start of the
        // next one). The timing only spreads the kills: what decides is what was reported
        // and what is read back.
        let (first, since) = next_commit();
        let mut last = next_commit();
        for _ in 0..5 + round % 8 {
            last = next_commit();
        }
        let (reported, at) = last;
        let append_time = (at - since).div_f64((reported - first) as f64);
        std::thread::sleep(append_time.mul_f64(f64::from(round) / f64::from(CRASH_ROUNDS)));
        child.kill().expect("killed");
        child.wait().expect("reaped");
        // Commits it reported after the one seen, before the kill landed.
        let reported = lines
            .map_while(Result::ok)
            .filter_map(|line| commit_report(&line))
            .fold(reported, usize::max);

        let store = ChatStore::open(&path).expect("the history opens after a kill");
        let conversations = store.conversations().expect("list");
        assert_eq!(conversations.len(), 1, "round {round}: this round's only");
        let messages = store
            .messages(conversations[0].id)
            .expect("every message decodes");
        assert!(
            messages.len() == reported || messages.len() == reported + 1,
            "round {round}: {} messages, {reported} reported committed (one more may have \
             committed unreported)",
            messages.len()
        );
        for (n, message) in messages.iter().enumerate() {
            assert_eq!(
                message.parts,
                [Part::text(crash_text(n))],
                "round {round}: message {n}"
            );
            assert_eq!(
                message.attachments,
                [crash_attachment(n)],
                "round {round}: message {n}"
            );
        }
        drop(store);
        let check: String = raw(&path)
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity check");
        assert_eq!(check, "ok", "round {round}");
    }
}

#[test]
fn a_version_1_history_gains_the_tool_log_and_keeps_its_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.sqlite");
    let store = ChatStore::open(&path).expect("open");
    let conversation = store
        .create_conversation("Before tools", None)
        .expect("create");
    say(&store, conversation.id, "kept");
    drop(store);
    // As a build before the tool log left it.
    let conn = raw(&path);
    conn.execute_batch("DROP TABLE tool_calls; PRAGMA user_version = 1;")
        .expect("downgrade");
    drop(conn);

    let store = ChatStore::open(&path).expect("migrated");
    assert_eq!(texts(&store, conversation.id), ["kept"]);
    assert!(store.tool_activity(10).expect("the log").is_empty());
    drop(store);
    let version: i64 = raw(&path)
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 2);
}
