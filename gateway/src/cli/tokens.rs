//! `tiergate tokens keygen`: a key for `[tokens] signing_key`.

use base64::Engine;
use clap::Subcommand;

/// Token actions.
#[derive(Subcommand)]
pub enum Action {
    /// Generate an Ed25519 token signing key (base64 PKCS#8 on stdout).
    Keygen,
}

/// Runs a tokens command.
pub fn run(action: Action) -> Result<(), String> {
    match action {
        Action::Keygen => {
            let der = tiergate_broker::tokens::generate_key().map_err(|e| e.to_string())?;
            println!("{}", base64::engine::general_purpose::STANDARD.encode(der));
            Ok(())
        }
    }
}
