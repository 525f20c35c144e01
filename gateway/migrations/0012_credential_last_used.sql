-- When each credential was last used, as the gateways saw it (written at most once a minute
-- per gateway, never on the request path).
ALTER TABLE credentials ADD COLUMN last_used_at BIGINT;
