-- Fund adjustment caps per grantee (a partner id, or `partner/staff`), with what was moved per
-- period and the holds in flight: the JSON of the pure ledger's FundAccount.
CREATE TABLE fund_accounts (
    grantee    TEXT PRIMARY KEY,
    account    TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
