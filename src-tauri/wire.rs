//! The wire to the window (`switchboard_ipc::wire`) in Tauri's terms: a command's request
//! read from the bytes the window invoked it with, its answer (or error) written as bytes,
//! and events sent as bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_ipc::{ErrorInfo, wire};
use tauri::ipc::{CommandArg, CommandItem, InvokeBody, InvokeError, Response};
use tauri::{AppHandle, Emitter, Runtime};

/// A command's request, decoded from the bytes it was invoked with (`Wire(request):
/// Wire<…>` in the command's arguments). Bytes that are not one reject the call, as does
/// JSON: only a window that does not speak the wire sends them.
pub struct Wire<T>(pub T);

impl<'de, R: Runtime, T: DeserializeOwned> CommandArg<'de, R> for Wire<T> {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        let refused = |why: String| InvokeError::from(format!("`{}`: {why}", command.name));
        match command.message.payload() {
            InvokeBody::Raw(bytes) => wire::decode(bytes).map(Wire).map_err(refused),
            InvokeBody::Json(_) => Err(refused("the request must be bytes".into())),
        }
    }
}

/// What every command returns. Tauri wants a `Result` from an async command that borrows
/// its state; the core's errors are inside the `Response` ([`answer`]), so the `Err` side
/// is never used.
pub type Answer = Result<Response, InvokeError>;

/// A command's answer: the bytes of its `Result`, so an error travels the way an answer
/// does and the window reads both with one decoder.
pub fn answer<T: Serialize>(reply: Result<T, ErrorInfo>) -> Answer {
    let bytes = wire::encode(&reply).or_else(|err| {
        tracing::error!(%err, "a command's answer could not be written for the window");
        wire::encode(&Err::<(), _>(ErrorInfo::internal(err)))
    });
    // Writing an error cannot fail (strings and numbers); were it to, the window reads no
    // answer and says so.
    Ok(Response::new(bytes.unwrap_or_default()))
}

/// Sends `payload` to the window as the event `name`.
pub fn emit<T: Serialize>(app: &AppHandle, name: &str, payload: &T) -> Result<(), String> {
    let bytes = wire::encode(payload)?;
    app.emit(name, bytes).map_err(|err| err.to_string())
}
