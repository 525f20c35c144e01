//! A structural scan of a SAML Response before any signature is checked: what the XML may
//! contain at all. It refuses what signature wrapping, algorithm downgrades and parser tricks
//! need (DTDs, entities, processing instructions, a second or misplaced Assertion, SHA-1,
//! XPath/XSLT transforms, Signatures where none belongs) and reads, from the one Assertion, the
//! NameID as canonical text: every text node joined, comments skipped, so a comment inside a
//! NameID cannot make a parser stop early.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// SAML 2.0 protocol namespace.
pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML 2.0 assertion namespace.
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// XML signature namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Signature algorithms accepted (no SHA-1, no DSA, no HMAC).
pub const SIGNATURE_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
/// Digest algorithms accepted.
pub const DIGEST_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
/// Transforms and canonicalizations accepted (no XPath, no XSLT, no comments).
pub const TRANSFORMS: &[&str] = &[
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
];

/// The deepest nesting a Response may have.
const MAX_DEPTH: usize = 48;

/// Why a document was refused before its signature was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    /// A DOCTYPE (DTDs and entity declarations are off).
    #[error("a DOCTYPE is not allowed")]
    Dtd,
    /// An entity reference other than the five predefined ones and character references.
    #[error("entity reference `&{0};` is not allowed")]
    Entity(String),
    /// A processing instruction.
    #[error("processing instructions are not allowed")]
    ProcessingInstruction,
    /// Nested too deep.
    #[error("nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    /// The root is not a SAML protocol Response.
    #[error("the root element is not a SAML 2.0 protocol Response")]
    NotAResponse,
    /// Not exactly one Assertion, or it is not a child of the Response.
    #[error("{0}")]
    Assertions(String),
    /// Encrypted assertions are not accepted.
    #[error("encrypted assertions are not accepted")]
    Encrypted,
    /// A Signature in a place where none belongs.
    #[error("a Signature inside {0} is not allowed")]
    MisplacedSignature(String),
    /// An algorithm outside the allowlist.
    #[error("{kind} `{uri}` is not allowed")]
    Algorithm {
        /// Which kind (signature, digest, transform).
        kind: &'static str,
        /// The algorithm URI.
        uri: String,
    },
    /// The Subject has no NameID, or more than one.
    #[error("the Assertion's Subject must carry exactly one NameID")]
    NameId,
}

/// What the scan read (nothing of it is trusted before the signature is verified).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The Response's `ID`.
    pub response_id: Option<String>,
    /// The Response's `Destination`.
    pub destination: Option<String>,
    /// The Response's `InResponseTo`.
    pub in_response_to: Option<String>,
    /// The Assertion's `ID`.
    pub assertion_id: Option<String>,
    /// The NameID's canonical text.
    pub name_id: Option<String>,
    /// The Assertion's Issuer (which registration to verify an unsolicited Response with).
    pub issuer: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Protocol,
    Assertion,
    Dsig,
    Other,
}

fn ns_of(r: &ResolveResult<'_>) -> Ns {
    match r {
        ResolveResult::Bound(n) if n.as_ref() == PROTOCOL.as_bytes() => Ns::Protocol,
        ResolveResult::Bound(n) if n.as_ref() == ASSERTION.as_bytes() => Ns::Assertion,
        ResolveResult::Bound(n) if n.as_ref() == DSIG.as_bytes() => Ns::Dsig,
        _ => Ns::Other,
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, ScanError> {
    for a in e.attributes() {
        let a = a.map_err(|x| ScanError::Malformed(x.to_string()))?;
        if a.key.as_ref() == name.as_bytes() {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|x| ScanError::Malformed(x.to_string()))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn check_algorithm(local: &str, e: &BytesStart<'_>) -> Result<(), ScanError> {
    let (kind, allowed) = match local {
        "SignatureMethod" => ("signature algorithm", SIGNATURE_METHODS),
        "DigestMethod" => ("digest algorithm", DIGEST_METHODS),
        "Transform" | "CanonicalizationMethod" => ("transform", TRANSFORMS),
        _ => return Ok(()),
    };
    let uri = attr(e, "Algorithm")?.unwrap_or_default();
    if allowed.contains(&uri.as_str()) {
        Ok(())
    } else {
        Err(ScanError::Algorithm { kind, uri })
    }
}

/// Where the reader is, as far as the rules care.
#[derive(Default)]
struct State {
    /// (namespace, local name) of every open element.
    stack: Vec<(Ns, String)>,
    scan: Scan,
    assertions: usize,
    subjects: usize,
    name_ids: usize,
    /// Depth of the open NameID, while inside it.
    in_name_id: Option<usize>,
    /// Depth of the Assertion's open Issuer, while inside it.
    in_issuer: Option<usize>,
    text: String,
}

impl State {
    fn open(&mut self, ns: Ns, local: &str, e: &BytesStart<'_>) -> Result<(), ScanError> {
        let depth = self.stack.len();
        if depth >= MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        let parent = self.stack.last().map(|(n, l)| (*n, l.as_str()));
        match (ns, local, depth) {
            (Ns::Protocol, "Response", 0) => {
                self.scan.response_id = attr(e, "ID")?;
                self.scan.destination = attr(e, "Destination")?;
                self.scan.in_response_to = attr(e, "InResponseTo")?;
            }
            (_, _, 0) => return Err(ScanError::NotAResponse),
            (_, "EncryptedAssertion", _) => return Err(ScanError::Encrypted),
            (_, "Assertion", _) => {
                self.assertions += 1;
                if self.assertions > 1 {
                    return Err(ScanError::Assertions(
                        "more than one Assertion in the Response".into(),
                    ));
                }
                if ns != Ns::Assertion || depth != 1 {
                    return Err(ScanError::Assertions(
                        "the Assertion must be a SAML 2.0 Assertion directly inside the Response"
                            .into(),
                    ));
                }
                self.scan.assertion_id = attr(e, "ID")?;
            }
            (Ns::Dsig, "Signature", _) => {
                let allowed = matches!(
                    (parent, depth),
                    (Some((Ns::Protocol, "Response")), 1) | (Some((Ns::Assertion, "Assertion")), 2)
                );
                if !allowed {
                    let inside = parent.map(|(_, l)| l.to_owned()).unwrap_or_default();
                    return Err(ScanError::MisplacedSignature(inside));
                }
            }
            (Ns::Assertion, "Subject", 2) => self.subjects += 1,
            (Ns::Assertion, "NameID", 3)
                if parent == Some((Ns::Assertion, "Subject")) && self.inside_assertion() =>
            {
                self.name_ids += 1;
                self.in_name_id = Some(depth);
                self.text.clear();
            }
            (Ns::Assertion, "EncryptedID" | "BaseID", 3) => return Err(ScanError::NameId),
            (Ns::Assertion, "Issuer", 2) if self.inside_assertion() => {
                self.in_issuer = Some(depth);
                self.text.clear();
            }
            _ => {}
        }
        if self
            .in_name_id
            .or(self.in_issuer)
            .is_some_and(|d| d < depth)
        {
            // Markup inside a NameID: its text would not be one string.
            return Err(ScanError::NameId);
        }
        if ns == Ns::Dsig {
            check_algorithm(local, e)?;
        }
        self.stack.push((ns, local.to_owned()));
        Ok(())
    }

    fn inside_assertion(&self) -> bool {
        matches!(self.stack.get(1), Some((Ns::Assertion, l)) if l == "Assertion")
    }

    fn close(&mut self) {
        self.stack.pop();
        if self.in_name_id.is_some_and(|d| d == self.stack.len()) {
            self.in_name_id = None;
            self.scan.name_id = Some(std::mem::take(&mut self.text));
        }
        if self.in_issuer.is_some_and(|d| d == self.stack.len()) {
            self.in_issuer = None;
            self.scan.issuer = Some(std::mem::take(&mut self.text));
        }
    }

    fn capturing(&self) -> bool {
        self.in_name_id.is_some() || self.in_issuer.is_some()
    }

    fn finish(self) -> Result<Scan, ScanError> {
        if self.assertions != 1 {
            return Err(ScanError::Assertions(
                "the Response carries no Assertion".into(),
            ));
        }
        if self.subjects != 1 || self.name_ids != 1 || self.scan.name_id.is_none() {
            return Err(ScanError::NameId);
        }
        Ok(self.scan)
    }
}

fn decode(bytes: &[u8]) -> Result<String, ScanError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|e| ScanError::Malformed(e.to_string()))
}

/// The character a reference stands for: the five predefined entities and character
/// references; anything else would need a DTD.
fn reference(r: &quick_xml::events::BytesRef<'_>) -> Result<char, ScanError> {
    let name = r
        .decode()
        .map_err(|e| ScanError::Malformed(e.to_string()))?;
    Ok(match name.as_ref() {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => match r.resolve_char_ref() {
            Ok(Some(c)) => c,
            _ => return Err(ScanError::Entity(name.into_owned())),
        },
    })
}

/// Scans a decoded Response.
pub fn scan(xml: &str) -> Result<Scan, ScanError> {
    let mut reader = NsReader::from_str(xml);
    let mut st = State::default();
    let malformed = |e: quick_xml::Error| ScanError::Malformed(e.to_string());
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = ns_of(&ns);
        match event {
            Event::Start(e) => {
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                st.open(ns, &local, &e)?;
            }
            Event::Empty(e) => {
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                st.open(ns, &local, &e)?;
                st.close();
            }
            Event::End(_) => st.close(),
            Event::Text(t) if st.capturing() => st.text.push_str(&decode(&t)?),
            Event::CData(t) if st.capturing() => st.text.push_str(&decode(&t)?),
            Event::Text(_) | Event::CData(_) => {}
            Event::GeneralRef(r) => {
                let ch = reference(&r)?;
                if st.capturing() {
                    st.text.push(ch);
                }
            }
            Event::DocType(_) => return Err(ScanError::Dtd),
            Event::PI(_) => return Err(ScanError::ProcessingInstruction),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    st.finish()
}

#[cfg(test)]
mod tests;

/// Any XML Tiergate reads (metadata, requests): well-formed, without DTDs, entity references
/// beyond the predefined ones, or processing instructions.
pub fn plain_xml(xml: &str) -> Result<(), ScanError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0usize;
    loop {
        match reader
            .read_event()
            .map_err(|e| ScanError::Malformed(e.to_string()))?
        {
            Event::Start(_) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ScanError::TooDeep);
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::GeneralRef(r) => {
                reference(&r)?;
            }
            Event::DocType(_) => return Err(ScanError::Dtd),
            Event::PI(_) => return Err(ScanError::ProcessingInstruction),
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}
