//! The delegation ledger beyond the request path: reconciliation against the vendor's voucher
//! records, and the tree as people read it. Its storage is [`crate::store::ledger`]; every
//! decision is the pure ledger's (`tiergate_policy::ledger`).

pub mod holds;
pub mod issuing;
pub mod outcomes;
pub mod reconcile;
pub mod view;
