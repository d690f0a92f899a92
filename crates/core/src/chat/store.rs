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
    // Version 2: every tool call the model made, whatever came of it (the activity log and
    // what the limits count). No foreign key: the log outlives a deleted conversation.
    "CREATE TABLE tool_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        day TEXT NOT NULL,
        conversation_id INTEGER NOT NULL,
        connector_id TEXT NOT NULL,
        connector_name TEXT NOT NULL,
        tool TEXT NOT NULL,
        arguments TEXT NOT NULL,
        ran INTEGER NOT NULL,
        rule TEXT NOT NULL,
        outcome TEXT,
        is_error INTEGER,
        duration_ms INTEGER
    );
    CREATE INDEX tool_calls_by_tool ON tool_calls (connector_id, tool, day);
    CREATE INDEX tool_calls_by_conversation ON tool_calls (conversation_id, connector_id);
    CREATE INDEX tool_calls_by_recency ON tool_calls (at, id);",
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
                markdown: Vec::new(),
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

    /// Decides on a tool call and logs it in one transaction: `decide` gets the calls that
    /// ran so far (this tool and its connector, in this conversation and today) and says
    /// whether this one runs and by which rule — or `None` when it is not settled yet
    /// (then nothing is logged). Two calls can never both take the last call a limit
    /// allows. Returns the log entry's id (when logged) and the decision.
    pub fn log_tool_call<D>(
        &self,
        call: &NewToolCall<'_>,
        decide: impl FnOnce(crate::tools::policy::Usage) -> (Option<(bool, String)>, D),
    ) -> Result<(Option<i64>, D)> {
        self.write(|tx| {
            let count = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<u32> {
                tx.query_row(sql, params, |row| row.get::<_, i64>(0))
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                    .map_err(not_saved)
            };
            let day = call.day;
            let usage = crate::tools::policy::Usage {
                tool_in_conversation: count(
                    "SELECT count(*) FROM tool_calls WHERE ran = 1 AND conversation_id = ?1 AND connector_id = ?2 AND tool = ?3",
                    &[&call.conversation_id, &call.connector_id, &call.tool],
                )?,
                tool_today: count(
                    "SELECT count(*) FROM tool_calls WHERE ran = 1 AND connector_id = ?1 AND tool = ?2 AND day = ?3",
                    &[&call.connector_id, &call.tool, &day],
                )?,
                connector_in_conversation: count(
                    "SELECT count(*) FROM tool_calls WHERE ran = 1 AND conversation_id = ?1 AND connector_id = ?2",
                    &[&call.conversation_id, &call.connector_id],
                )?,
                connector_today: count(
                    "SELECT count(*) FROM tool_calls WHERE ran = 1 AND connector_id = ?1 AND day = ?2",
                    &[&call.connector_id, &day],
                )?,
            };
            let (settled, decision) = decide(usage);
            let Some((ran, rule)) = settled else {
                return Ok((None, decision));
            };
            tx.execute(
                "INSERT INTO tool_calls (at, day, conversation_id, connector_id, connector_name, tool, arguments, ran, rule)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    now_ms(),
                    day,
                    call.conversation_id,
                    call.connector_id,
                    call.connector_name,
                    call.tool,
                    call.arguments.to_string(),
                    ran,
                    rule,
                ],
            )
            .map_err(not_saved)?;
            Ok((Some(tx.last_insert_rowid()), decision))
        })
    }

    /// Writes what came of a logged call.
    pub fn finish_tool_call(
        &self,
        id: i64,
        outcome: &str,
        is_error: bool,
        duration_ms: u64,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE tool_calls SET outcome = ?2, is_error = ?3, duration_ms = ?4 WHERE id = ?1",
                rusqlite::params![
                    id,
                    outcome,
                    is_error,
                    i64::try_from(duration_ms).unwrap_or(i64::MAX)
                ],
            )
            .map_err(not_saved)?;
            Ok(())
        })
    }

    /// Calls of a tool that ran on `day` (`YYYY-MM-DD`): what its approval card shows.
    pub fn tool_calls_on(&self, connector_id: &str, tool: &str, day: &str) -> Result<u32> {
        let n: i64 = self
            .lock()
            .query_row(
                "SELECT count(*) FROM tool_calls WHERE ran = 1 AND connector_id = ?1 AND tool = ?2 AND day = ?3",
                rusqlite::params![connector_id, tool, day],
                |row| row.get(0),
            )
            .map_err(not_read)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Calls that ran on `day`, per tool of a connector.
    pub fn tool_calls_by_tool_on(
        &self,
        connector_id: &str,
        day: &str,
    ) -> Result<std::collections::HashMap<String, u32>> {
        let conn = self.lock();
        let mut statement = conn
            .prepare(
                "SELECT tool, count(*) FROM tool_calls WHERE ran = 1 AND connector_id = ?1 AND day = ?2 GROUP BY tool",
            )
            .map_err(not_read)?;
        let rows = statement
            .query_map(rusqlite::params![connector_id, day], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(not_read)?;
        rows.map(|row| row.map(|(tool, n)| (tool, u32::try_from(n).unwrap_or(u32::MAX))))
            .collect::<rusqlite::Result<_>>()
            .map_err(not_read)
    }

    /// The activity log, newest first, at most `limit` entries.
    pub fn tool_activity(&self, limit: u32) -> Result<Vec<ToolCallEntry>> {
        let conn = self.lock();
        let mut statement = conn
            .prepare(
                "SELECT id, at, conversation_id, connector_id, connector_name, tool, arguments, ran, rule, outcome, is_error, duration_ms
                 FROM tool_calls ORDER BY at DESC, id DESC LIMIT ?1",
            )
            .map_err(not_read)?;
        let rows = statement
            .query_map([limit], |row| {
                Ok(ToolCallEntry {
                    id: row.get(0)?,
                    at_ms: row.get(1)?,
                    conversation_id: row.get(2)?,
                    connector_id: row.get(3)?,
                    connector_name: row.get(4)?,
                    tool: row.get(5)?,
                    arguments: row.get(6)?,
                    ran: row.get(7)?,
                    rule: row.get(8)?,
                    outcome: row.get(9)?,
                    is_error: row.get(10)?,
                    duration_ms: row.get(11)?,
                })
            })
            .map_err(not_read)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(not_read)
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
            markdown: Vec::new(),
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

/// A tool call about to be decided on and logged.
pub struct NewToolCall<'a> {
    pub conversation_id: i64,
    pub connector_id: &'a str,
    pub connector_name: &'a str,
    pub tool: &'a str,
    pub arguments: &'a serde_json::Value,
    /// The day it counts for, `YYYY-MM-DD`.
    pub day: &'a str,
}

/// One line of the activity log.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCallEntry {
    pub id: i64,
    pub at_ms: i64,
    pub conversation_id: i64,
    pub connector_id: String,
    pub connector_name: String,
    pub tool: String,
    /// As sent, JSON.
    pub arguments: String,
    pub ran: bool,
    /// Which rule decided.
    pub rule: String,
    /// What came of it, once finished.
    pub outcome: Option<String>,
    pub is_error: Option<bool>,
    pub duration_ms: Option<i64>,
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
