//! The route catalogue as the README's table: operation, method and path, who may call it
//! (under the default rules), the identifiers Tiergate checks, and whether it moves money.
//! Generated here so the table cannot drift from the catalogue (a test compares them).

use super::{CATALOGUE, IdKind, Route};
use crate::principal::Tier;
use crate::rules::ceiling;

fn kind(k: IdKind) -> &'static str {
    match k {
        IdKind::ActingPartner => "acting partner",
        IdKind::Reseller => "reseller",
        IdKind::Customer => "customer",
        IdKind::ResaleCustomer => "resale customer",
        IdKind::Quota => "quota",
        IdKind::Coupon => "voucher",
    }
}

fn callers(r: &Route) -> String {
    let mut who = Vec::new();
    for (tier, name) in [
        (Tier::Distributor, "distributor"),
        (Tier::SolutionProvider, "solution provider"),
        (Tier::CloudReseller, "reseller"),
        (Tier::Customer, "customer"),
    ] {
        if ceiling(tier).contains(r) {
            who.push(name);
        }
    }
    let mut s = who.join(", ");
    if r.reseller_scoped && r.carries_acting() {
        s.push_str(" (a reseller's `indirect_partner_id` injected)");
    }
    if let Some(why) = r.not_for_resellers {
        s.push_str(&format!(" (not resellers: {why})"));
    }
    s
}

fn ids(r: &Route) -> String {
    let mut ids: Vec<String> = r
        .ids
        .iter()
        .map(|f| format!("`{}` ({})", f.name, kind(f.kind)))
        .collect();
    if r.checks_answer {
        ids.push("every `customer_id` of a reseller's answer".into());
    }
    if ids.is_empty() {
        return "-".into();
    }
    ids.join(", ")
}

/// The Markdown table of every catalogued operation.
pub fn markdown() -> String {
    let mut out = String::from(
        "| operation | method and path | may call | identifiers checked | money |\n|---|---|---|---|---|\n",
    );
    for r in CATALOGUE.iter() {
        out.push_str(&format!(
            "| `{}` | `{} {}` | {} | {} | {} |\n",
            r.operation,
            r.method.as_str(),
            r.path,
            callers(r),
            ids(r),
            if r.money_moving { "yes" } else { "-" },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    const BEGIN: &str = "<!-- routes:begin (generated from policy/src/routes/catalogue.rs) -->\n";
    const END: &str = "<!-- routes:end -->";

    /// The README's table is the catalogue's; `TG_WRITE_README=1` writes it.
    #[test]
    fn the_readme_carries_the_catalogue_table() -> Result<(), String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let (a, b) = match (readme.find(BEGIN), readme.find(END)) {
            (Some(a), Some(b)) if a < b => (a + BEGIN.len(), b),
            _ => return Err(format!("README.md has no {BEGIN:?} ... {END:?} section")),
        };
        let table = super::markdown();
        if readme[a..b] == table {
            return Ok(());
        }
        if std::env::var_os("TG_WRITE_README").is_some() {
            let new = format!("{}{table}{}", &readme[..a], &readme[b..]);
            return std::fs::write(path, new).map_err(|e| e.to_string());
        }
        Err("README.md's route table differs from the catalogue: run `TG_WRITE_README=1 cargo test -p tiergate-policy readme`".into())
    }
}
