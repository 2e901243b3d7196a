-- Users' API keys (Odoo's res_users_apikeys): the key's PBKDF2 hash and its first 8 hex digits,
-- which find the row; never the key itself. A key without a scope serves every scope.
CREATE TABLE res_users_apikeys (
    id serial PRIMARY KEY,
    name text NOT NULL,
    user_id integer NOT NULL REFERENCES res_users (id) ON DELETE CASCADE,
    scope text,
    expiration_date timestamptz,
    "index" varchar(8) NOT NULL CHECK (char_length("index") = 8),
    key text NOT NULL,
    create_date timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX res_users_apikeys_index_idx ON res_users_apikeys ("index");
CREATE INDEX res_users_apikeys_user_id_idx ON res_users_apikeys (user_id);
