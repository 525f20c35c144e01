//! A Playwright script of `tests/browser/` in Debian's headless chromium, talking with the
//! test that runs it: the test sends its setup as the first line on the script's stdin, the
//! script asks for what only the test can do (`harness> {"do": ...}` lines: the database, the
//! command line) and gets one JSON line back for each. A missing chromium or Playwright is a
//! loud failure, never a skip.

use crate::harness::{Result, repo_root, sdk_python};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

/// Debian's chromium (scripts/deps.sh installs it).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// What the script prints before a question for the test.
const ASK: &str = "harness> ";

/// A running script.
pub struct Script {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Option<JoinHandle<String>>,
}

impl Script {
    /// Starts `tests/browser/<name>` with the `.venv` Python and sends it `setup` (to which the
    /// chromium to drive and the screenshot folder, `target/console-screens/`, are added).
    pub fn start(name: &str, mut setup: Value) -> Result<Script> {
        if !Path::new(CHROMIUM).is_file() {
            return Err(format!(
                "{CHROMIUM} is missing: run scripts/deps.sh, which installs Debian's chromium"
            ));
        }
        setup["chromium"] = json!(CHROMIUM);
        setup["screens"] = json!(repo_root().join("target/console-screens"));
        let script = repo_root().join("tests/browser").join(name);
        let mut child = Command::new(sdk_python()?)
            .arg("-u")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        let (Some(stdin), Some(stdout), Some(mut err)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the script's pipes are missing".into());
        };
        // Drained apart, so a script writing much to stderr never blocks on it.
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let mut script = Script {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            stderr: Some(stderr),
        };
        script.send(&setup)?;
        Ok(script)
    }

    /// The script's next question, or `None` once it has passed; its whole output when it
    /// fails.
    pub fn question(&mut self) -> Result<Option<Value>> {
        for line in self.stdout.by_ref() {
            let line = line.map_err(|e| e.to_string())?;
            match line.strip_prefix(ASK) {
                Some(ask) => {
                    println!("{line}");
                    return serde_json::from_str(ask)
                        .map(Some)
                        .map_err(|e| format!("a question that is not JSON ({e}): {line}"));
                }
                None => println!("{line}"),
            }
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if status.success() {
            return Ok(None);
        }
        // Printed whole (the test's captured output shows it), as a returned error would
        // show it on one line.
        eprintln!("{stderr}");
        Err(format!(
            "the browser script failed ({status}); its output is above, and screenshots \
             (a failing flow's included) are in target/console-screens/"
        ))
    }

    /// Answers the last question: its value, or why the test could not do it.
    pub fn answer(&mut self, answer: Result<Value>) -> Result<()> {
        let line = match answer {
            Ok(value) => json!({ "value": value }),
            Err(error) => json!({ "error": error }),
        };
        // A script that stopped reading has failed: its output says why.
        self.send(&line).map_err(|e| match self.question() {
            Err(failed) => failed,
            Ok(_) => e,
        })
    }

    fn send(&mut self, v: &Value) -> Result<()> {
        writeln!(self.stdin, "{v}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("the browser script stopped reading: {e}"))
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
