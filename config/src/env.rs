//! Environment overrides, for containers and service managers: `TIERGATE__AUDIT__STORAGE=...`
//! sets `audit.storage`, whatever the file says. The key's sections are separated by a double
//! underscore (keys themselves contain single ones) and matched in lower case; a number
//! indexes an array of tables (`TIERGATE__TLS__CERTIFICATES__0__CHAIN`).
//!
//! The value is read as TOML where that parses (`30`, `true`, `["a", "b"]`, `{ env = "X" }`),
//! else taken as a string (`30s`, `postgres://...`), so most values need no quoting; where
//! the file already sets the key to a string, the value is always that string (a partner id
//! of digits stays a string). `TIERGATE_` with one underscore stays what it was: the names
//! secret sources read (`{ env = "TIERGATE_DISTRIBUTOR_SK" }`).

use crate::{ConfigError, ConfigErrors};
use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// The prefix of an override.
pub const PREFIX: &str = "TIERGATE__";

/// Parses `text` as `T` after applying the overrides among `vars`; returns it and the keys
/// the environment set (for `check-config` to say so).
pub fn parse<T: DeserializeOwned>(
    text: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(T, Vec<String>), ConfigErrors> {
    let mut overrides: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX))
        .collect();
    if overrides.is_empty() {
        // Straight from the text: its errors keep their line numbers.
        let t = toml::from_str(text).map_err(|e| syntax(text, &e))?;
        return Ok((t, Vec::new()));
    }
    overrides.sort();
    let mut table: Table = toml::from_str(text).map_err(|e| syntax(text, &e))?;
    let mut errors = Vec::new();
    let mut keys = Vec::new();
    for (name, value) in &overrides {
        match set(&mut table, &name[PREFIX.len()..], value) {
            Ok(key) => keys.push(key),
            Err(message) => errors.push(ConfigError {
                path: name.clone(),
                message,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let t = Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| {
            ConfigErrors::one(
                "",
                format!(
                    "{} (with {} from the environment)",
                    e.message(),
                    keys.join(", ")
                ),
            )
        })?;
    Ok((t, keys))
}

fn syntax(text: &str, e: &toml::de::Error) -> ConfigErrors {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
    ConfigErrors::one("", format!("{}{at}", e.message()))
}

/// Sets the key `path` (`AUDIT__STORAGE`) names to `raw`; returns it as a dotted key.
fn set(table: &mut Table, path: &str, raw: &str) -> Result<String, String> {
    let parts: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    if parts.iter().any(String::is_empty) {
        return Err("names an empty key (a doubled or trailing `__`)".into());
    }
    let dotted = parts.join(".");
    let (last, sections) = parts.split_last().ok_or("names no key")?;
    let mut here = table;
    let mut walked = String::new();
    let mut rest = sections.iter().peekable();
    while let Some(part) = rest.next() {
        walked = if walked.is_empty() {
            part.clone()
        } else {
            format!("{walked}.{part}")
        };
        let slot = here
            .entry(part.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        // An array of tables is indexed by the next part.
        let slot = match slot {
            Value::Array(items) => {
                let Some(i) = rest.next().and_then(|n| n.parse::<usize>().ok()) else {
                    return Err(format!(
                        "`{walked}` is a list: name an index, as in {walked}.0"
                    ));
                };
                walked = format!("{walked}.{i}");
                items
                    .get_mut(i)
                    .ok_or_else(|| format!("`{walked}`: the list has no item {i}"))?
            }
            other => other,
        };
        here = slot
            .as_table_mut()
            .ok_or_else(|| format!("`{walked}` is a value, not a section"))?;
    }
    let value = match here.get(last.as_str()) {
        Some(Value::String(_)) => Value::String(raw.to_owned()),
        _ => literal(raw),
    };
    here.insert(last.clone(), value);
    Ok(dotted)
}

/// `raw` as a TOML value, or as a string where it is not one.
fn literal(raw: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn over(text: &str, vars: &[(&str, &str)]) -> Result<(Table, Vec<String>), ConfigErrors> {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        parse(text, vars)
    }

    #[test]
    fn keys_values_and_lists_of_tables() -> Result<(), String> {
        let text = r#"
listen = "127.0.0.1:1"
[distributor]
partner_id = "dist"
[[tls.certificates]]
chain = "a.pem"
"#;
        let (t, keys) = over(
            text,
            &[
                ("TIERGATE__LISTEN", "0.0.0.0:8443"),
                ("TIERGATE__DISTRIBUTOR__PARTNER_ID", "123456"),
                ("TIERGATE__UPSTREAM__TIMEOUT", "30s"),
                ("TIERGATE__GRAPH__BUDGET_SHARE", "0.5"),
                ("TIERGATE__STORAGE__URL", r#"{ env = "DB_URL" }"#),
                ("TIERGATE__TLS__CERTIFICATES__0__CHAIN", "/etc/b.pem"),
                (
                    "TIERGATE_DISTRIBUTOR_SK",
                    "a secret source's variable, not an override",
                ),
            ],
        )
        .map_err(|e| e.to_string())?;
        let get = |k: &str| -> Option<Value> {
            let mut v = Value::Table(t.clone());
            for p in k.split('.') {
                v = match v {
                    Value::Table(mut m) => m.remove(p)?,
                    Value::Array(mut a) => a.get_mut(p.parse::<usize>().ok()?)?.clone(),
                    _ => return None,
                };
            }
            Some(v)
        };
        assert_eq!(get("listen"), Some(Value::String("0.0.0.0:8443".into())));
        // A string in the file stays a string, digits or not.
        assert_eq!(
            get("distributor.partner_id"),
            Some(Value::String("123456".into()))
        );
        assert_eq!(get("upstream.timeout"), Some(Value::String("30s".into())));
        assert_eq!(get("graph.budget_share"), Some(Value::Float(0.5)));
        assert_eq!(get("storage.url.env"), Some(Value::String("DB_URL".into())));
        assert_eq!(
            get("tls.certificates.0.chain"),
            Some(Value::String("/etc/b.pem".into()))
        );
        assert_eq!(keys.len(), 6, "{keys:?}");
        Ok(())
    }

    #[test]
    fn overrides_that_cannot_apply_are_errors_with_their_variable() {
        let text = "listen = \"x\"\n[[tls.certificates]]\nchain = \"a\"\n";
        for (name, why) in [
            ("TIERGATE__LISTEN__PORT", "is a value"),
            ("TIERGATE__TLS__CERTIFICATES__CHAIN", "name an index"),
            ("TIERGATE__TLS__CERTIFICATES__3__CHAIN", "no item 3"),
            ("TIERGATE__AUDIT____KEY", "empty key"),
        ] {
            let refused = over(text, &[(name, "v")]).err();
            let named = |e: &ConfigErrors| {
                e.0.iter()
                    .any(|x| x.path == name && x.message.contains(why))
            };
            assert!(refused.as_ref().is_some_and(named), "{name}: {refused:?}");
        }
    }
}
