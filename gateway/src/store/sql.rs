//! SQL pieces every aggregate shares: multi-row statements, advisory locks, the clock unit.

use super::db::Backend;
use ring::digest;

/// `($1, $2, ..), ($n, ..)`: placeholders for a multi-row `VALUES` of `rows` rows of `cols`
/// columns (one statement, one round trip, for what a batch writes).
pub(crate) fn values(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", r * cols + c + 1));
        }
        out.push(')');
    }
    out
}

/// Bytes of bound values above which a multi-row statement is split. sqlx does not set
/// TCP_NODELAY, and over TLS a statement larger than one TLS record (16 KiB) leaves the
/// socket in two writes: the second waits for the server's delayed ACK, 40 ms on Linux.
const STATEMENT_BYTES: usize = 8 * 1024;

/// Splits rows for multi-row statements that each stay within one TLS record.
pub(crate) fn chunked<T>(rows: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut used = 0;
    for row in rows {
        let n = size(&row);
        match out.last_mut() {
            Some(last) if used + n <= STATEMENT_BYTES => {
                used += n;
                last.push(row);
            }
            _ => {
                used = n;
                out.push(vec![row]);
            }
        }
    }
    out
}

/// A stable 64-bit advisory lock key for a name (a quota, a fund account).
fn lock_key(name: &str) -> i64 {
    let d = digest::digest(&digest::SHA256, name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.as_ref()[..8]);
    i64::from_be_bytes(b)
}

/// Takes a named lock for the rest of the transaction: a PostgreSQL advisory lock, shared by
/// every gateway on the database (SQLite: its single connection is the lock).
pub(crate) async fn lock(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    name: &str,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock_key(name))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Milliseconds since the Unix epoch of a moment (the audit log's and ledger's clock unit).
pub fn unix_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    unix_ms(time::OffsetDateTime::now_utc())
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
