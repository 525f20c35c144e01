//! SAML: Tiergate as the one IdP the vendor trusts ([`idp`]) and as the SP every reseller IdP
//! trusts ([`sp`]), with a strict structural [`scan`] in front of samael's signature
//! verification, the Redirect binding done over the bytes as sent ([`redirect`]), and
//! single-use ids shared by every gateway ([`replay`]).

pub mod idp;
pub mod redirect;
pub mod replay;
pub mod scan;
pub mod sp;

use samael::metadata::KeyDescriptor;

/// The base64 certificates metadata offers for signing: those marked `use="signing"`, or, when
/// none is, those with no use (valid for both), as samael picks them.
pub(crate) fn signing_certs(keys: &[KeyDescriptor]) -> Vec<String> {
    let pick = |f: &dyn Fn(&KeyDescriptor) -> bool| -> Vec<String> {
        keys.iter()
            .filter(|k| f(k))
            .filter_map(|k| k.key_info.x509_data.as_ref())
            .flat_map(|x| x.certificates.iter().cloned())
            .filter(|c| !c.trim().is_empty())
            .collect()
    };
    let signing = pick(&|k| k.is_signing());
    if signing.is_empty() {
        pick(&|k| k.key_use.as_deref().is_none_or(str::is_empty))
    } else {
        signing
    }
}
