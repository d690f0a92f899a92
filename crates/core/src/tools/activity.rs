//! Settings → Activity: every tool call the model made, as the person reads it and as a CSV
//! file they can keep.

use switchboard_ipc::tools::ActivityEntry;

/// The log as CSV (RFC 4180: a header, CRLF line ends, fields quoted when they hold a comma,
/// a quote or a line break). Times are UTC, ISO 8601.
pub fn to_csv(entries: &[ActivityEntry]) -> String {
    let mut out = String::from(
        "time,conversation,connector,tool,arguments,decision,rule,outcome,failed,duration_ms\r\n",
    );
    for e in entries {
        let time = chrono::DateTime::from_timestamp_millis(e.at_ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default();
        let fields = [
            time,
            e.conversation_title.clone().unwrap_or_default(),
            e.connector_name.clone(),
            e.tool.clone(),
            e.arguments.clone(),
            if e.ran { "ran" } else { "refused" }.to_owned(),
            e.rule.clone(),
            e.outcome.clone().unwrap_or_default(),
            e.is_error.map(|f| f.to_string()).unwrap_or_default(),
            e.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn field(text: &str) -> String {
    // A spreadsheet runs a cell starting with these as a formula: not from a server's text.
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_ipc::ConnectorId;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        let entry = ActivityEntry {
            id: 1,
            at_ms: 1_764_500_000_123,
            conversation_title: Some("Plan, \"v2\"".into()),
            conversation_id: 3,
            connector_id: ConnectorId("c".into()),
            connector_name: "Docs".into(),
            tool: "search".into(),
            arguments: r#"{"q":"a,b"}"#.into(),
            ran: false,
            rule: "denied by the person".into(),
            outcome: Some("=HYPERLINK(\"x\")\nsecond line".into()),
            is_error: Some(true),
            duration_ms: Some(12),
        };
        let csv = to_csv(&[entry]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "time,conversation,connector,tool,arguments,decision,rule,outcome,failed,duration_ms"
        );
        assert_eq!(
            lines[1],
            "2025-11-30T10:53:20.123Z,\"Plan, \"\"v2\"\"\",Docs,search,\"{\"\"q\"\":\"\"a,b\"\"}\",refused,denied by the person,\"'=HYPERLINK(\"\"x\"\")\nsecond line\",true,12"
        );
    }
}
