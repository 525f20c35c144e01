//! Every metric the code registers is listed in the README's Metrics section: an operator
//! builds alerts from that list, so a metric missing from it is one nobody watches.

use std::path::Path;

/// The `"tiergate_..."` names in one source file.
fn names_in(text: &str, out: &mut Vec<String>) {
    for piece in text.split("\"tiergate_").skip(1) {
        let name: String = piece
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !name.is_empty() && piece[name.len()..].starts_with('"') {
            out.push(format!("tiergate_{name}"));
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            names_in(&std::fs::read_to_string(&path)?, out);
        }
    }
    Ok(())
}

#[test]
fn the_readme_lists_every_metric() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut names = Vec::new();
    walk(&root.join("src"), &mut names).map_err(|e| e.to_string())?;
    // Not a metric: the first key of an audit archive.
    names.retain(|n| n != "tiergate_audit_archive");
    names.sort();
    names.dedup();
    assert!(names.len() > 40, "{names:?}");
    let readme = std::fs::read_to_string(root.join("../README.md")).map_err(|e| e.to_string())?;
    let section = readme
        .split("\n## Metrics\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .ok_or("no Metrics section")?;
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !section.contains(&format!("`{n}`")) && !section.contains(&format!("`{n}{{")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the README's Metrics: {missing:?}"
    );
    Ok(())
}
