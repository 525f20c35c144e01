//! Audit records exported as CSV or JSON Lines, streamed page by page, masked as reads are.
//! Pages are keyed on the chain position (`seq`), so records appended during a long export
//! neither repeat nor shift a page. CSV comes from a real writer (the `csv` crate: separators,
//! quotes and line breaks quoted), with spreadsheet formulas defused: a text cell starting
//! with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (a number stays a
//! number), so an opened export never runs what a caller put in a memo or a name.

use super::Audit;
use super::read::{page, reader};
use crate::store::audit::Filter;
use serde_json::Value;
use std::io::Write;

/// Records read per page.
const PAGE: i64 = 1000;

/// The columns of a CSV export, in order.
pub const COLUMNS: &[&str] = &[
    "seq",
    "at",
    "kind",
    "request_id",
    "principal",
    "tier",
    "credential",
    "source",
    "operation",
    "acting",
    "customers",
    "amount",
    "currency",
    "outcome",
    "rule",
    "detail",
];

/// An export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, with a header row.
    Csv,
    /// One JSON record per line.
    JsonLines,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::JsonLines),
            other => Err(format!("unknown format `{other}` (csv or jsonl)")),
        }
    }
}

/// Writes every record `f` selects (at most `f.limit` when `limit` is `Some`, else all) to
/// `out`, newest first; returns how many.
pub async fn export(
    audit: &Audit,
    mut f: Filter,
    limit: Option<u64>,
    unmasked: bool,
    who: &str,
    format: Format,
    out: impl Write,
) -> Result<u64, String> {
    let masker = reader(audit, &f, unmasked, who).await?;
    let mut sink = match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS).map_err(|e| e.to_string())?;
            Sink::Csv(Box::new(w))
        }
        Format::JsonLines => Sink::Lines(out),
    };
    let mut written = 0u64;
    f.offset = 0;
    loop {
        let left = limit.map_or(PAGE, |l| {
            i64::try_from(l - written).unwrap_or(PAGE).min(PAGE)
        });
        if left <= 0 {
            break;
        }
        f.limit = left;
        let rows = page(audit, f.clone(), masker.as_ref()).await?;
        let Some(last) = rows.last().map(|(seq, _)| *seq) else {
            break;
        };
        for (_, v) in &rows {
            sink.write(v)?;
            written += 1;
        }
        sink.flush()?;
        f.before_seq = Some(last);
    }
    sink.flush()?;
    Ok(written)
}

/// Where records go.
enum Sink<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Lines(W),
}

impl<W: Write> Sink<W> {
    fn write(&mut self, v: &Value) -> Result<(), String> {
        match self {
            Sink::Csv(w) => w
                .write_record(COLUMNS.iter().map(|c| cell(&v[*c])))
                .map_err(|e| e.to_string()),
            Sink::Lines(w) => writeln!(w, "{v}").map_err(|e| e.to_string()),
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        match self {
            Sink::Csv(w) => w.flush(),
            Sink::Lines(w) => w.flush(),
        }
        .map_err(|e| e.to_string())
    }
}

/// A record's field as text: strings as they are, lists space-separated, the rest as JSON
/// (the console's table shows the same).
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// One CSV cell: the field as text, formulas defused.
fn cell(v: &Value) -> String {
    defused(text(v))
}

/// An export as a download on the admin listener (the console's and the admin API's).
pub fn download(format: Format, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "audit.csv"),
        Format::JsonLines => ("application/x-ndjson", "audit.jsonl"),
    };
    crate::answer::reply(
        crate::answer::Listener::Admin,
        http::StatusCode::OK,
        content_type,
        body,
        &[
            (
                "content-disposition",
                format!("attachment; filename=\"{name}\""),
            ),
            ("cache-control", "no-store".into()),
        ],
    )
}

/// A text cell a spreadsheet would read as a formula, made plain text.
fn defused(s: String) -> String {
    let number = s.parse::<rust_decimal::Decimal>().is_ok();
    if !number && s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(cell(&json!("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        assert_eq!(cell(&json!("+cmd|' /C calc'!A0")), "'+cmd|' /C calc'!A0");
        assert_eq!(cell(&json!("@SUM(A1)")), "'@SUM(A1)");
        assert_eq!(cell(&json!("\t=1")), "'\t=1");
        assert_eq!(cell(&json!("-12.50")), "-12.50");
        assert_eq!(cell(&json!(-3)), "-3");
        assert_eq!(
            cell(&json!("plain, with \"quotes\"")),
            "plain, with \"quotes\""
        );
        assert_eq!(cell(&json!(["c1", "c2"])), "c1 c2");
        assert_eq!(cell(&Value::Null), "");
    }

    #[test]
    fn the_writer_quotes_separators_quotes_and_line_breaks() -> Result<(), String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["a,b", "say \"hi\"", "two\nlines", "x"])
            .map_err(|e| e.to_string())?;
        let out = String::from_utf8(w.into_inner().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        assert_eq!(out, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",x\n");
        Ok(())
    }
}
