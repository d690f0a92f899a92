//! The desktop shell: plugins, state, commands and events. Behaviour lives in
//! `switchboard-core`; this crate only wires it to Tauri.

mod commands;
#[cfg(any(target_os = "linux", test))]
mod link_handler;
mod log;
mod store;
mod wire;

use std::sync::{Arc, Mutex};

use switchboard_core::chat::Chat;
use switchboard_core::chat::store::ChatStore;
use switchboard_core::connectors::OpenUrl;
use switchboard_core::memory::{self, AfterBursts};
use switchboard_core::models::providers::Providers;
use switchboard_core::secrets::{Keyring, SecretStore};
use switchboard_core::settings::{self, Settings};
use switchboard_core::start_view::{self, StartView};
use switchboard_core::{Connectors, Event, Timeouts};
use switchboard_ipc::{Notice, NoticeLevel, event};
use tauri::{AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_plugin_opener::OpenerExt;

/// Notices raised before the window could listen (a settings file moved aside at start).
#[derive(Default)]
pub struct PendingNotices(Mutex<Vec<Notice>>);

impl PendingNotices {
    fn push(&self, notice: Notice) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notice);
    }

    pub fn take(&self) -> Vec<Notice> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

pub fn run() {
    let launched = std::time::Instant::now();
    log::init();

    let app = tauri::Builder::default()
        // First, so a second launch hands over its arguments (and deep link) before
        // anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main_window(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_opener::init())
        .manage(PendingNotices::default())
        .setup(move |app| {
            match app.path().app_log_dir() {
                Ok(folder) => {
                    if let Err(err) = log::to_folder(&folder) {
                        tracing::warn!(%err, folder = %folder.display(), "could not open the log file");
                    }
                }
                Err(err) => tracing::warn!(%err, "no folder for the log file"),
            }
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "Switchboard started");
            let ms = |since: std::time::Instant| since.elapsed().as_secs_f64() * 1000.0;
            let setup_began = ms(launched);
            let step = std::time::Instant::now();
            let handle = app.handle().clone();
            // Started first: the connects, the window's files and the first lists are one
            // burst, whose freed memory is handed back once it is over.
            let after_bursts = AfterBursts::start(
                tauri::async_runtime::handle().inner(),
                memory::QUIET,
                memory::release_freed,
            );
            after_bursts.busy();
            app.manage(after_bursts);
            let (connectors, settings) = open_connectors(&handle)?;
            app.manage(connectors.clone());
            let connectors_ms = ms(step);
            // The window next, so WebKit's processes start while the rest is set up (the page
            // loads once this setup is done: its requests are served on this thread).
            let step = std::time::Instant::now();
            open_main_window(&handle, &connectors)?;
            let window_ms = ms(step);
            forward_events(&handle, &connectors);
            let step = std::time::Instant::now();
            let chat = open_chat(&handle, settings, &connectors)?;
            forward_chat_events(&handle, &chat);
            app.manage(chat);
            let chat_ms = ms(step);
            let step = std::time::Instant::now();
            watch_deep_links(&handle);
            let links_ms = ms(step);
            // The connects begin once the window's page has loaded (`open_main_window`), or
            // after a while if it never does.
            let later = connectors.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(CONNECT_AT_THE_LATEST).await;
                later.start();
            });
            tracing::info!(
                setup_began,
                connectors_ms,
                chat_ms,
                links_ms,
                window_ms,
                done = ms(launched),
                "start-up: the shell is set up (ms since launch)"
            );
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::list_connectors,
            commands::check_address,
            commands::check_keyring,
            commands::add_connector,
            commands::connector_detail,
            commands::reconnect,
            commands::set_enabled,
            commands::remove_connector,
            commands::take_notices,
            commands::keep_start_view,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::open_sign_in_page,
            commands::sign_out,
            commands::edit_connector,
            commands::models_overview,
            commands::add_provider,
            commands::remove_provider,
            commands::replace_provider_key,
            commands::refresh_models,
            commands::check_model,
            commands::set_default_model,
            commands::set_attachment_limit,
            commands::set_tool_mode,
            commands::bulk_tools,
            commands::set_tool_limits,
            commands::set_tool_options,
            commands::mark_tools_seen,
            commands::tool_activity,
            commands::export_activity,
            commands::answer_tool_approval,
            commands::stop_tool_call,
            commands::waiting_approvals,
            commands::list_conversations,
            commands::new_conversation,
            commands::open_conversation,
            commands::send_message,
            commands::stop_reply,
            commands::retry_reply,
            commands::regenerate_reply,
            commands::edit_message,
            commands::rename_conversation,
            commands::set_conversation_model,
            commands::delete_conversation,
            commands::attachables,
            commands::read_resource,
            commands::get_prompt,
            commands::complete_argument,
            commands::expand_template,
            commands::open_link,
            commands::show_kept_file,
            commands::answer_question,
            commands::waiting_questions,
            commands::server_messages,
        ])
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(err) => {
            tracing::error!(%err, "Switchboard could not start");
            std::process::exit(1);
        }
    }
}

/// The settings file, shared by the connectors and the models (each writes its own entries).
type SharedSettings = Arc<dyn settings::SettingsStore>;

fn open_connectors(
    app: &AppHandle,
) -> Result<(Connectors, SharedSettings), Box<dyn std::error::Error>> {
    let path = app.path().app_data_dir()?.join(settings::FILE_NAME);
    let pending = app.state::<PendingNotices>();
    for notice in settings::prepare(&path) {
        pending.push(notice);
    }
    let store = tauri_plugin_store::StoreBuilder::new(app, path.clone())
        .disable_auto_save()
        .build()?;
    let runtime = tauri::async_runtime::handle().inner().clone();
    let store = Arc::new(store::TauriStore { store, path });
    let secrets: Arc<dyn SecretStore> = Arc::new(Keyring::default());
    let browser: Arc<dyn OpenUrl> = Arc::new(SystemBrowser(app.clone()));
    match Connectors::load(
        Box::new(store.clone()),
        secrets.clone(),
        browser.clone(),
        Timeouts::default(),
        runtime.clone(),
    ) {
        Ok(connectors) => Ok((connectors, store)),
        // `prepare` leaves only readable files behind; should it fail anyway, start empty
        // in memory rather than not at all, and say so.
        Err(err) => {
            pending.push(Notice {
                level: NoticeLevel::Warning,
                message: "Your settings could not be loaded; changes made now will not be saved."
                    .into(),
                detail: err.detail.clone().or(Some(err.message.clone())),
                kept_file: None,
            });
            Ok((
                Connectors::load(
                    Box::new(MemoryStore),
                    secrets,
                    browser,
                    Timeouts::default(),
                    runtime,
                )?,
                Arc::new(MemoryStore),
            ))
        }
    }
}

/// The chat: its history in SQLite in the app's data folder, the models from the settings.
/// A history that cannot be opened leaves the chat in memory for this run, and says so.
fn open_chat(
    app: &AppHandle,
    settings: SharedSettings,
    connectors: &Connectors,
) -> Result<Chat, Box<dyn std::error::Error>> {
    let path = app
        .path()
        .app_data_dir()?
        .join(switchboard_core::chat::store::FILE_NAME);
    let store = ChatStore::open(&path).or_else(|err| {
        tracing::error!(%err.message, detail = ?err.detail, "the chat history could not be opened");
        app.state::<PendingNotices>().push(Notice {
            level: NoticeLevel::Warning,
            message: "Your conversations could not be opened; new ones will not be kept after Switchboard closes.".into(),
            detail: err.detail.clone().or(Some(err.message.clone())),
            kept_file: None,
        });
        ChatStore::open_in_memory()
    })?;
    let secrets: Arc<dyn SecretStore> = Arc::new(Keyring::default());
    let providers = Providers::load(Box::new(settings), secrets)?;
    let runtime = tauri::async_runtime::handle().inner().clone();
    Ok(Chat::new(store, providers, connectors.clone(), runtime))
}

fn forward_chat_events(app: &AppHandle, chat: &Chat) {
    let mut events = chat.subscribe();
    let app = app.clone();
    let after_bursts = app.state::<AfterBursts>().inner().clone();
    tauri::async_runtime::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let received = events.recv().await;
            after_bursts.busy();
            match received {
                Ok(chat_event) => {
                    if let Err(err) = wire::emit(&app, event::CHAT, &chat_event) {
                        tracing::warn!(%err, "could not send a chat event to the window");
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "window fell behind on chat events");
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// The person's default browser, through tauri-plugin-opener (`xdg-open`, `open`,
/// `ShellExecute`).
struct SystemBrowser(AppHandle);

impl OpenUrl for SystemBrowser {
    fn open(&self, url: &str) -> switchboard_core::Result<()> {
        self.0.opener().open_url(url, None::<&str>).map_err(|err| {
            switchboard_core::Error::new(
                switchboard_core::ErrorCode::Internal,
                "Switchboard could not open your browser.",
            )
            .with_detail(err.to_string())
        })
    }
}

/// Used only when the settings file cannot be loaded at all.
struct MemoryStore;

impl settings::SettingsStore for MemoryStore {
    fn load(&self) -> switchboard_core::Result<settings::Entries> {
        Ok(Settings::default().to_entries())
    }

    fn save(&self, _: &settings::Entries) -> switchboard_core::Result<()> {
        Err(switchboard_core::Error::new(
            switchboard_core::ErrorCode::Storage,
            "Your settings cannot be saved in this session.",
        ))
    }
}

fn forward_events(app: &AppHandle, connectors: &Connectors) {
    let mut events = connectors.subscribe();
    let app = app.clone();
    let after_bursts = app.state::<AfterBursts>().inner().clone();
    tauri::async_runtime::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let received = events.recv().await;
            after_bursts.busy();
            let sent = match received {
                Ok(Event::ConnectorChanged(summary)) => {
                    wire::emit(&app, event::CONNECTOR_CHANGED, &summary)
                }
                Ok(Event::ConnectorRemoved(id)) => wire::emit(&app, event::CONNECTOR_REMOVED, &id),
                Ok(Event::Notice(notice)) => wire::emit(&app, event::NOTICE, &notice),
                Ok(Event::Question(question)) => wire::emit(&app, event::QUESTION, &question),
                Ok(Event::ResourceUpdated(updated)) => {
                    wire::emit(&app, event::RESOURCE_UPDATED, &updated)
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "window fell behind on connector events");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            if let Err(err) = sent {
                tracing::warn!(%err, "could not send an event to the window");
            }
        }
    });
}

fn watch_deep_links(app: &AppHandle) {
    // Linux and Windows learn the scheme at run time. Without xdg-utils (or on a
    // read-only profile) this fails; sign-in then falls back to a loopback redirect.
    // An installed package (.deb, .rpm) declares the scheme in its own desktop file: then
    // nothing is written into the person's profile that would outlive the app.
    // A handler registered by an earlier start that still holds is left as it is.
    #[cfg(target_os = "linux")]
    let registered = {
        let scheme = switchboard_core::connectors::APP_SCHEME;
        if link_handler::installed(scheme) {
            tracing::info!("app links: the installed package handles them");
            true
        } else if link_handler::still_registered(app, scheme) {
            tracing::info!("app links: the handler of an earlier start is in place");
            true
        } else {
            false
        }
    };
    #[cfg(windows)]
    let registered = false;
    #[cfg(any(target_os = "linux", windows))]
    if !registered {
        match app.deep_link().register_all() {
            Ok(()) => {
                #[cfg(target_os = "linux")]
                link_handler::unquote(app);
                tracing::info!("app links: handler registered");
            }
            Err(err) => tracing::warn!(%err, "could not register the app's link scheme"),
        }
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        show_main_window(&handle);
        let connectors = handle.state::<Connectors>();
        for url in event.urls() {
            connectors.open_link(url.as_str());
        }
    });
}

/// The window from `tauri.conf.json` (made here rather than by Tauri, which would make it
/// before the connectors are loaded), with the connector list handed to the page: the first
/// view shows the person's connectors instead of "Loading" and a round trip for them.
fn open_main_window(
    app: &AppHandle,
    connectors: &Connectors,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|window| window.label == MAIN_WINDOW)
        .ok_or("tauri.conf.json has no main window")?
        .clone();
    let handed = start_view::handed(&connectors.list())?;
    let path = start_view_file(app)?;
    let kept = StartView::kept_for(&path, &handed);
    tracing::info!(kept = kept.is_some(), "start-up: the kept start view");
    let script = start_view::page_script(&handed, kept.as_ref());
    app.manage(HandedList(Mutex::new(handed)));
    let starter = connectors.clone();
    let window = tauri::WebviewWindowBuilder::from_config(app, &config)?
        .initialization_script(script)
        // Begun with the window, the connects' work shared the cores with WebKit's start: the
        // page was requested 34 to 106 ms after the blank window's (`cargo xtask bench`, two
        // cores); begun here, 20 ms before to 26 ms after. Once: a reload changes nothing.
        .on_page_load(move |_, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                tracing::info!("{PAGE_LOADED_LINE}");
                starter.start();
            }
        })
        .build()?;
    #[cfg(target_os = "linux")]
    {
        desktop_font(&window);
        reload_when_the_page_stops(&window, connectors);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
    Ok(())
}

/// What the app logs each time the window's page has loaded (at start, and again after
/// [`PAGE_STOPPED_LINE`]).
pub const PAGE_LOADED_LINE: &str = "the window's page loaded";

/// What the app logs when WebKit's process behind the window ended on its own (it crashed, or
/// the system took its memory): the window would stay blank until the app was restarted.
pub const PAGE_STOPPED_LINE: &str = "the window's page stopped";

/// How many times in a row the page is loaded again after it stopped, before the app stops
/// trying and says so in the window instead (a page that crashes at every load would
/// otherwise load forever).
#[cfg(target_os = "linux")]
const PAGE_RELOADS_IN_A_ROW: u32 = 3;

/// Stops count as "in a row" when each comes within this long of the one before.
#[cfg(target_os = "linux")]
const PAGE_RELOADS_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Linux: when WebKit's web process behind the window ends without being asked to (a crash,
/// or the system's memory limit), the page is loaded again, as a browser reloads a crashed
/// tab. Nothing the person made lives in the page: their connectors, chats and settings are
/// the core's. The page is handed the connector list as it is now (the one handed at the
/// start may be out of date, and so is the view kept for it).
#[cfg(target_os = "linux")]
fn reload_when_the_page_stops(window: &tauri::WebviewWindow, connectors: &Connectors) {
    use std::cell::{Cell, RefCell};
    use std::time::Instant;
    use webkit2gtk::{
        UserContentInjectedFrames, UserContentManagerExt, UserScript, UserScriptInjectionTime,
        WebProcessTerminationReason, WebViewExt,
    };

    let connectors = connectors.clone();
    let app = window.app_handle().clone();
    let result = window.with_webview(move |webview| {
        let last_stop: Cell<Option<Instant>> = Cell::new(None);
        let in_a_row = Cell::new(0u32);
        let handed_again: RefCell<Option<UserScript>> = RefCell::new(None);
        webview
            .inner()
            .connect_web_process_terminated(move |view, reason| {
                // Ended on purpose (the app closing, or its driver): nothing to mend.
                if reason == WebProcessTerminationReason::TerminatedByApi {
                    return;
                }
                let now = Instant::now();
                let again = last_stop
                    .replace(Some(now))
                    .is_some_and(|last| now.duration_since(last) < PAGE_RELOADS_WITHIN);
                in_a_row.set(if again { in_a_row.get() + 1 } else { 1 });
                if in_a_row.get() > PAGE_RELOADS_IN_A_ROW {
                    tracing::error!(
                        ?reason,
                        times = in_a_row.get(),
                        "{PAGE_STOPPED_LINE} again: not loading it any more"
                    );
                    // The address of the page that stopped, as the base: "Try again" loads it.
                    view.load_html(PAGE_GAVE_UP, view.uri().as_deref());
                    return;
                }
                tracing::error!(?reason, "{PAGE_STOPPED_LINE}: loading it again");
                match (
                    start_view::handed(&connectors.list()),
                    view.user_content_manager(),
                ) {
                    (Ok(handed), Some(scripts)) => {
                        // After the page script, which Tauri added when the window was made.
                        let script = UserScript::new(
                            &start_view::handed_script(&handed),
                            UserContentInjectedFrames::TopFrame,
                            UserScriptInjectionTime::Start,
                            &[],
                            &[],
                        );
                        if let Some(old) = handed_again.replace(Some(script.clone())) {
                            scripts.remove_script(&old);
                        }
                        scripts.add_script(&script);
                        app.state::<HandedList>().set(handed);
                    }
                    // The page then shows the list handed at the start until it has asked
                    // for the list again.
                    _ => tracing::warn!("the connector list was not handed to the page again"),
                }
                view.reload();
            });
    });
    if let Err(err) = result {
        tracing::warn!(%err, "the window will not be reloaded if its page stops");
    }
}

/// Shown when the page stopped [`PAGE_RELOADS_IN_A_ROW`] times in a row: plain HTML, no
/// script, in the window's own words, in the system's light or dark colours. Its base is the
/// window's page, so "Try again" (focused: Enter is enough) loads that page once more.
#[cfg(target_os = "linux")]
const PAGE_GAVE_UP: &str = "<!doctype html><meta charset=utf-8>\
<meta name=color-scheme content=\"light dark\"><title>Switchboard</title>\
<body style=\"font:16px sans-serif;margin:4em auto;max-width:32em;padding:0 1em\">\
<h1 style=\"font-size:1.4em\">Switchboard's window stopped working</h1>\
<p>It stopped several times in a row, so Switchboard stopped reopening it. \
Your connectors, chats and settings are safe.</p>\
<p>Try again, or quit Switchboard and open it again.</p>\
<form action=\"/\"><button autofocus style=\"font:inherit;padding:.4em 1.2em\">Try again</button>\
</form></body>";

/// Linux: the desktop's interface font (GTK's `gtk-font-name`: Cantarell, Noto Sans, …) as
/// WebKit's `sans-serif`, the family the page names there (`styles.css`, `data-os`). The page
/// does not name `system-ui` on Linux: WebKitGTK resolves it anew for every size and weight,
/// which made the first view's style and layout take 76 ms instead of 42.
#[cfg(target_os = "linux")]
fn desktop_font(window: &tauri::WebviewWindow) {
    use gtk::prelude::GtkSettingsExt;
    use webkit2gtk::{SettingsExt, WebViewExt};

    let Some(family) = gtk::Settings::default()
        .and_then(|settings| settings.gtk_font_name())
        .and_then(|name| gtk::pango::FontDescription::from_string(&name).family())
    else {
        return;
    };
    let result = window.with_webview(move |webview| {
        if let Some(settings) = WebViewExt::settings(&webview.inner()) {
            settings.set_sans_serif_font_family(&family);
        }
    });
    if let Err(err) = result {
        tracing::warn!(%err, "the desktop's font was not handed to the window");
    }
}

/// The connector list handed to the page at this start (or handed again when the page was
/// loaded again): what the page's first view is built from, and so what a start view it
/// sends is kept with.
pub struct HandedList(pub Mutex<String>);

impl HandedList {
    pub fn get(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    #[cfg(target_os = "linux")]
    fn set(&self, handed: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = handed;
    }
}

pub fn start_view_file(app: &AppHandle) -> Result<std::path::PathBuf, tauri::Error> {
    Ok(app.path().app_data_dir()?.join(start_view::FILE_NAME))
}

/// When the connects begin if the window's page has not loaded by then.
const CONNECT_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(3);

/// The label of the app's one window (`tauri.conf.json`, where it is not made at start).
const MAIN_WINDOW: &str = "main";

fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}
