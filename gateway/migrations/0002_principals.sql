-- Reseller staff roles, labels, and a credential's own upstream vendor key (customers and
-- solution providers call the vendor with their own keys, sealed like the SK).
ALTER TABLE credentials ADD COLUMN role TEXT;
ALTER TABLE credentials ADD COLUMN label TEXT;
ALTER TABLE credentials ADD COLUMN upstream_access_key TEXT;
ALTER TABLE credentials ADD COLUMN upstream_secret_ciphertext TEXT;
