//! Benchmark (`cargo xtask bench`, not part of the test run): what the permission gate adds
//! to a tool call — the decision, the counts and the activity log in SQLite — next to the
//! bare `tools/call` round trip to the same server, in the same run, alternating.
//! Prints numbers; asserts no time.

#[path = "support/registry.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use switchboard_core::chat::store::ChatStore;
use switchboard_core::chat::turn::{ToolCallRequest, ToolGate};
use switchboard_core::tools::gate::{Approvals, PermissionGate};
use switchboard_ipc::tools::ToolMode;
use switchboard_testkit as kit;

const ROUNDS: usize = 300;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn p95(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() * 95 / 100]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let everything = kit::Everything::start();
    measure(
        &runtime,
        everything.url(),
        "server-everything's echo (npm)",
        "everything_reference_server__echo",
    );
    drop(everything);
    let python = kit::PythonMcp::start();
    measure(
        &runtime,
        python.url(),
        "the PyPI fixture's echo",
        "python_fixture__echo",
    );
}

/// `echo` called bare and through the gate, alternating; prints the numbers.
fn measure(runtime: &tokio::runtime::Runtime, url: &str, what: &str, offered_as: &str) {
    let (mut bare, mut gated) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let connectors = support::open(&dir.path().join("settings.json"));
        let id = support::add(&connectors, url, None).await.id;
        support::settled(&connectors, &id).await;
        connectors
            .set_tool_mode(&id, "echo", ToolMode::Allow)
            .expect("allow echo");
        let store = ChatStore::open(&dir.path().join("history.sqlite3")).expect("history");
        let conversation = store.create_conversation("Bench", None).expect("chat").id;
        let gate = PermissionGate::new(
            connectors.clone(),
            store,
            Arc::new(Approvals::default()),
            conversation,
            Arc::new(|_| {}),
        );
        gate.offered();
        let session = connectors.session(&id).expect("session");
        let arguments = json!({"message": "bench"});
        let map = arguments.as_object().cloned().expect("object");
        for round in 0..=ROUNDS {
            let started = Instant::now();
            session
                .call_tool("echo", map.clone())
                .await
                .expect("bare call");
            let bare_ms = started.elapsed().as_secs_f64() * 1000.0;
            let started = Instant::now();
            let outcome = gate
                .call(&ToolCallRequest {
                    id: format!("b{round}"),
                    name: offered_as.into(),
                    arguments: arguments.clone(),
                })
                .await;
            assert!(!outcome.is_error, "{outcome:?}");
            let gated_ms = started.elapsed().as_secs_f64() * 1000.0;
            // The first round warms both paths up.
            if round > 0 {
                bare.push(bare_ms);
                gated.push(gated_ms);
            }
        }
    });
    let overhead: Vec<f64> = gated.iter().zip(&bare).map(|(g, b)| g - b).collect();
    let (bare_median, gated_median) = (median(&mut bare), median(&mut gated));
    println!("tool call to {what}, {ROUNDS} rounds each, alternating:");
    println!(
        "    bare tools/call              median {bare_median:7.2} ms   p95 {:7.2} ms",
        p95(&mut bare)
    );
    println!(
        "    through the gate (Allow)     median {gated_median:7.2} ms   p95 {:7.2} ms   ratio {:.2}",
        p95(&mut gated),
        gated_median / bare_median
    );
    let mut overhead = overhead;
    println!(
        "    the gate's part (decision, counts, log)  median {:.2} ms",
        median(&mut overhead)
    );
}
