-- Odoo's user 1 is the superuser, inactive, never logged in: a new database's first user is then
-- uid 2, as scripts written for Odoo expect. A database whose user 1 exists already keeps its ids.
INSERT INTO res_users (id, login, password, name, active)
VALUES (1, '__system__', '!', 'OdooBot', false)
ON CONFLICT DO NOTHING;
SELECT setval(pg_get_serial_sequence('res_users', 'id'), (SELECT max(id) FROM res_users));
