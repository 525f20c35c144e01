//! W3C trace context (`traceparent`): a caller's trace is carried on, else one begins with the
//! request's id. The request is one span of it: logged with its trace id, and the vendor gets
//! the same trace with this span as its parent.

use pingora::http::RequestHeader;

/// A request's place in a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The caller's span (16 hex digits), when it sent a trace.
    pub parent: Option<String>,
    /// This request's span (16 hex digits).
    pub span: String,
    /// The caller's flags (`01`: sampled); `01` for a trace begun here.
    flags: String,
}

impl Trace {
    /// The trace of a request: its valid `traceparent` (sent once), else one begun with
    /// `request_id` (32 hex digits, random), whose second half is this request's span id.
    pub fn of(req: &RequestHeader, request_id: &str) -> Trace {
        let span = request_id
            .get(16..32)
            .unwrap_or("0000000000000001")
            .to_owned();
        let mut sent = req.headers.get_all("traceparent").iter();
        let given = match (sent.next(), sent.next()) {
            (Some(v), None) => v.to_str().ok().and_then(parse),
            _ => None,
        };
        match given {
            Some((trace_id, parent, flags)) => Trace {
                trace_id,
                parent: Some(parent),
                span,
                flags,
            },
            None => Trace {
                trace_id: request_id.get(..32).unwrap_or(request_id).to_owned(),
                parent: None,
                span,
                flags: "01".to_owned(),
            },
        }
    }

    /// The `traceparent` the vendor gets: this trace, this request's span as parent.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span, self.flags)
    }
}

/// `version-trace_id-parent_id-flags`, per W3C Trace Context: version `00` (exactly four
/// fields) or a later one (more may follow), never `ff`; ids lowercase hex and not all zero.
fn parse(v: &str) -> Option<(String, String, String)> {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut parts = v.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next();
    let ok = hex(version, 2)
        && version != "ff"
        && (version != "00" || rest.is_none())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    ok.then(|| (trace.to_owned(), parent.to_owned(), flags.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(values: &[&str]) -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap_or_else(|_| unreachable!());
        for v in values {
            let _ = r.append_header("traceparent", *v);
        }
        r
    }

    const ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn a_callers_trace_is_carried_on_with_this_request_as_its_span() {
        let t = Trace::of(
            &req(&["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]),
            ID,
        );
        assert_eq!(t.trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(t.parent.as_deref(), Some("b7ad6b7169203331"));
        assert_eq!(
            t.header(),
            "00-0af7651916cd43dd8448eb211c80319c-a3ce929d0e0e4736-01"
        );
    }

    #[test]
    fn a_bad_or_doubled_traceparent_begins_a_new_trace() {
        let bad = [
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        ];
        for v in bad {
            let t = Trace::of(&req(&[v]), ID);
            assert_eq!((t.trace_id.as_str(), t.parent), (ID, None), "{v}");
        }
        let twice = req(&[
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ]);
        assert_eq!(Trace::of(&twice, ID).parent, None);
        // A later version may carry more fields.
        let later = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more";
        assert!(Trace::of(&req(&[later]), ID).parent.is_some());
    }
}
