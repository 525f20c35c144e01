-- Platform users bound to vendor customer accounts, as the vendor's bind notifications said.
CREATE TABLE sso_bindings (
    x_user_id   TEXT PRIMARY KEY,
    reseller    TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    domain_name TEXT NOT NULL,
    bound_at    BIGINT NOT NULL
);
