//! The markdown tables benches/RESULTS.md takes.

use super::Measured;
use super::tiergate::Race;

fn ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}

/// Answers other than 2xx, and connection errors, of a run.
fn failures(m: &Measured) -> u64 {
    let runs = std::iter::once(&m.saturated)
        .chain(m.paced.as_ref())
        .chain(m.half_own.as_ref());
    runs.map(|r| {
        let bad = r.num("completed") - r.num("ok");
        bad as u64 + r.num("io_errors") as u64
    })
    .sum()
}

/// `r` over a reference rate, or `-` when the reference was not run.
fn ratio(r: f64, reference: f64) -> String {
    if reference > 0.0 {
        format!("{:.2}", r / reference)
    } else {
        "-".to_owned()
    }
}

/// Prints the throughput and latency table, then the race.
pub fn print(rows: &[Measured], rate: f64, race: Option<&Race>) {
    let rps = |name: &str| {
        rows.iter()
            .find(|m| m.name == name)
            .map_or(0.0, |m| m.saturated.num("rps"))
    };
    let (bare, nginx) = (rps("bare Pingora"), rps("nginx proxy_pass"));
    let direct = rows.iter().find(|m| m.name == "upstream directly");
    let base = |f: &str| {
        direct
            .and_then(|m| m.paced.as_ref())
            .map_or(0.0, |r| r.num(f))
    };
    println!(
        "| target | requests/s (saturation) | x bare Pingora | x nginx | server CPU µs/request | machine CPU µs/request | p50 / p99 / p99.9 ms at {rate:.0}/s | p99 added vs upstream directly | p50 / p99 / p99.9 ms at half its own saturation | failed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for m in rows {
        let s = &m.saturated;
        let r = s.num("ok_rps");
        let triple = |run: Option<&super::drive::Run>| {
            run.map_or("-".to_owned(), |p| {
                format!(
                    "{} / {} / {}",
                    ms(p.num("p50_us")),
                    ms(p.num("p99_us")),
                    ms(p.num("p999_us"))
                )
            })
        };
        let latency = triple(m.paced.as_ref());
        let own = triple(m.half_own.as_ref());
        let added = m.paced.as_ref().map_or("-".to_owned(), |p| {
            format!("{} ms", ms(p.num("p99_us") - base("p99_us")))
        });
        println!(
            "| {} | {r:.0} | {} | {} | {:.1} | {:.1} | {latency} | {added} | {own} | {} |",
            m.name,
            ratio(r, bare),
            ratio(r, nginx),
            s.server_us(),
            s.machine_us(),
            failures(m),
        );
    }
    let Some(race) = race else {
        return;
    };
    println!();
    println!(
        "Race to exhaustion: a staff slice of {} vouchers, {} connections closed-loop for 6 s.",
        race.slice,
        2 * super::drive::CONNECTIONS
    );
    println!();
    println!(
        "| admitted (200) | refused (403 TG.3002) | vendor issued | ledger used | oversubscription | audit chain verifies |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {} |",
        race.admitted,
        race.refused,
        race.vendor_issued,
        race.ledger_used,
        race.admitted.saturating_sub(race.slice),
        if race.audit_verified { "yes" } else { "NO" }
    );
}
