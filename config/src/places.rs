//! The files a configuration makes Tiergate create or append to (the audit checkpoint log, an
//! SQLite database): their folders must exist, since the service makes none. Checked by
//! `tiergate check-config` and at start, apart from parsing, which reads no file system
//! beyond the files it loads.

use crate::{Config, ConfigError, Storage};
use std::path::Path;

impl Config {
    /// What is wrong with the places its files go, each with its setting.
    pub fn place_problems(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        let mut check = |key: &str, path: &Path| {
            if let Err(message) = file_place(path) {
                out.push(ConfigError {
                    path: key.into(),
                    message,
                });
            }
        };
        check("audit.checkpoint_log", &self.audit.checkpoint_log);
        for (key, storage) in [
            ("storage.url", &self.storage),
            ("audit.storage", &self.audit.storage),
        ] {
            if let Some(file) = sqlite_file(storage) {
                check(key, Path::new(file));
            }
        }
        out
    }
}

/// An SQLite database's file, unless it is in memory.
fn sqlite_file(s: &Storage) -> Option<&str> {
    match s {
        Storage::Sqlite { url } => {
            let path = url.strip_prefix("sqlite://")?.split('?').next()?;
            (!path.starts_with(":memory:")).then_some(path)
        }
        _ => None,
    }
}

/// A file Tiergate creates or appends to: its folder must exist, and the path must not be a
/// folder itself.
fn file_place(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("{} is a folder, not a file", path.display()));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(format!(
            "the folder {} does not exist (for {})",
            dir.display(),
            path.display()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_or_a_folder_for_a_file_is_named() {
        let dir = std::env::temp_dir();
        assert!(file_place(&dir.join("checkpoints.jsonl")).is_ok());
        assert!(file_place(&dir).is_err_and(|m| m.contains("is a folder")));
        let missing = dir.join("no-such-folder-for-tiergate").join("x.jsonl");
        assert!(file_place(&missing).is_err_and(|m| m.contains("does not exist")));
    }
}
