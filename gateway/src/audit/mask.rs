//! Masking of personal data in audit output, as the vendor's own exports do: customer names,
//! mobile numbers and e-mail addresses, and the identities of people signing in.
//!
//! Three passes over every string at any depth:
//! - fields that are personal data whole (`customer_name`, `email`, `mobile`, NameIDs...) are
//!   masked whole; a platform user id (`x_user_id`, `reseller:name_id`) keeps its reseller;
//! - free text anywhere (a memo, a refusal reason, a vendor message) has every e-mail address
//!   and mobile number in it masked;
//! - and every customer name the relationship graph knows ([`Masker::new`]), wherever it
//!   appears in a string (case-insensitive), so a name typed into a memo is masked too.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// The auditor role that may see personal data unmasked (each time audited).
pub const UNMASKED_ROLE: &str = "unmasked";

/// Field names whose values are personal data whole.
const SENSITIVE: &[&str] = &[
    "customer_name",
    "customer",
    "name",
    "mobile",
    "mobile_phone",
    "telephone",
    "phone",
    "email",
    "name_id",
    "nameid",
    "domain_name",
    "account_name",
    "user_name",
];

/// Field names holding a platform user id, `reseller:name_id`: the reseller stays readable.
const USER_IDS: &[&str] = &["x_user_id", "xUserId"];

/// Names shorter than this are not searched for in free text (they would mask ordinary
/// words and identifiers).
const MIN_NAME: usize = 3;

/// An e-mail address or a mobile number (mainland China's `1[3-9]` and nine digits, with an
/// optional country code, or any `+`-prefixed international number) inside free text.
static PERSONAL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        // `*` too: an address masked already masks to itself.
        r"[A-Za-z0-9._%+*\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+",
        r"|(?:\+?86[ \-]?)?\b1[3-9][0-9]{9}\b",
        r"|\+[0-9](?:[ \-]?[0-9]){7,15}\b",
    ))
    .ok()
});

/// Masks one value: keep the first and last character, star the rest; e-mail keeps its domain.
pub fn mask_str(s: &str) -> String {
    if let Some((user, domain)) = s.split_once('@') {
        return format!("{}@{domain}", mask_str(user));
    }
    let chars: Vec<char> = s.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 | 2 => "*".repeat(chars.len()),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// Masks personal data in audit records.
pub struct Masker {
    names: Option<AhoCorasick>,
}

impl Masker {
    /// A masker that also finds these customer names (from the relationship graph) in free
    /// text.
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let names: Vec<String> = names
            .into_iter()
            .filter(|n| n.trim().chars().count() >= MIN_NAME)
            .collect();
        let names = (!names.is_empty())
            .then(|| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&names)
                    .ok()
            })
            .flatten();
        Self { names }
    }

    /// Masks every personal datum in a record `v`, at any depth; what its own personal fields
    /// hold (a NameID, a name) is also masked where the record's free text repeats it.
    pub fn mask(&self, v: &mut Value) {
        let mut own = Vec::new();
        personal_values(v, &mut own);
        let local = (!own.is_empty()).then(|| Masker::new(own));
        self.walk(v, local.as_ref());
    }

    fn walk(&self, v: &mut Value, local: Option<&Masker>) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    match val {
                        Value::String(s) if SENSITIVE.contains(&k.as_str()) => {
                            *s = mask_str(s);
                        }
                        Value::String(s) if USER_IDS.contains(&k.as_str()) => {
                            *s = match s.split_once(':') {
                                Some((reseller, id)) => format!("{reseller}:{}", mask_str(id)),
                                None => mask_str(s),
                            };
                        }
                        _ => self.walk(val, local),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.walk(i, local)),
            Value::String(s) => {
                let text = local.map_or_else(|| s.clone(), |l| l.text(s));
                *s = self.text(&text);
            }
            _ => {}
        }
    }

    /// Free text with every name, e-mail address and mobile number in it masked.
    pub fn text(&self, s: &str) -> String {
        let mut out = match &self.names {
            Some(ac) => {
                let mut out = String::with_capacity(s.len());
                ac.replace_all_with(s, &mut out, |_, found, dst| {
                    dst.push_str(&mask_str(found));
                    true
                });
                out
            }
            None => s.to_owned(),
        };
        if let Some(re) = PERSONAL.as_ref()
            && re.is_match(&out)
        {
            out = re
                .replace_all(&out, |c: &regex::Captures<'_>| mask_str(&c[0]))
                .into_owned();
        }
        out
    }
}

/// The values of a record's personal fields (a platform user id's NameID part too).
fn personal_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                match val {
                    Value::String(s) if SENSITIVE.contains(&k.as_str()) => out.push(s.clone()),
                    Value::String(s) if USER_IDS.contains(&k.as_str()) => {
                        out.push(s.clone());
                        if let Some((_, id)) = s.split_once(':') {
                            out.push(id.to_owned());
                        }
                    }
                    _ => personal_values(val, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| personal_values(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_phones_and_emails_are_masked_at_any_depth() {
        let mut v = json!({"detail": {"records": [{"customer_name": "Acme Retail", "email": "ops@acme.example",
            "mobile": "13800001234", "customer_id": "cust-1"}]}, "operation": "x"});
        Masker::new(Vec::new()).mask(&mut v);
        let r = &v["detail"]["records"][0];
        assert_eq!(r["customer_name"], "A*********l");
        assert_eq!(r["email"], "o*s@acme.example");
        assert_eq!(r["mobile"], "1*********4");
        assert_eq!(
            r["customer_id"], "cust-1",
            "identifiers are not personal data"
        );
    }

    #[test]
    fn identities_and_free_text_are_masked_with_the_names_the_graph_knows() {
        let m = Masker::new(["Acme Retail".to_owned(), "Li".to_owned()]);
        let mut refused = json!({"detail": {"x_user_id": "res-1:u-4711",
            "reason": "res-1:u-4711 is bound through another reseller (res-2)"}});
        m.mask(&mut refused);
        assert_eq!(
            refused["detail"]["reason"], "r**********1 is bound through another reseller (res-2)",
            "a NameID the record names is masked in its free text too"
        );
        let mut v = json!({
            "detail": {
                "x_user_id": "res-1:alice@corp.example",
                "name_id": "alice@corp.example",
                "request": {"memo": "for ACME retail, call +86 13800001234 or alice@corp.example",
                            "customer_id": "QT13800001234"},
                "error_msg": "Lisa's order: reason given by bob.smith@example.com"
            }
        });
        m.mask(&mut v);
        let d = &v["detail"];
        assert_eq!(d["x_user_id"], "res-1:a***e@corp.example");
        assert_eq!(d["name_id"], "a***e@corp.example");
        let phone = mask_str("+86 13800001234");
        assert_eq!(
            d["request"]["memo"],
            format!("for A*********l, call {phone} or a***e@corp.example").as_str()
        );
        assert_eq!(
            d["request"]["customer_id"], "QT13800001234",
            "digits inside an identifier are not a phone number"
        );
        assert_eq!(
            d["error_msg"], "Lisa's order: reason given by b*******h@example.com",
            "a name too short to search for is left in ordinary words"
        );
    }
}
