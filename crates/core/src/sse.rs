//! Server-sent events, read as the WHATWG HTML standard says a browser reads them: the model
//! providers' reply streams and the legacy MCP transport both arrive this way.
//!
//! Written here rather than taken from `sse-stream` (which rmcp brings along): that parser
//! fails the whole stream on lines the standard says to ignore (a line without a colon, a
//! repeated `event:`), and how it fails depended on where the network cut the bytes (found
//! by the property tests in `fuzz.rs`). This one never fails on what a server writes; only
//! an event larger than [`MAX_EVENT`] (a server that never ends one) stops it.

use std::collections::VecDeque;

use futures_util::{Stream, StreamExt};

/// The most one event may carry before the stream is given up: a reply or a message this
/// big is a server gone wrong, and reading on would only fill the memory.
pub const MAX_EVENT: usize = 32 * 1024 * 1024;

/// One event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sse {
    /// Its type (`event:`); none for the default, `message`.
    pub event: Option<String>,
    /// Its `data:` lines, joined with line breaks.
    pub data: Option<String>,
    /// The last `id:` seen, as the standard keeps it from event to event.
    pub id: Option<String>,
    /// A `retry:` it carried, in milliseconds.
    pub retry: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// The connection failed (its words).
    #[error("the stream broke: {0}")]
    Body(String),
    #[error("an event was larger than {} MB", MAX_EVENT / (1024 * 1024))]
    TooLarge,
}

/// Reads events out of bytes as they arrive, cut anywhere.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes of a line not ended yet.
    line: Vec<u8>,
    /// The last chunk ended with a CR: an LF at the start of the next belongs to it.
    after_cr: bool,
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    retry: Option<u64>,
    ready: VecDeque<Sse>,
}

impl Parser {
    /// Takes the next bytes; the events they complete are in [`Parser::next_event`].
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), SseError> {
        // An empty chunk (a stream may deliver one) leaves a CR waiting for its LF.
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = bytes.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.line.extend_from_slice(&bytes[..end]);
            let line = std::mem::take(&mut self.line);
            self.line_ended(&line)?;
            let crlf = bytes[end] == b'\r';
            bytes = &bytes[end + 1..];
            if crlf {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
        }
        self.line.extend_from_slice(bytes);
        if self.line.len() + self.data.len() > MAX_EVENT {
            return Err(SseError::TooLarge);
        }
        Ok(())
    }

    /// The body ended: an event whose lines all ended, but not the blank line after them, is
    /// still delivered (servers that close right after their last line are common); a line
    /// cut off half way is not.
    pub fn finish(&mut self) {
        self.line.clear();
        self.dispatch();
    }

    pub fn next_event(&mut self) -> Option<Sse> {
        self.ready.pop_front()
    }

    fn line_ended(&mut self, line: &[u8]) -> Result<(), SseError> {
        let mut line = String::from_utf8_lossy(line);
        if !self.started {
            self.started = true;
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest.to_owned().into();
            }
        }
        if line.is_empty() {
            self.dispatch();
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.data.len() + value.len() + 1 > MAX_EVENT {
                    return Err(SseError::TooLarge);
                }
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
        Ok(())
    }

    /// A blank line: the event gathered so far, if it has data, is ready.
    fn dispatch(&mut self) {
        let event = self.event.take();
        let retry = self.retry.take();
        if !std::mem::take(&mut self.has_data) {
            self.data.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        self.ready.push_back(Sse {
            event: event.filter(|e| !e.is_empty()),
            data: Some(data),
            id: self.id.clone(),
            retry,
        });
    }
}

/// The events of a body that arrives as a stream of byte chunks (a reqwest response's
/// `bytes_stream()`). After an error nothing follows.
pub fn events<S, B, E>(
    body: S,
) -> std::pin::Pin<Box<dyn Stream<Item = Result<Sse, SseError>> + Send>>
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    struct State<S> {
        body: S,
        parser: Parser,
        ended: bool,
    }
    Box::pin(futures_util::stream::unfold(
        Some(State {
            body: Box::pin(body),
            parser: Parser::default(),
            ended: false,
        }),
        |state| async move {
            let mut state = state?;
            loop {
                if let Some(event) = state.parser.next_event() {
                    return Some((Ok(event), Some(state)));
                }
                if state.ended {
                    return None;
                }
                match state.body.next().await {
                    Some(Ok(chunk)) => {
                        if let Err(err) = state.parser.feed(chunk.as_ref()) {
                            return Some((Err(err), None));
                        }
                    }
                    Some(Err(err)) => return Some((Err(SseError::Body(err.to_string())), None)),
                    None => {
                        state.ended = true;
                        state.parser.finish();
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Sse> {
        let mut parser = Parser::default();
        parser.feed(text.as_bytes()).expect("fed");
        parser.finish();
        std::iter::from_fn(|| parser.next_event()).collect()
    }

    fn data(event: Option<&str>, data: &str) -> Sse {
        Sse {
            event: event.map(str::to_owned),
            data: Some(data.to_owned()),
            ..Sse::default()
        }
    }

    #[test]
    fn events_are_read_as_the_standard_says() {
        // The standard's own examples: data lines joined, a lone `data` is an empty line,
        // comments and unknown fields ignored, one leading space dropped.
        assert_eq!(
            parse("data: YHOO\ndata: +2\ndata: 10\n\n"),
            [data(None, "YHOO\n+2\n10")]
        );
        assert_eq!(
            parse(
                ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
            ),
            [
                Sse {
                    id: Some("1".into()),
                    ..data(None, "first event")
                },
                Sse {
                    id: Some(String::new()),
                    ..data(None, "second event")
                },
                Sse {
                    id: Some(String::new()),
                    ..data(None, " third event")
                },
            ]
        );
        assert_eq!(
            parse("data\n\ndata\ndata\n\ndata:\n"),
            [data(None, ""), data(None, "\n"), data(None, "")]
        );
        // Lines a stricter parser refused: no colon, a repeated type (the last wins), an
        // unknown field, a retry that is no number.
        assert_eq!(
            parse("hello\nevent: a\nevent: b\nfoo: bar\nretry: soon\ndata: x\n\n"),
            [data(Some("b"), "x")]
        );
        // CR, LF and CRLF end lines alike; a BOM at the start is dropped; an event with no
        // data is no event.
        assert_eq!(
            parse("\u{feff}event: e\r\ndata: 1\r\rdata: 2\r\n\r\nevent: nothing\n\n"),
            [data(Some("e"), "1"), data(None, "2")]
        );
    }

    #[test]
    fn a_line_cut_between_cr_and_lf_is_one_line_break() {
        let mut parser = Parser::default();
        parser.feed(b"data: a\r").expect("fed");
        parser.feed(b"\n\r").expect("fed");
        parser.feed(b"\ndata: b\n\n").expect("fed");
        let events: Vec<_> = std::iter::from_fn(|| parser.next_event()).collect();
        assert_eq!(events, [data(None, "a"), data(None, "b")]);

        // With an empty chunk between the two (a stream may deliver one), the LF still ends
        // the same line: no blank line, so one event.
        let mut parser = Parser::default();
        parser.feed(b"data: a\r").expect("fed");
        parser.feed(b"").expect("fed");
        parser.feed(b"\ndata: b\n\n").expect("fed");
        let events: Vec<_> = std::iter::from_fn(|| parser.next_event()).collect();
        assert_eq!(events, [data(None, "a\nb")]);
    }

    #[test]
    fn an_endless_event_is_given_up() {
        let mut parser = Parser::default();
        let line = format!("data: {}\n", "x".repeat(1024 * 1024));
        let mut outcome = Ok(());
        for _ in 0..40 {
            outcome = parser.feed(line.as_bytes());
            if outcome.is_err() {
                break;
            }
        }
        assert_eq!(outcome, Err(SseError::TooLarge));
        // A line that never ends, too.
        let mut parser = Parser::default();
        let chunk = vec![b'x'; 1024 * 1024];
        let outcome = (0..40).try_for_each(|_| parser.feed(&chunk));
        assert_eq!(outcome, Err(SseError::TooLarge));
    }
}
