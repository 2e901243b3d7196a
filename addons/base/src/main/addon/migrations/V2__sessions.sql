-- Login sessions of this database. The cookie carries a random token; only its SHA-256 is stored
-- here (id), so reading this table does not hand out live sessions. db is the database the session
-- was opened in: a copy of the database (duplicate, restore) does not accept the original's cookies.
CREATE TABLE kiln_session (
    id text PRIMARY KEY,
    uid integer NOT NULL REFERENCES res_users (id) ON DELETE CASCADE,
    db text NOT NULL,
    csrf_secret text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kiln_session_last_seen ON kiln_session (last_seen);
