//! Property tests of both providers' stream parsers (see `crate::fuzz`): any sequence of
//! events — shaped like the provider's own, with its field names, or anything at all —
//! is read without a panic, and a reply that stops stops once, at its end.

use proptest::prelude::*;

use super::ModelEvent;
use super::wire::Decoder;
use crate::fuzz::{cases, json_with_keys};
use crate::sse::Sse;

const OPENAI_KEYS: &[&str] = &[
    "choices",
    "index",
    "delta",
    "content",
    "role",
    "tool_calls",
    "id",
    "type",
    "function",
    "name",
    "arguments",
    "finish_reason",
    "stop",
    "tool_calls",
    "length",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "error",
    "message",
    "code",
];

const ANTHROPIC_KEYS: &[&str] = &[
    "type",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "index",
    "message",
    "usage",
    "input_tokens",
    "output_tokens",
    "content_block",
    "text",
    "tool_use",
    "id",
    "name",
    "input",
    "delta",
    "text_delta",
    "input_json_delta",
    "partial_json",
    "stop_reason",
    "end_turn",
    "max_tokens",
    "overloaded_error",
];

/// One event of a stream: a name maybe, and data that is the provider's JSON, `[DONE]`,
/// or any text.
fn event(keys: &'static [&'static str]) -> impl Strategy<Value = Sse> {
    (
        prop::option::of(prop::sample::select(keys).prop_map(str::to_owned)),
        prop_oneof![
            6 => json_with_keys(keys).prop_map(|v| Some(v.to_string())),
            1 => Just(Some("[DONE]".to_owned())),
            1 => prop::option::of(".{0,20}"),
        ],
    )
        .prop_map(|(event, data)| Sse {
            event,
            data,
            ..Sse::default()
        })
}

/// Reads `events` as the reply stream does: until the decoder says the reply finished or
/// an error, then the end of the body.
fn read(mut decoder: impl Decoder, events: Vec<Sse>) -> Vec<ModelEvent> {
    let mut out = Vec::new();
    for event in events {
        if decoder.finished() {
            return out;
        }
        match decoder.feed(event) {
            Ok(events) => out.extend(events),
            Err(_) => return out,
        }
    }
    if !decoder.finished()
        && let Ok(events) = decoder.end()
    {
        out.extend(events);
    }
    out
}

fn stops_once_at_the_end(events: &[ModelEvent]) -> bool {
    let stops = events
        .iter()
        .filter(|e| matches!(e, ModelEvent::Stop(_)))
        .count();
    stops == 0 || (stops == 1 && matches!(events.last(), Some(ModelEvent::Stop(_))))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn the_openai_stream_parser_never_panics_and_stops_once(
        events in prop::collection::vec(event(OPENAI_KEYS), 0..12)
    ) {
        let read = read(super::openai::Events::default(), events);
        prop_assert!(stops_once_at_the_end(&read), "{:?}", read);
    }

    #[test]
    fn the_anthropic_stream_parser_never_panics_and_stops_once(
        events in prop::collection::vec(event(ANTHROPIC_KEYS), 0..12)
    ) {
        let read = read(super::anthropic::Events::default(), events);
        prop_assert!(stops_once_at_the_end(&read), "{:?}", read);
    }
}
