-- Users of this database (Odoo's res_users): login, password hash (passlib pbkdf2_sha512), active flag.
CREATE TABLE res_users (
    id serial PRIMARY KEY,
    login text NOT NULL UNIQUE,
    password text NOT NULL,
    name text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    create_date timestamptz NOT NULL DEFAULT now(),
    write_date timestamptz NOT NULL DEFAULT now()
);
