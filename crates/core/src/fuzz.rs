//! Property tests in place of fuzzing (`cargo fuzz` needs a nightly toolchain, which cannot
//! be installed from the registries this project may use): the parsers of what a server, a
//! link or a file hands Switchboard are fed generated input — random, and shaped like the
//! real thing so the deep paths are reached — and must never panic, and must keep their
//! promises. Each target runs [`cases`] cases (`SWITCHBOARD_FUZZ_CASES`, 1,000 by default)
//! in every `cargo test`; the model stream parsers' targets are in `models/fuzz.rs`.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

/// How many cases each target runs.
pub(crate) fn cases() -> Config {
    let cases = std::env::var("SWITCHBOARD_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    Config {
        cases,
        // A failure prints its smallest input; nothing is written into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any JSON, objects keyed from `keys` (a format's own field names, so its decoder's
/// deeper paths are reached) or from anything, at most four levels deep.
pub(crate) fn json_with_keys(keys: &'static [&'static str]) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..40).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(keys).prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let key =
            prop_oneof![4 => prop::sample::select(keys).prop_map(str::to_owned), 1 => ".{0,8}"];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::vec((key, inner), 0..7)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// Text shaped like an address: a scheme, user info, a host (names, IPs, brackets, odd
/// characters), a port, a path, a query and a fragment, each maybe missing or odd.
fn address_like() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("https://"),
            Just("http://"),
            Just("HTTPS://"),
            Just("file://"),
            Just("javascript:"),
            Just("io.switchboard.desktop:"),
            Just("//"),
            Just(""),
        ],
        prop_oneof![
            Just(String::new()),
            "[a-z]{0,4}:[a-z]{0,4}@",
            Just("@".to_owned())
        ],
        prop_oneof![
            "[a-z0-9.-]{0,20}",
            Just("127.0.0.1".to_owned()),
            Just("[::1]".to_owned()),
            Just("localhost".to_owned()),
            "\\PC{0,8}",
        ],
        prop_oneof![
            Just(String::new()),
            (0u32..70_000).prop_map(|p| format!(":{p}"))
        ],
        "(/[a-zA-Z0-9%._~-]{0,8}){0,3}",
        prop_oneof![Just(String::new()), "\\?[a-z=&%]{0,16}"],
        prop_oneof![Just(String::new()), "#\\PC{0,8}"],
        prop_oneof![Just(""), Just("  "), Just("\n"), Just("\u{0}")],
    )
        .prop_map(|(scheme, user, host, port, path, query, fragment, pad)| {
            format!("{pad}{scheme}{user}{host}{port}{path}{query}{fragment}{pad}")
        })
}

proptest! {
    #![proptest_config(cases())]

    /// The address check, on anything typed or pasted.
    #[test]
    fn the_address_check_never_panics_and_accepts_only_web_addresses(
        input in prop_oneof![address_like(), "\\PC{0,60}", ".{0,60}"]
    ) {
        if let Ok(checked) = crate::address::check(&input) {
            let url = url::Url::parse(&checked.url).expect("an accepted address parses");
            prop_assert!(matches!(url.scheme(), "http" | "https"), "{input:?} gave {url}");
            prop_assert!(url.host().is_some());
        }
    }

    /// The app's own link (a sign-in coming back), from anywhere on the system.
    #[test]
    fn the_link_parser_never_panics(
        input in prop_oneof![
            address_like(),
            (
                prop_oneof![
                    Just("io.switchboard.desktop:/oauth/callback"),
                    Just("io.switchboard.desktop:///oauth/callback"),
                    Just("io.switchboard.desktop://oauth/callback"),
                ],
                "(/[a-z0-9%.-]{0,10}){0,2}",
                "\\??((code|state|error|iss|error_description)=[a-zA-Z0-9%+._-]{0,12}&?){0,5}",
            )
                .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        ]
    ) {
        let _ = crate::redirect::Redirect::parse(&input);
    }

    /// The settings file's contents, as the loader reads them: whatever loads saves and
    /// loads again to the same settings.
    #[test]
    fn the_settings_loader_never_panics_and_what_loads_survives_a_save(
        entries in prop::collection::vec(
            (
                prop_oneof![Just("connectors".to_owned()), Just("keyring_leftovers".to_owned()), ".{0,8}"],
                prop_oneof![
                    prop::collection::vec(json_with_keys(SETTINGS_KEYS), 0..4).prop_map(Value::from),
                    json_with_keys(SETTINGS_KEYS),
                ],
            ),
            0..4,
        )
    ) {
        let entries: Map<String, Value> = entries.into_iter().collect();
        if let Ok(settings) = crate::settings::Settings::from_entries(&entries) {
            let again = crate::settings::Settings::from_entries(&settings.to_entries())
                .expect("saved settings load");
            prop_assert_eq!(again, settings);
        }
    }

    /// The settings file as bytes on disk, garbage included.
    #[test]
    fn a_settings_file_of_any_bytes_opens(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("settings.json");
        std::fs::write(&path, &bytes).expect("written");
        let (store, _notices) = crate::settings::FileStore::open(&path);
        let _ = crate::settings::SettingsStore::load(&store);
    }

    /// The event-stream parser both the legacy transport and the model adapters read
    /// through: any bytes, cut anywhere, give the same events as the same bytes in one
    /// piece, and never an error.
    #[test]
    fn the_event_stream_parser_reads_the_same_however_the_bytes_are_cut(
        lines in prop::collection::vec(
            prop_oneof![
                "(event|data|id|retry): ?\\PC{0,16}",
                "data:\\PC{0,16}",
                ":\\PC{0,8}",
                Just(String::new()),
                "\\PC{0,16}",
            ],
            0..12,
        ),
        ending in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        cuts in prop::collection::vec(0usize..512, 0..6),
    ) {
        let text = lines.join(ending);
        let bytes = text.as_bytes();
        let whole = sse_events(vec![bytes.to_vec()]);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut from = 0;
        for cut in cuts {
            pieces.push(bytes[from..cut].to_vec());
            from = cut;
        }
        pieces.push(bytes[from..].to_vec());
        prop_assert!(whole.iter().all(Result::is_ok), "{:?}", whole);
        prop_assert_eq!(sse_events(pieces), whole);
    }

    /// Any bytes at all, UTF-8 or not.
    #[test]
    fn the_event_stream_parser_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(sse_events(vec![bytes]).iter().all(Result::is_ok));
    }

    /// A server's form (elicitation): any schema, and any answer to a form that was shown.
    #[test]
    fn a_servers_form_and_any_answer_to_it_are_judged_without_panic(
        properties in prop::collection::vec((".{1,12}", json_with_keys(FORM_KEYS)), 0..6),
        content in prop::collection::vec((".{1,12}", json_with_keys(FORM_KEYS)), 0..6),
    ) {
        for (name, property) in &properties {
            if let Ok(field) = crate::ask::field_of(name, property, true) {
                prop_assert!(field.label.chars().count() <= 200);
                prop_assert!(!field.label.chars().any(char::is_control));
                let fields = [field];
                let _ = crate::ask::check_answer(&fields, content.iter().cloned().collect());
                // What the form offers as its defaults is an answer it accepts.
                let defaults = crate::ask::defaults(&fields);
                if let Err(err) = crate::ask::check_answer(&fields, defaults.clone()) {
                    // Only a required field without a default, or a default out of bounds.
                    prop_assert!(
                        defaults.is_empty() || !err.message.contains("is required"),
                        "{:?} refused its defaults {:?}: {}", fields, defaults, err.message
                    );
                }
            }
        }
    }

    /// A server's words on their way to the screen.
    #[test]
    fn shown_text_is_bounded_and_plain(text in "\\PC{0,300}|.{0,300}", max in 0usize..120) {
        let line = crate::text::one_line(&text, max);
        prop_assert!(line.chars().count() <= max);
        prop_assert!(!line.chars().any(|c| c.is_control()));
        let paragraphs = crate::text::paragraphs(&text, max);
        prop_assert!(paragraphs.chars().count() <= max);
        prop_assert!(!paragraphs.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
    }
}

/// Field names of the settings file, so generated files reach the connector records.
const SETTINGS_KEYS: &[&str] = &[
    "id",
    "name",
    "name_is_custom",
    "url",
    "enabled",
    "sign_in",
    "kind",
    "automatic",
    "api_key",
    "basic",
    "header",
    "username",
    "client_id",
    "has_client_secret",
    "tools",
    "modes",
    "limits",
    "pins",
    "seen",
    "call_timeout_secs",
    "allow_elicitation",
    "allow_sampling",
    "era",
    "stateless",
    "sessions",
    "legacy_sse",
];

/// Field names of an elicitation schema's properties.
const FORM_KEYS: &[&str] = &[
    "type",
    "string",
    "number",
    "integer",
    "boolean",
    "array",
    "title",
    "description",
    "default",
    "format",
    "email",
    "uri",
    "date",
    "date-time",
    "enum",
    "enumNames",
    "oneOf",
    "anyOf",
    "const",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
];

/// The events a byte stream cut into `pieces` carries, through the parser the app uses.
fn sse_events(pieces: Vec<Vec<u8>>) -> Vec<Result<crate::sse::Sse, crate::sse::SseError>> {
    use futures_util::StreamExt;
    let chunks = futures_util::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(crate::sse::events(chunks).collect())
}
