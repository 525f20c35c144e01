//! Masking of personal data in audit output, as the vendor's own exports do: customer names,
//! mobile numbers and e-mail addresses.

use serde_json::Value;

/// The auditor role that may see personal data unmasked (each time audited).
pub const UNMASKED_ROLE: &str = "unmasked";

/// Field names whose values are masked wherever they appear.
const SENSITIVE: &[&str] = &[
    "customer_name",
    "customer",
    "name",
    "mobile",
    "mobile_phone",
    "telephone",
    "phone",
    "email",
];

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

/// Masks every sensitive field, at any depth.
pub fn mask(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SENSITIVE.contains(&k.as_str()) {
                    if let Value::String(s) = val {
                        *s = mask_str(s);
                    }
                } else {
                    mask(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
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
        mask(&mut v);
        let r = &v["detail"]["records"][0];
        assert_eq!(r["customer_name"], "A*********l");
        assert_eq!(r["email"], "o*s@acme.example");
        assert_eq!(r["mobile"], "1*********4");
        assert_eq!(
            r["customer_id"], "cust-1",
            "identifiers are not personal data"
        );
    }
}
