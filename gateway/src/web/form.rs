//! Query strings and `application/x-www-form-urlencoded` bodies, read one way everywhere:
//! `url::form_urlencoded` (`+` is a space, percent-escapes decoded, invalid UTF-8 replaced),
//! and a name given twice means its first value.
//!
//! Two readers stay byte-exact and do not use this: the AK/SK canonical request
//! (`tiergate_policy::aksk`), whose signature covers the query exactly as sent, and the SAML
//! Redirect binding (`tiergate_broker::saml::redirect`), whose signature covers the encoded
//! parameters exactly as sent.

/// The decoded fields of a query string or form body.
#[derive(Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a query string or form body.
    pub fn parse(encoded: &[u8]) -> Self {
        Form(
            url::form_urlencoded::parse(encoded)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, owned.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plus_as_space_escapes_and_the_first_of_two() {
        let f = Form::parse(b"a=x+y%2Bz&b=%E4%B8%AD&a=second&c&d=");
        assert_eq!(f.get("a"), Some("x y+z"));
        assert_eq!(f.get("b"), Some("\u{4e2d}"));
        assert_eq!(f.get("c"), Some(""));
        assert_eq!(f.get("d"), Some(""));
        assert_eq!(f.get("e"), None);
    }
}
