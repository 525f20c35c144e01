//! The audit log's tamper-evident format, pure: records and their canonical encoding, the hash
//! chain, Ed25519 signatures of records and checkpoints, and verification of a chain (from the
//! database or from an offline archive). The log as a service is [`crate::audit`]; its tables
//! are [`crate::store::audit`].

pub mod record;
pub mod sign;
pub mod verify;
