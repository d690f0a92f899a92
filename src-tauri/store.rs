//! The settings port over tauri-plugin-store.
//!
//! The plugin resolves the file in the app's data folder, loads it and keeps the entries in
//! memory. Its own `save()` is a plain `fs::write`, which a crash can leave truncated, so the
//! bytes go to disk through the core's atomic writer instead — same file, same JSON shape.

use std::path::PathBuf;
use std::sync::Arc;

use switchboard_core::settings::{self, Entries, SettingsStore};
use tauri::Wry;
use tauri_plugin_store::Store;

pub struct TauriStore {
    pub store: Arc<Store<Wry>>,
    pub path: PathBuf,
}

impl SettingsStore for TauriStore {
    fn load(&self) -> switchboard_core::Result<Entries> {
        Ok(self.store.entries().into_iter().collect())
    }

    fn save(&self, entries: &Entries) -> switchboard_core::Result<()> {
        settings::write_atomically(&self.path, entries)?;
        for (key, value) in entries {
            self.store.set(key.clone(), value.clone());
        }
        Ok(())
    }
}
