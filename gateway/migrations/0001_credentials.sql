-- Tiergate-issued credentials. Portable SQL (TEXT, BIGINT) for SQLite and PostgreSQL.
-- secret_ciphertext: base64(nonce || AES-256-GCM(SK)), with the access key as associated data.
CREATE TABLE credentials (
    access_key        TEXT PRIMARY KEY,
    partner_id        TEXT NOT NULL,
    tier              TEXT NOT NULL,
    distributor_id    TEXT,
    secret_ciphertext TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    revoked_at        BIGINT
);
CREATE INDEX credentials_partner ON credentials (partner_id);
