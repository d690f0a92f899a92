//! The conversation history: an embedded SQLite file in the app's data folder.
//!
//! SQLite rather than a JSON file because a conversation grows one message at a time: each
//! append is a small transaction, not a rewrite of everything, and a crash at any moment
//! leaves the history as it was before or after the interrupted write, never half of it.
//!
//! Messages keep their parts and attachments as JSON of the chat types ([`Part`],
//! [`Attachment`]), so what was sent to the model is exactly what is read back.
//!
//! The schema moves forward through [`MIGRATIONS`], keyed on SQLite's `user_version`. A file
//! from a newer Switchboard is refused untouched rather than guessed at.
//!
//! The methods are synchronous and short; async callers run them with `spawn_blocking`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::Serialize;

pub use switchboard_ipc::chat::{Conversation, StoredMessage};

use super::{Attachment, MessageStatus, ModelChoice, Part, Role};
use crate::error::{Error, ErrorCode, Result};

/// The name of the history file inside the app's data folder.
pub const FILE_NAME: &str = "chats.sqlite";

/// The schema, one step per entry: entry `n` turns version `n` into version `n + 1`. Each
/// runs in its own transaction together with the new `user_version`, so a crash during a
/// migration leaves the file at the version before it. Only ever append to this list.
const MIGRATIONS: &[&str] = &[
    // Version 1. AUTOINCREMENT so an id is never reused after a delete: a window still
    // showing a deleted conversation or message cannot act on a newer one by mistake.
    "CREATE TABLE conversations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        provider_id TEXT,
        model TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX conversations_by_recency ON conversations (updated_at, id);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        parts TEXT NOT NULL,
        status TEXT NOT NULL,
        model TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX attachments_by_message ON attachments (message_id, position);",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a write waits for another connection to the same file (another store opened on
/// it, a tool) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The conversation history. Clones share one connection, so they can be handed to any
/// thread; SQLite does the rest when several stores are opened on the same file.
#[derive(Clone, Debug)]
pub struct ChatStore {
    conn: Arc<Mutex<Connection>>,
}

impl ChatStore {
    /// Opens the history at `path`, creating it (and its folder) when missing and bringing
    /// its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let failed = |err: &dyn std::fmt::Display| {
            Error::new(
                ErrorCode::Storage,
                "Switchboard could not open the conversation history.",
            )
            .with_detail(format!("{}: {err}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| failed(&err))?;
        }
        let conn = Connection::open(path).map_err(|err| failed(&err))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|err| failed(&err))?;
        // Before anything that writes (even the journal mode changes the file's header).
        refuse_newer(&conn).map_err(|err| at_path(err, path))?;
        // WAL: a write appends to a side log and readers are never blocked; with it,
        // synchronous=NORMAL cannot corrupt the file, and a killed app loses nothing it
        // committed (only a power cut can drop the last few commits).
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|err| failed(&err))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the chat history cannot use WAL");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|err| failed(&err))?;
        Self::start(conn).map_err(|err| at_path(err, path))
    }

    /// A history that lives only as long as the store: for tests.
    pub fn open_in_memory() -> Result<Self> {
        Self::start(Connection::open_in_memory().map_err(not_opened)?)
    }

    /// What both kinds of store share: foreign keys (for the cascades) and the migrations.
    fn start(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(not_opened)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Starts a conversation. `title` is trimmed and must not be empty.
    pub fn create_conversation(
        &self,
        title: &str,
        model: Option<&ModelChoice>,
    ) -> Result<Conversation> {
        let title = title_of(title)?;
        self.write(|tx| {
            let now = next_stamp(tx)?;
            tx.execute(
                "INSERT INTO conversations (title, provider_id, model, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![
                    title,
                    model.map(|m| &m.provider_id),
                    model.map(|m| &m.model),
                    now
                ],
            )
            .map_err(not_saved)?;
            Ok(Conversation {
                id: tx.last_insert_rowid(),
                title: title.to_owned(),
                model: model.cloned(),
                created_at: now,
                updated_at: now,
            })
        })
    }

    /// Every conversation, the most recently active first.
    pub fn conversations(&self) -> Result<Vec<Conversation>> {
        self.read(|tx| {
            let mut statement = tx
                .prepare(
                    "SELECT id, title, provider_id, model, created_at, updated_at
                     FROM conversations ORDER BY updated_at DESC, id DESC",
                )
                .map_err(not_read)?;
            statement
                .query_map([], conversation_from_row)
                .and_then(Iterator::collect)
                .map_err(not_read)
        })
    }

    pub fn conversation(&self, id: i64) -> Result<Conversation> {
        self.read(|tx| find_conversation(tx, id))
    }

    /// Gives a conversation a new name (trimmed, not empty). The list's order stays.
    pub fn rename(&self, id: i64, title: &str) -> Result<()> {
        let title = title_of(title)?;
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE conversations SET title = ?2 WHERE id = ?1",
                    params![id, title],
                )
                .map_err(not_saved)?;
            if changed == 0 {
                return Err(conversation_gone(id));
            }
            Ok(())
        })
    }

    /// Switches the model a conversation talks to; `None` goes back to the app's default.
    pub fn set_model(&self, id: i64, model: Option<&ModelChoice>) -> Result<()> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE conversations SET provider_id = ?2, model = ?3 WHERE id = ?1",
                    params![id, model.map(|m| &m.provider_id), model.map(|m| &m.model)],
                )
                .map_err(not_saved)?;
            if changed == 0 {
                return Err(conversation_gone(id));
            }
            Ok(())
        })
    }

    /// Deletes a conversation with its messages and attachments. Deleting one that is gone
    /// already is not an error: the person wanted it gone, and it is.
    pub fn delete(&self, id: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM conversations WHERE id = ?1", [id])
                .map_err(not_saved)?;
            Ok(())
        })
    }

    /// A conversation's messages in the order they were added, each with its attachments.
    pub fn messages(&self, conversation_id: i64) -> Result<Vec<StoredMessage>> {
        self.read(|tx| {
            find_conversation(tx, conversation_id)?;
            let mut attachments = attachments_of(tx, conversation_id)?;
            let mut statement = tx
                .prepare(
                    "SELECT id, role, parts, status, model, created_at
                     FROM messages WHERE conversation_id = ?1 ORDER BY id",
                )
                .map_err(not_read)?;
            let rows = statement
                .query_map([conversation_id], |row| {
                    Ok(RawMessage {
                        id: row.get(0)?,
                        role: row.get(1)?,
                        parts: row.get(2)?,
                        status: row.get(3)?,
                        model: row.get(4)?,
                        created_at: row.get(5)?,
                    })
                })
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(not_read)?;
            rows.into_iter()
                .map(|raw| {
                    let attachments = attachments.remove(&raw.id).unwrap_or_default();
                    raw.decode(conversation_id, attachments)
                })
                .collect()
        })
    }

    /// Adds a message with its attachments at the end of a conversation, and makes the
    /// conversation the most recent one: all of it or, on any failure, none of it.
    pub fn append(
        &self,
        conversation_id: i64,
        role: Role,
        parts: &[Part],
        attachments: &[Attachment],
        status: MessageStatus,
        model: Option<&str>,
    ) -> Result<StoredMessage> {
        let parts_json = to_json(parts)?;
        let attachments_json = attachments
            .iter()
            .map(to_json)
            .collect::<Result<Vec<_>>>()?;
        self.write(|tx| {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM conversations WHERE id = ?1",
                    [conversation_id],
                    |_| Ok(()),
                )
                .optional()
                .map_err(not_saved)?;
            if exists.is_none() {
                return Err(conversation_gone(conversation_id));
            }
            let now = next_stamp(tx)?;
            tx.execute(
                "INSERT INTO messages (conversation_id, role, parts, status, model, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    conversation_id,
                    role.as_str(),
                    parts_json,
                    status_str(status),
                    model,
                    now
                ],
            )
            .map_err(not_saved)?;
            let id = tx.last_insert_rowid();
            let mut insert = tx
                .prepare("INSERT INTO attachments (message_id, position, data) VALUES (?1, ?2, ?3)")
                .map_err(not_saved)?;
            for (position, data) in (0_i64..).zip(&attachments_json) {
                insert
                    .execute(params![id, position, data])
                    .map_err(not_saved)?;
            }
            tx.execute(
                "UPDATE conversations SET updated_at = ?2 WHERE id = ?1",
                params![conversation_id, now],
            )
            .map_err(not_saved)?;
            Ok(StoredMessage {
                id,
                conversation_id,
                role,
                parts: parts.to_vec(),
                status,
                model: model.map(str::to_owned),
                attachments: attachments.to_vec(),
                created_at: now,
            })
        })
    }

    /// Marks how a message ended (a reply cut short, a send that failed).
    pub fn set_status(&self, message_id: i64, status: MessageStatus) -> Result<()> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE messages SET status = ?2 WHERE id = ?1",
                    params![message_id, status_str(status)],
                )
                .map_err(not_saved)?;
            if changed == 0 {
                return Err(message_gone(message_id));
            }
            Ok(())
        })
    }

    /// Deletes a message and every later one of its conversation: what "edit and resend"
    /// and "regenerate" start with. A message that is not in that conversation (any more)
    /// changes nothing and is an error, so a stale click cannot cut the wrong history.
    pub fn truncate_from(&self, conversation_id: i64, message_id: i64) -> Result<()> {
        self.write(|tx| {
            let found = tx
                .query_row(
                    "SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2",
                    [message_id, conversation_id],
                    |_| Ok(()),
                )
                .optional()
                .map_err(not_saved)?;
            if found.is_none() {
                return Err(message_gone(message_id));
            }
            tx.execute(
                "DELETE FROM messages WHERE conversation_id = ?1 AND id >= ?2",
                [conversation_id, message_id],
            )
            .map_err(not_saved)?;
            Ok(())
        })
    }

    /// The connection, even after a panic elsewhere while it was held: a panic inside a
    /// transaction rolled it back when the transaction was dropped, so it is still sound.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in a write transaction, committed only if `f` succeeds. IMMEDIATE takes the
    /// write lock up front: a deferred transaction that reads and then writes can fail at
    /// once, without waiting, when another connection wrote in between.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(not_saved)?;
        let value = f(&tx)?;
        tx.commit().map_err(not_saved)?;
        Ok(value)
    }

    /// Runs `f` in a read transaction, so what it reads in several queries is one moment's
    /// state.
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(not_read)?;
        f(&tx)
    }
}

/// A message row before its JSON and names are decoded.
struct RawMessage {
    id: i64,
    role: String,
    parts: String,
    status: String,
    model: Option<String>,
    created_at: i64,
}

impl RawMessage {
    fn decode(self, conversation_id: i64, attachments: Vec<Attachment>) -> Result<StoredMessage> {
        let id = self.id;
        let role = match self.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(damaged(format!("message {id}: unknown role {other:?}"))),
        };
        let status = status_from_str(&self.status)
            .ok_or_else(|| damaged(format!("message {id}: unknown status {:?}", self.status)))?;
        let parts = serde_json::from_str(&self.parts)
            .map_err(|err| damaged(format!("message {id}: parts: {err}")))?;
        Ok(StoredMessage {
            id,
            conversation_id,
            role,
            parts,
            status,
            model: self.model,
            attachments,
            created_at: self.created_at,
        })
    }
}

/// The attachments of a conversation's messages, by message, in order.
fn attachments_of(
    tx: &Transaction<'_>,
    conversation_id: i64,
) -> Result<HashMap<i64, Vec<Attachment>>> {
    let mut statement = tx
        .prepare(
            "SELECT a.message_id, a.data FROM attachments a
             JOIN messages m ON m.id = a.message_id
             WHERE m.conversation_id = ?1 ORDER BY a.message_id, a.position",
        )
        .map_err(not_read)?;
    let rows = statement
        .query_map([conversation_id], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(not_read)?;
    let mut by_message: HashMap<i64, Vec<Attachment>> = HashMap::new();
    for (message_id, data) in rows {
        let attachment = serde_json::from_str(&data)
            .map_err(|err| damaged(format!("message {message_id}: attachment: {err}")))?;
        by_message.entry(message_id).or_default().push(attachment);
    }
    Ok(by_message)
}

fn find_conversation(tx: &Transaction<'_>, id: i64) -> Result<Conversation> {
    tx.query_row(
        "SELECT id, title, provider_id, model, created_at, updated_at
         FROM conversations WHERE id = ?1",
        [id],
        conversation_from_row,
    )
    .optional()
    .map_err(not_read)?
    .ok_or_else(|| conversation_gone(id))
}

fn conversation_from_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let provider_id: Option<String> = row.get(2)?;
    let model: Option<String> = row.get(3)?;
    Ok(Conversation {
        id: row.get(0)?,
        title: row.get(1)?,
        model: provider_id
            .zip(model)
            .map(|(provider_id, model)| ModelChoice { provider_id, model }),
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

/// Refuses a file whose schema is newer than this build's: reading it could misread it,
/// and migrating it would damage it for the Switchboard that wrote it.
fn refuse_newer(conn: &Connection) -> Result<()> {
    let version = user_version(conn).map_err(not_opened)?;
    if version > SCHEMA_VERSION {
        return Err(Error::new(
            ErrorCode::Storage,
            "The conversation history was written by a newer Switchboard; update Switchboard to open it.",
        )
        .with_detail(format!(
            "schema version {version}, this Switchboard reads up to {SCHEMA_VERSION}"
        )));
    }
    Ok(())
}

/// Applies the migrations the file lacks. Each step re-reads the version inside its write
/// transaction, so two stores opening the same old file at once migrate it once.
fn migrate(conn: &mut Connection) -> Result<()> {
    if user_version(conn).map_err(not_opened)? >= SCHEMA_VERSION {
        return refuse_newer(conn);
    }
    for (version, sql) in (1_i64..).zip(MIGRATIONS) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(not_opened)?;
        let current = user_version(&tx).map_err(not_opened)?;
        if current > SCHEMA_VERSION {
            return refuse_newer(&tx);
        }
        if current >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(not_opened)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(not_opened)?;
        tx.commit().map_err(not_opened)?;
        tracing::info!(version, "chat history schema migrated");
    }
    Ok(())
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn title_of(title: &str) -> Result<&str> {
    let title = title.trim();
    if title.is_empty() {
        return Err(Error::new(
            ErrorCode::Storage,
            "A conversation needs a name.",
        ));
    }
    Ok(title)
}

fn status_str(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Complete => "complete",
        MessageStatus::Unfinished => "unfinished",
        MessageStatus::Failed => "failed",
    }
}

fn status_from_str(status: &str) -> Option<MessageStatus> {
    match status {
        "complete" => Some(MessageStatus::Complete),
        "unfinished" => Some(MessageStatus::Unfinished),
        "failed" => Some(MessageStatus::Failed),
        _ => None,
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|err| Error::internal(format!("serializing a message: {err}")))
}

/// The time for a change that makes a conversation the most recent: now, but strictly later
/// than any conversation's last change, even within one millisecond or with the clock set
/// back, so "most recent" is never a tie. The index on `updated_at` makes this a lookup.
fn next_stamp(tx: &Transaction<'_>) -> Result<i64> {
    let latest: Option<i64> = tx
        .query_row("SELECT max(updated_at) FROM conversations", [], |row| {
            row.get(0)
        })
        .map_err(not_saved)?;
    Ok(match latest {
        Some(latest) => now_ms().max(latest.saturating_add(1)),
        None => now_ms(),
    })
}

/// Milliseconds since the Unix epoch; 0 for a clock before it.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Says which file an error is about.
fn at_path(mut err: Error, path: &Path) -> Error {
    err.detail = Some(match err.detail.take() {
        Some(detail) => format!("{}: {detail}", path.display()),
        None => path.display().to_string(),
    });
    err
}

fn not_opened(err: rusqlite::Error) -> Error {
    Error::new(
        ErrorCode::Storage,
        "Switchboard could not open the conversation history.",
    )
    .with_detail(err.to_string())
}

fn not_saved(err: rusqlite::Error) -> Error {
    Error::new(
        ErrorCode::Storage,
        "Switchboard could not save the conversation.",
    )
    .with_detail(err.to_string())
}

fn not_read(err: rusqlite::Error) -> Error {
    Error::new(
        ErrorCode::Storage,
        "Switchboard could not read the conversation history.",
    )
    .with_detail(err.to_string())
}

/// A row that does not decode: written by something else, or damaged on disk.
fn damaged(detail: String) -> Error {
    Error::new(
        ErrorCode::Storage,
        "Part of the conversation history is damaged and could not be read.",
    )
    .with_detail(detail)
}

fn conversation_gone(id: i64) -> Error {
    Error::new(ErrorCode::Storage, "This conversation no longer exists.")
        .with_detail(format!("conversation {id}"))
}

fn message_gone(id: i64) -> Error {
    Error::new(ErrorCode::Storage, "This message no longer exists.")
        .with_detail(format!("message {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_in_memory_store_keeps_what_it_is_given() {
        let store = ChatStore::open_in_memory().expect("open");
        let conversation = store.create_conversation("Memory", None).expect("create");
        let message = store
            .append(
                conversation.id,
                Role::Assistant,
                &[Part::text("hello")],
                &[],
                MessageStatus::Unfinished,
                Some("model-x"),
            )
            .expect("append");
        assert_eq!(
            store.messages(conversation.id).expect("messages"),
            vec![message]
        );
        let listed = store.conversations().expect("list");
        assert_eq!(listed.len(), 1);
        assert!(listed[0].updated_at > conversation.updated_at);
        store.delete(conversation.id).expect("delete");
        assert!(store.conversations().expect("list").is_empty());
    }
}
