//! What the admin and sign-in listeners share to read a request: a bounded body reader and
//! one parser for query strings and forms.

pub mod body;
pub mod form;
