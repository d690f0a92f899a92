//! A conversation's permission gate over a registry, for tests that call tools as the
//! chat does, and what a call's outcome says.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::Connectors;
use switchboard_core::chat::Part;
use switchboard_core::chat::store::ChatStore;
use switchboard_core::tools::gate::{Approvals, PermissionGate};
use switchboard_ipc::chat::ChatEvent;
use switchboard_ipc::tools::ToolApproval;
use tokio::sync::mpsc;

pub struct Fixture {
    pub connectors: Connectors,
    pub store: ChatStore,
    pub conversation: i64,
    pub approvals: Arc<Approvals>,
    pub events: mpsc::UnboundedReceiver<ChatEvent>,
    pub sender: mpsc::UnboundedSender<ChatEvent>,
}

impl Fixture {
    /// A conversation titled `title` in a history under `dir`, for `connectors`' tools.
    pub fn new(connectors: &Connectors, dir: &std::path::Path, title: &str) -> Self {
        let store = ChatStore::open(&dir.join("history.sqlite3")).expect("history");
        let conversation = store.create_conversation(title, None).expect("a chat").id;
        let (sender, events) = mpsc::unbounded_channel();
        Self {
            connectors: connectors.clone(),
            store,
            conversation,
            approvals: Arc::new(Approvals::default()),
            events,
            sender,
        }
    }

    pub fn gate(&self) -> PermissionGate {
        let sender = self.sender.clone();
        PermissionGate::new(
            self.connectors.clone(),
            self.store.clone(),
            Arc::clone(&self.approvals),
            self.conversation,
            Arc::new(move |event| {
                let _ = sender.send(event);
            }),
        )
    }

    pub async fn approval(&mut self) -> ToolApproval {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(30), self.events.recv())
                .await
                .expect("an approval within 30 s")
                .expect("events");
            if let ChatEvent::ToolApproval { approval, .. } = event {
                return approval;
            }
        }
    }
}

pub fn text(outcome: &switchboard_core::chat::turn::ToolOutcome) -> String {
    outcome
        .content
        .iter()
        .filter_map(|p| match p {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}
