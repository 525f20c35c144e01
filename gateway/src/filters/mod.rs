//! The partner API request's stages, one file each, in the order the spine
//! ([`crate::proxy`]) runs them. Each takes what the previous one proved and returns the next
//! proof, or a [`crate::rejection::Rejection`] that ends the request there: a request refused
//! at one stage never runs the next (`gateway/tests/stages.rs` pins it).
//!
//! | # | stage | file | proves |
//! |---|---|---|---|
//! | 1 | route | `route.rs` | the catalogued operation (deny by default) |
//! | 2 | body | `body.rs` | the whole body, read before anything is forwarded |
//! | 3 | authn | `authn.rs` | the verified credential (SDK-HMAC-SHA256) |
//! | 4 | ratelimit | `ratelimit.rs` | admitted by the caller's limits and the vendor budget |
//! | 5 | authz | `authz.rs` | a `Permit`, and exactly what goes upstream (`Forward`) |
//! | 6 | idempotency | `idempotency.rs` | the key claimed, or the first answer to give again |
//! | 7 | money | `money/` | the voucher or fund hold, with its audit intent |
//! | 8 | resign | `resign.rs` | the upstream request, signed by the distributor's key |
//!
//! [`crate::ctx::Stage`] names them; [`crate::ctx::Ctx`] holds their proofs.
//!
//! Why this order: nothing touches the credential store before the request is a known
//! operation with a readable body; nothing spends a caller's limit before the signature is
//! verified; nothing reads the graph for a caller over its limit; nothing is claimed, held or
//! audited for a request policy refuses.
//!
//! Then `forward.rs` hands Pingora the peer and the decided body; after the answer,
//! `response.rs` stamps headers and keeps what the audit log and the graph need, the money
//! stage settles, the idempotency stage records the answer, and `log.rs` writes the request's
//! one log event.

pub mod answered;
pub mod authn;
pub mod authz;
pub mod body;
pub mod forward;
pub mod idempotency;
pub mod log;
pub mod money;
pub mod ratelimit;
pub mod resign;
pub mod response;
pub mod route;
pub mod unknown;
