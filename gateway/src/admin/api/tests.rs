use super::*;
use std::collections::HashSet;

/// A concrete path for a template (`x` for each `{name}`).
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_entry_is_found_by_its_own_method_and_path() {
    for o in OPERATIONS {
        let found = find(o.method, &concrete(o.path));
        assert_eq!(found.map(|f| f.op), Some(o.op), "{} {}", o.method, o.path);
    }
}

#[test]
fn methods_paths_operations_and_ids_are_each_unique() {
    let mut routes = HashSet::new();
    let mut ops = HashSet::new();
    let mut ids = HashSet::new();
    for o in OPERATIONS {
        assert!(routes.insert((o.method, o.path)), "{} {}", o.method, o.path);
        assert!(ops.insert(format!("{:?}", o.op)), "{:?}", o.op);
        assert!(ids.insert(o.id), "{}", o.id);
    }
}

#[test]
fn a_template_segment_is_one_whole_segment() {
    let found = find("POST", "/delegations/s-1/revoke");
    assert_eq!(found.as_ref().map(|f| f.op), Some(Op::DelegationRevoke));
    assert_eq!(found.as_ref().and_then(|f| f.param("id")), Some("s-1"));
    for refused in [
        "/delegations//revoke",
        "/delegations/a/b/revoke",
        "/delegations/s-1/revoke/",
        "/delegations/s-1/explode",
        "/delegations/",
    ] {
        assert!(find("POST", refused).is_none(), "{refused}");
    }
}

#[test]
fn the_method_is_part_of_the_match_and_the_console_is_not_in_the_table() {
    assert!(find("DELETE", "/delegations").is_none());
    assert!(find("POST", "/metrics").is_none());
    assert!(find("GET", "/console/").is_none());
    assert!(find("GET", "/openapi.json").is_some());
}
