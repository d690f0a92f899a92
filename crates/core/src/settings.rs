//! Saved settings: the schema, its migrations, crash-safe writes, and what happens to a
//! file that cannot be read.
//!
//! The file is a JSON object of top-level keys (the shape tauri-plugin-store keeps), with
//! `schemaVersion` beside the data. It never holds a secret: secrets live in the OS keyring.
//!
//! Where the bytes go is a port, [`SettingsStore`]: the app keeps them in
//! tauri-plugin-store, tests and headless tools in a [`FileStore`]. Both write through
//! [`write_atomically`], because a plain rewrite that a crash interrupts leaves a truncated
//! file and the person's connectors would be gone.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_ipc::{ConnectorId, ErrorCode, Notice, NoticeLevel, SignInMethod};

use crate::error::{Error, Result};

/// The name of the settings file inside the app's data folder.
pub const FILE_NAME: &str = "settings.json";

/// The version this build writes. Bump it together with a new entry in [`MIGRATIONS`].
pub const SCHEMA_VERSION: u64 = 3;

const KEY_SCHEMA: &str = "schemaVersion";
const KEY_CONNECTORS: &str = "connectors";
const KEY_KEYRING_LEFTOVERS: &str = "keyringLeftovers";

/// The top-level entries of the settings file.
pub type Entries = Map<String, Value>;

/// Where the settings live. Implementations must make `save` atomic: after a crash either
/// the old or the new entries are on disk, never a mix.
pub trait SettingsStore: Send + Sync + 'static {
    fn load(&self) -> Result<Entries>;
    fn save(&self, entries: &Entries) -> Result<()>;
}

/// One saved connector. Only what the person chose: state is never saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorRecord {
    pub id: ConnectorId,
    pub name: String,
    /// The person typed the name; otherwise it follows the server's own name.
    #[serde(default)]
    pub name_is_custom: bool,
    pub url: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// How it signs in. Only the method and non-secret parts (a header name, a username, a
    /// client id); the secrets themselves are in the keyring.
    #[serde(default)]
    pub sign_in: SignInMethod,
    /// What the person chose for its tools: Allow · Ask · Off, limits, pins.
    #[serde(default)]
    pub tools: switchboard_ipc::tools::ToolSettings,
    /// The protocol its server spoke when it last connected: where the next connect starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub era: Option<crate::session::Era>,
}

fn enabled_by_default() -> bool {
    true
}

/// The decoded settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub connectors: Vec<ConnectorRecord>,
    /// Removed connectors whose keyring entries are still to be deleted (the keyring was
    /// locked or away when they were removed): deleting them is tried again at every start.
    /// Optional, so files without it (and older Switchboards reading it) need no migration.
    pub keyring_leftovers: Vec<ConnectorId>,
}

impl Settings {
    pub fn from_entries(entries: &Entries) -> Result<Self> {
        let connectors = match entries.get(KEY_CONNECTORS) {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => serde_json::from_value(value.clone()).map_err(|err| {
                Error::new(
                    ErrorCode::Storage,
                    "The saved connectors could not be read.",
                )
                .with_detail(err.to_string())
            })?,
        };
        // Only a chore list: an unreadable one is dropped rather than costing the settings.
        let keyring_leftovers = entries
            .get(KEY_KEYRING_LEFTOVERS)
            .and_then(|value| serde_json::from_value(value.clone()).ok())
            .unwrap_or_default();
        Ok(Self {
            connectors,
            keyring_leftovers,
        })
    }

    pub fn to_entries(&self) -> Entries {
        let mut entries = Entries::new();
        entries.insert(KEY_SCHEMA.into(), Value::from(SCHEMA_VERSION));
        entries.insert(
            KEY_CONNECTORS.into(),
            serde_json::to_value(&self.connectors).unwrap_or_else(|_| Value::Array(Vec::new())),
        );
        entries.insert(
            KEY_KEYRING_LEFTOVERS.into(),
            serde_json::to_value(&self.keyring_leftovers)
                .unwrap_or_else(|_| Value::Array(Vec::new())),
        );
        entries
    }
}

/// One migration: turns the entries of version `n` (its index) into version `n + 1`.
type Migration = fn(&mut Entries);

/// Version 0 is a file without `schemaVersion` (a store written before versioning, or
/// by hand): it gets an explicit empty connector list.
const MIGRATIONS: [Migration; SCHEMA_VERSION as usize] = [
    |entries| {
        entries
            .entry(KEY_CONNECTORS)
            .or_insert_with(|| Value::Array(Vec::new()));
    },
    // Version 2 adds how each connector signs in; every older connector signed in
    // automatically (OAuth when the server asks).
    |entries| {
        if let Some(Value::Array(connectors)) = entries.get_mut(KEY_CONNECTORS) {
            for connector in connectors.iter_mut().filter_map(Value::as_object_mut) {
                connector.entry("signIn").or_insert_with(|| {
                    serde_json::to_value(SignInMethod::default()).unwrap_or(Value::Null)
                });
            }
        }
    },
    // Version 3 adds what the person chose for each connector's tools: nothing yet, so
    // every tool is at Ask, without limits, with the 60-second call timeout.
    |entries| {
        if let Some(Value::Array(connectors)) = entries.get_mut(KEY_CONNECTORS) {
            for connector in connectors.iter_mut().filter_map(Value::as_object_mut) {
                connector.entry("tools").or_insert_with(|| {
                    serde_json::to_value(switchboard_ipc::tools::ToolSettings::default())
                        .unwrap_or(Value::Null)
                });
            }
        }
    },
];

/// Brings the file at `path` to the current schema before anyone loads it.
///
/// A file that cannot be understood — not JSON, not an object, from a newer Switchboard,
/// or with connectors that do not decode — is moved aside (never deleted) and reported as
/// a notice, so the app still starts with empty settings and nothing is silently lost.
pub fn prepare(path: &Path) -> Vec<Notice> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            return vec![quarantine(path, &format!("it could not be read ({err})"))];
        }
    };
    let mut entries = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(entries)) => entries,
        Ok(_) => return vec![quarantine(path, "it is not a settings object")],
        Err(err) => return vec![quarantine(path, &format!("it is not valid JSON ({err})"))],
    };
    let version = match entries.get(KEY_SCHEMA) {
        None => 0,
        Some(value) => match value.as_u64() {
            Some(version) => version,
            None => return vec![quarantine(path, "its schema version is not a number")],
        },
    };
    if version > SCHEMA_VERSION {
        return vec![quarantine(
            path,
            &format!(
                "it was written by a newer Switchboard (schema {version}, this one reads {SCHEMA_VERSION})"
            ),
        )];
    }
    if let Err(err) = Settings::from_entries(&entries) {
        return vec![quarantine(
            path,
            err.detail.as_deref().unwrap_or(&err.message),
        )];
    }
    if version == SCHEMA_VERSION {
        return Vec::new();
    }
    for migrate in &MIGRATIONS[version as usize..] {
        migrate(&mut entries);
    }
    entries.insert(KEY_SCHEMA.into(), Value::from(SCHEMA_VERSION));
    if let Err(err) = Settings::from_entries(&entries) {
        return vec![quarantine(
            path,
            err.detail.as_deref().unwrap_or(&err.message),
        )];
    }
    match write_atomically(path, &entries) {
        Ok(()) => Vec::new(),
        Err(err) => vec![Notice {
            level: NoticeLevel::Warning,
            message: "Your settings could not be updated to this version of Switchboard; changes may not be saved.".into(),
            detail: err.detail,
            kept_file: None,
        }],
    }
}

fn quarantine(path: &Path, why: &str) -> Notice {
    let aside = aside_path(path);
    let moved = std::fs::rename(path, &aside);
    tracing::warn!(path = %path.display(), aside = %aside.display(), why, "settings file moved aside");
    match moved {
        Ok(()) => Notice {
            level: NoticeLevel::Warning,
            message: format!(
                "Your saved connectors could not be read, so Switchboard started without them. The old file was kept as {}.",
                aside.display()
            ),
            detail: Some(format!(
                "{} could not be used because {why}. It was moved to {}.",
                path.display(),
                aside.display()
            )),
            kept_file: Some(aside.display().to_string()),
        },
        Err(err) => Notice {
            level: NoticeLevel::Warning,
            message:
                "Your saved connectors could not be read, so Switchboard started without them."
                    .into(),
            detail: Some(format!(
                "{} could not be used because {why}, and moving it aside failed: {err}.",
                path.display()
            )),
            kept_file: None,
        },
    }
}

/// Whether `candidate` is a copy of the settings file at `path` that was kept aside: the
/// only files the window may ask to be shown.
pub fn is_kept_aside(path: &Path, candidate: &Path) -> bool {
    let (Some(name), Some(candidate_name)) = (path.file_name(), candidate.file_name()) else {
        return false;
    };
    let prefix = format!("{}.unreadable-", name.to_string_lossy());
    candidate.parent() == path.parent()
        && candidate_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .is_some_and(|rest| {
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '-')
            })
        && candidate.is_file()
}

fn aside_path(path: &Path) -> PathBuf {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".unreadable-{stamp}"));
    let mut aside = path.with_file_name(&name);
    let mut n = 1;
    while aside.exists() {
        let mut numbered = name.clone();
        numbered.push(format!("-{n}"));
        aside = path.with_file_name(numbered);
        n += 1;
    }
    aside
}

/// A new id for something saved (a connector, a model provider): `prefix`, the time and a
/// counter, so ids made in the same instant still differ.
pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:x}{n:x}", nanos & 0xffff_ffff_ffff)
}

/// Several owners keep their part of the settings in the one file, each under its own
/// top-level keys (the connectors, the models): an update is read, merged and written under
/// this lock, so one owner's save never writes back another's stale entries.
static UPDATING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Replaces the `own` top-level entries in the saved settings, keeping every other entry as
/// it is saved, and writes the whole file (atomically, through the store).
pub fn update(store: &dyn SettingsStore, own: Entries) -> Result<()> {
    let _one_at_a_time = UPDATING.lock().unwrap_or_else(|e| e.into_inner());
    let mut entries = store.load()?;
    entries.extend(own);
    store.save(&entries)
}

impl<T: SettingsStore + ?Sized> SettingsStore for std::sync::Arc<T> {
    fn load(&self) -> Result<Entries> {
        (**self).load()
    }

    fn save(&self, entries: &Entries) -> Result<()> {
        (**self).save(entries)
    }
}

/// Writes the entries so that a crash at any moment leaves either the old file or the new
/// one: write a sibling temporary file, flush it to disk, then rename it over the old one.
pub fn write_atomically(path: &Path, entries: &Entries) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(entries)
        .map_err(|err| Error::internal(format!("serializing settings: {err}")))?;
    write_bytes_atomically(path, &bytes)
}

/// [`write_atomically`] for bytes serialized already.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_then_replace(path, bytes, |_| Ok(()))
}

/// [`write_bytes_atomically`], with `before_replace` run on the finished temporary file just
/// before it replaces the old one: the moment a crash would do the most harm, where tests
/// put one.
fn write_then_replace(
    path: &Path,
    bytes: &[u8],
    before_replace: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let storage = |err: std::io::Error| {
        Error::new(ErrorCode::Storage, "Your settings could not be saved.")
            .with_detail(format!("{}: {err}", path.display()))
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(storage)?;
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(storage)?;
    file.write_all(bytes).map_err(storage)?;
    file.sync_all().map_err(storage)?;
    drop(file);
    before_replace(&tmp).map_err(storage)?;
    std::fs::rename(&tmp, path).map_err(storage)?;
    // Make the rename itself durable; not every platform can open a directory.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Settings in a plain JSON file: for tests and headless tools.
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// Prepares the file (see [`prepare`]) and returns the store with what to tell the person.
    pub fn open(path: impl Into<PathBuf>) -> (Self, Vec<Notice>) {
        let path = path.into();
        let notices = prepare(&path);
        (Self { path }, notices)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SettingsStore for FileStore {
    fn load(&self) -> Result<Entries> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                Error::new(ErrorCode::Storage, "Your settings could not be read.")
                    .with_detail(format!("{}: {err}", self.path.display()))
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Entries::new()),
            Err(err) => Err(
                Error::new(ErrorCode::Storage, "Your settings could not be read.")
                    .with_detail(format!("{}: {err}", self.path.display())),
            ),
        }
    }

    fn save(&self, entries: &Entries) -> Result<()> {
        write_atomically(&self.path, entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, url: &str) -> ConnectorRecord {
        ConnectorRecord {
            id: ConnectorId(id.into()),
            name: format!("Server {id}"),
            name_is_custom: false,
            url: url.into(),
            enabled: true,
            sign_in: SignInMethod::ApiKey {
                header: "X-API-Key".into(),
            },
            tools: Default::default(),
            era: None,
        }
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn saved_settings_load_back_identically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let settings = Settings {
            connectors: vec![
                record("a", "https://a.example/mcp"),
                record("b", "http://localhost:1/x?y"),
            ],
            keyring_leftovers: vec![ConnectorId("gone".into())],
        };
        let (store, notices) = FileStore::open(&path);
        assert!(notices.is_empty());
        store.save(&settings.to_entries()).expect("save");
        let (store, notices) = FileStore::open(&path);
        assert!(notices.is_empty());
        let loaded = Settings::from_entries(&store.load().expect("load")).expect("decode");
        assert_eq!(loaded, settings);
        let on_disk: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(on_disk["schemaVersion"], json!(SCHEMA_VERSION));
        assert_eq!(
            files_in(dir.path()),
            vec![FILE_NAME.to_owned()],
            "no temp file left"
        );
    }

    #[test]
    fn a_missing_file_is_empty_settings_without_notice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, notices) = FileStore::open(dir.path().join(FILE_NAME));
        assert!(notices.is_empty());
        assert_eq!(
            Settings::from_entries(&store.load().expect("load")).expect("decode"),
            Settings::default()
        );
    }

    #[test]
    fn an_unversioned_file_is_migrated_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, br#"{"theme": "dark"}"#).expect("write");
        let (store, notices) = FileStore::open(&path);
        assert!(notices.is_empty(), "{notices:?}");
        let entries = store.load().expect("load");
        assert_eq!(entries["schemaVersion"], json!(SCHEMA_VERSION));
        assert_eq!(entries["connectors"], json!([]));
        assert_eq!(entries["theme"], json!("dark"), "unknown keys are kept");
    }

    #[test]
    fn missing_optional_fields_take_their_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            br#"{"schemaVersion":1,"connectors":[{"id":"x","name":"X","url":"https://x.example"}]}"#,
        )
        .expect("write");
        let (store, notices) = FileStore::open(&path);
        assert!(notices.is_empty());
        let entries = store.load().expect("load");
        assert_eq!(
            entries["connectors"][0]["signIn"],
            json!({"kind": "automatic", "client_id": null, "has_client_secret": false}),
            "version 1 connectors sign in automatically"
        );
        let settings = Settings::from_entries(&entries).expect("decode");
        assert!(settings.connectors[0].enabled);
        assert!(!settings.connectors[0].name_is_custom);
    }

    #[test]
    fn a_version_2_file_gains_tool_settings_with_every_tool_at_ask() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            br#"{"schemaVersion":2,"connectors":[{"id":"x","name":"X","url":"https://x.example","enabled":false,"signIn":{"kind":"api_key","header":"X-Key"}}]}"#,
        )
        .expect("write");
        let (store, notices) = FileStore::open(&path);
        assert!(notices.is_empty(), "{notices:?}");
        let entries = store.load().expect("load");
        assert_eq!(entries["schemaVersion"], json!(3));
        assert_eq!(
            entries["connectors"][0]["tools"],
            json!({
                "tools": {},
                "limits": {"perConversation": null, "perDay": null},
                "callTimeoutSecs": 60,
                "allowElicitation": false,
                "allowSampling": false,
                "seen": null,
            })
        );
        let settings = Settings::from_entries(&entries).expect("decode");
        let connector = &settings.connectors[0];
        assert!(!connector.enabled, "the rest is kept");
        assert_eq!(
            connector.tools,
            switchboard_ipc::tools::ToolSettings::default()
        );
        let on_disk: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(on_disk["schemaVersion"], json!(3), "migrated in place");
    }

    #[test]
    fn unreadable_files_are_moved_aside_and_reported() {
        let cases: [(&str, &[u8]); 5] = [
            ("truncated JSON", br#"{"schemaVersion":1,"connec"#),
            ("not an object", b"[1,2,3]"),
            ("binary garbage", &[0xff, 0xfe, 0x00, 0x13]),
            ("newer schema", br#"{"schemaVersion":99,"connectors":[]}"#),
            (
                "connectors of the wrong shape",
                br#"{"schemaVersion":1,"connectors":{"a":1}}"#,
            ),
        ];
        for (what, bytes) in cases {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(FILE_NAME);
            std::fs::write(&path, bytes).expect("write");
            let (store, notices) = FileStore::open(&path);
            assert_eq!(notices.len(), 1, "{what}");
            assert_eq!(notices[0].level, NoticeLevel::Warning, "{what}");
            assert!(
                notices[0].message.contains("could not be read"),
                "{what}: {}",
                notices[0].message
            );
            let files = files_in(dir.path());
            assert_eq!(files.len(), 1, "{what}: {files:?}");
            assert!(files[0].starts_with("settings.json.unreadable-"), "{what}");
            assert_eq!(
                std::fs::read(dir.path().join(&files[0])).expect("aside"),
                bytes,
                "{what}: kept byte for byte"
            );
            assert!(
                notices[0]
                    .detail
                    .as_deref()
                    .is_some_and(|d| d.contains(&files[0])),
                "{what}: the detail names where it went"
            );
            assert_eq!(store.load().expect("load"), Entries::new(), "{what}");
        }
    }

    #[test]
    fn a_write_that_fails_before_the_new_file_is_in_place_leaves_the_old_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let before = Settings {
            connectors: vec![record("a", "https://a.example/mcp")],
            ..Settings::default()
        };
        write_atomically(&path, &before.to_entries()).expect("save");
        let old_bytes = std::fs::read(&path).expect("saved");
        let after = Settings {
            connectors: vec![record("b", "https://b.example/mcp")],
            ..Settings::default()
        };
        // The new bytes are written and flushed, then everything stops.
        let bytes = serde_json::to_vec(&after.to_entries()).expect("JSON");
        let failed = write_then_replace(&path, &bytes, |tmp| {
            let written = std::fs::read(tmp)?;
            assert!(!written.is_empty(), "the new content was written first");
            Err(std::io::Error::other("the machine lost power"))
        });
        let err = failed.expect_err("reported");
        assert_eq!(err.code, ErrorCode::Storage);
        assert_eq!(std::fs::read(&path).expect("still there"), old_bytes);
        // The next start reads the old settings, and the next save goes through.
        let (store, notices) = FileStore::open(&path);
        assert!(notices.is_empty());
        let loaded = Settings::from_entries(&store.load().expect("load")).expect("decode");
        assert_eq!(loaded, before);
        store.save(&after.to_entries()).expect("save");
        assert_eq!(
            Settings::from_entries(&store.load().expect("load")).expect("decode"),
            after
        );
        assert_eq!(files_in(dir.path()), vec![FILE_NAME.to_owned()]);
    }
}
