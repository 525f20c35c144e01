//! `tiergate credentials issue|list|revoke`.

use crate::chain::record::{Entry, Kind};
use crate::credentials::{Credentials, Subject};
use crate::store::Store;
use clap::{Args, Subcommand};
use tiergate_config::{Config, Secret};
use tiergate_policy::Graph;

/// The environment variable holding a customer's or solution provider's own vendor SK.
const UPSTREAM_SK_ENV: &str = "TIERGATE_UPSTREAM_SK";

#[derive(Subcommand)]
pub enum Action {
    /// Issue an AK/SK pair; the SK is shown once.
    Issue(IssueArgs),
    /// List credentials (never their secrets).
    List,
    /// Revoke a credential.
    Revoke {
        /// Its access key.
        access_key: String,
    },
}

#[derive(Args)]
#[group(id = "subject", required = true, multiple = false)]
pub struct Who {
    /// The distributor or one of its cloud resellers.
    #[arg(long, group = "subject")]
    partner: Option<String>,
    /// A reseller staff member's name (with --reseller and --role).
    #[arg(long, group = "subject", requires_all = ["reseller", "role"])]
    staff: Option<String>,
    /// A customer (with --upstream-access-key; its vendor SK in TIERGATE_UPSTREAM_SK).
    #[arg(long, group = "subject", requires = "upstream_access_key")]
    customer: Option<String>,
    /// A solution provider (with --upstream-access-key; its SK in TIERGATE_UPSTREAM_SK).
    #[arg(long, group = "subject", requires = "upstream_access_key")]
    solution_provider: Option<String>,
    /// A security team member's name (`--role unmasked` lets them see personal data).
    #[arg(long, group = "subject")]
    auditor: Option<String>,
}

#[derive(Args)]
pub struct IssueArgs {
    #[command(flatten)]
    who: Who,
    /// The staff member's reseller.
    #[arg(long)]
    reseller: Option<String>,
    /// The staff member's role.
    #[arg(long)]
    role: Option<String>,
    /// The customer's or solution provider's own vendor AK.
    #[arg(long)]
    upstream_access_key: Option<String>,
}

fn subject(a: IssueArgs) -> Result<Subject, String> {
    let upstream = || -> Result<(String, Secret<String>), String> {
        let sk = std::env::var(UPSTREAM_SK_ENV)
            .map_err(|_| format!("set {UPSTREAM_SK_ENV} to the vendor secret key"))?;
        Ok((
            a.upstream_access_key.clone().unwrap_or_default(),
            Secret::new(sk),
        ))
    };
    let w = a.who;
    Ok(
        match (
            w.partner,
            w.staff,
            w.customer,
            w.solution_provider,
            w.auditor,
        ) {
            (Some(p), ..) => Subject::Partner(p),
            (_, Some(name), ..) => Subject::Staff {
                reseller: a.reseller.clone().unwrap_or_default(),
                name,
                role: a.role.clone().unwrap_or_default(),
            },
            (_, _, Some(id), ..) => Subject::Customer {
                id,
                upstream: upstream()?,
            },
            (_, _, _, Some(id), _) => Subject::SolutionProvider {
                id,
                upstream: upstream()?,
            },
            (.., Some(name)) => Subject::Auditor {
                name,
                role: a.role.clone(),
            },
            _ => return Err("say whom the credential is for".into()),
        },
    )
}

pub fn run(config: Config, action: Action) -> Result<(), String> {
    super::runtime()?.block_on(async {
        let store = Store::connect(&config.storage)
            .await
            .map_err(|e| format!("storage: {e}"))?;
        let creds = Credentials::new(store.clone(), &config).map_err(|e| e.to_string())?;
        let audit = crate::audit::Audit::open(&config).await?;
        let record =
            |operation: &str, ak: &str, partner: &str, tier: Option<String>, detail| Entry {
                kind: Some(Kind::Credential),
                operation: Some(operation.to_owned()),
                principal: Some(partner.to_owned()),
                tier,
                credential: Some(ak.to_owned()),
                outcome: Some("ok".into()),
                source: Some("cli".into()),
                detail,
                ..Entry::default()
            };
        match action {
            Action::Issue(args) => {
                let graph: Graph = store
                    .graph()
                    .edges()
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .collect();
                let i = creds
                    .issue(subject(args)?, &graph)
                    .await
                    .map_err(|e| e.to_string())?;
                let detail = serde_json::json!({"role": i.principal.role});
                let entry = record(
                    "issue",
                    &i.access_key,
                    &i.principal.partner_id,
                    Some(i.principal.tier.to_string()),
                    detail,
                );
                audit
                    .append(entry)
                    .await
                    .map_err(|e| format!("audit: {e}"))?;
                let role = i.principal.role.as_deref().map(|r| format!(", role {r}"));
                println!(
                    "partner:    {} ({}{})",
                    i.principal.partner_id,
                    i.principal.tier,
                    role.unwrap_or_default()
                );
                println!("access key: {}", i.access_key);
                println!("secret key: {}", i.secret_key.expose());
                println!("The secret key is shown only now; store it safely.");
            }
            Action::List => {
                println!(
                    "{:<22} {:<16} {:<16} {:<10} {:<12} status",
                    "access key", "partner", "tier", "role", "created"
                );
                for r in creds.list().await.map_err(|e| e.to_string())? {
                    let created = time::OffsetDateTime::from_unix_timestamp(r.created_at)
                        .map(|t| t.date().to_string())
                        .unwrap_or_default();
                    let status = if r.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    let role = r.role.as_deref().unwrap_or("-");
                    println!(
                        "{:<22} {:<16} {:<16} {:<10} {:<12} {status}",
                        r.access_key, r.partner_id, r.tier, role, created
                    );
                }
            }
            Action::Revoke { access_key } => {
                let partner = creds
                    .list()
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find(|r| r.access_key == access_key)
                    .map(|r| (r.partner_id, r.tier));
                if !creds.revoke(&access_key).await.map_err(|e| e.to_string())? {
                    return Err(format!("no active credential {access_key}"));
                }
                let (partner, tier) = partner.unwrap_or_default();
                let entry = record(
                    "revoke",
                    &access_key,
                    &partner,
                    Some(tier),
                    serde_json::Value::Null,
                );
                audit
                    .append(entry)
                    .await
                    .map_err(|e| format!("audit: {e}"))?;
                println!("revoked {access_key}");
            }
        }
        Ok(())
    })
}
