-- Odoo's base models: contacts, groups, the catalogue of models and fields. Their declarations
-- (BaseAddon) complete these tables after this script; it makes what its rows need.

-- Dates as Odoo stores them: UTC without a time zone.
ALTER TABLE res_users
    ALTER COLUMN create_date TYPE timestamp USING create_date AT TIME ZONE 'UTC',
    ALTER COLUMN create_date SET DEFAULT (now() AT TIME ZONE 'UTC'),
    ALTER COLUMN write_date TYPE timestamp USING write_date AT TIME ZONE 'UTC',
    ALTER COLUMN write_date SET DEFAULT (now() AT TIME ZONE 'UTC');

CREATE TABLE res_partner (
    id serial PRIMARY KEY,
    name text,
    active boolean,
    is_company boolean,
    create_date timestamp,
    write_date timestamp
);

CREATE TABLE res_groups (
    id serial PRIMARY KEY,
    name text NOT NULL,
    xml_id text UNIQUE,
    create_date timestamp,
    write_date timestamp
);

CREATE TABLE res_groups_users_rel (
    res_groups_id integer NOT NULL REFERENCES res_groups (id) ON DELETE CASCADE,
    res_users_id integer NOT NULL REFERENCES res_users (id) ON DELETE CASCADE,
    PRIMARY KEY (res_groups_id, res_users_id)
);
CREATE INDEX res_groups_users_rel_res_users_id_idx ON res_groups_users_rel (res_users_id);

CREATE TABLE ir_model (
    id serial PRIMARY KEY,
    model text NOT NULL UNIQUE,
    name text,
    info text,
    state text,
    modules text
);

CREATE TABLE ir_model_fields (
    id serial PRIMARY KEY,
    model_id integer REFERENCES ir_model (id) ON DELETE CASCADE,
    model text NOT NULL,
    name text NOT NULL,
    UNIQUE (model, name)
);

INSERT INTO res_groups (name, xml_id, create_date, write_date) VALUES
    ('Role / User', 'base.group_user', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Role / Portal', 'base.group_portal', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Role / Public', 'base.group_public', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Administration / Settings', 'base.group_system', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Administration / Access Rights', 'base.group_erp_manager', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Contact / Creation', 'base.group_partner_manager', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC');

-- Every user gets a contact of their name, as in Odoo.
ALTER TABLE res_users ADD COLUMN partner_id integer REFERENCES res_partner (id) ON DELETE RESTRICT;
WITH made AS (
    INSERT INTO res_partner (name, active, is_company, create_date, write_date)
    SELECT name, active, false, create_date, write_date FROM res_users ORDER BY id
    RETURNING id, name
), numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM made
), users AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM res_users
)
UPDATE res_users u SET partner_id = numbered.id FROM users JOIN numbered USING (n) WHERE u.id = users.id;

-- Users are internal users; the first one (the administrator a new database is made with) administers.
INSERT INTO res_groups_users_rel (res_groups_id, res_users_id)
SELECT g.id, u.id FROM res_groups g, res_users u WHERE g.xml_id = 'base.group_user';
INSERT INTO res_groups_users_rel (res_groups_id, res_users_id)
SELECT g.id, u.id FROM res_groups g, res_users u
WHERE g.xml_id IN ('base.group_system', 'base.group_erp_manager', 'base.group_partner_manager')
  AND u.id = (SELECT min(id) FROM res_users WHERE id > 1);
