//! Audit records exported as CSV or JSON Lines, streamed page by page, masked as reads are.
//! Pages are keyed on the chain position (`seq`), so records appended during a long export
//! neither repeat nor shift a page. CSV comes from a real writer (the `csv` crate: separators,
//! quotes and line breaks quoted), with spreadsheet formulas defused: a text cell starting
//! with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (a number stays a
//! number), so an opened export never runs what a caller put in a memo or a name.

use super::read::{Source, page, reader};
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

/// What an export selects, and for whom.
#[derive(Debug, Clone)]
pub struct Export {
    /// Which records (newest first).
    pub filter: Filter,
    /// At most this many (none: all).
    pub limit: Option<u64>,
    /// Personal data unmasked (the caller was allowed and asked).
    pub unmasked: bool,
    /// Who reads, for the audit record of unmasked access.
    pub who: String,
    /// CSV or JSON Lines.
    pub format: Format,
}

/// Writes every record `f` selects (at most `limit`, else all) to `out`, newest first;
/// returns how many.
pub async fn export<'a>(
    audit: impl Into<Source<'a>>,
    f: Filter,
    limit: Option<u64>,
    unmasked: bool,
    who: &str,
    format: Format,
    mut out: impl Write + Send,
) -> Result<u64, String> {
    let e = Export {
        filter: f,
        limit,
        unmasked,
        who: who.to_owned(),
        format,
    };
    stream(audit, e, &mut Collect(&mut out)).await
}

/// Where an export's pages go as they are read.
#[async_trait::async_trait]
pub trait Emit: Send {
    /// Takes the next piece of the file.
    async fn emit(&mut self, chunk: Vec<u8>) -> Result<(), String>;
}

/// Pages written into something that writes.
struct Collect<'a, W>(&'a mut W);

#[async_trait::async_trait]
impl<W: Write + Send> Emit for Collect<'_, W> {
    async fn emit(&mut self, chunk: Vec<u8>) -> Result<(), String> {
        self.0.write_all(&chunk).map_err(|e| e.to_string())
    }
}

/// The export, handed to `emit` a page at a time as it is read (a large range is never held
/// whole: the admin listener sends each page on as the next is read); returns how many.
pub async fn stream<'a>(
    from: impl Into<Source<'a>>,
    e: Export,
    out: &mut dyn Emit,
) -> Result<u64, String> {
    let audit = from.into();
    let mut f = e.filter;
    let masker = reader(audit, &f, e.unmasked, &e.who).await?;
    let buf = Pending::default();
    let mut sink = match e.format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(buf.clone());
            w.write_record(COLUMNS).map_err(|e| e.to_string())?;
            Sink::Csv(Box::new(w))
        }
        Format::JsonLines => Sink::Lines(buf.clone()),
    };
    let mut written = 0u64;
    f.offset = 0;
    loop {
        let left = e.limit.map_or(PAGE, |l| {
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
        out.emit(buf.take()).await?;
        f.before_seq = Some(last);
    }
    sink.flush()?;
    let rest = buf.take();
    if !rest.is_empty() {
        out.emit(rest).await?;
    }
    Ok(written)
}

/// Bytes written and not yet emitted (the writers own a handle; the loop takes them).
#[derive(Clone, Default)]
struct Pending(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Pending {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for Pending {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

/// An export's download headers: its type, its file name, never cached.
pub fn download_headers(format: Format) -> (&'static str, Vec<(&'static str, String)>) {
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "audit.csv"),
        Format::JsonLines => ("application/x-ndjson", "audit.jsonl"),
    };
    let headers = vec![
        (
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        ),
        ("cache-control", "no-store".into()),
    ];
    (content_type, headers)
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
