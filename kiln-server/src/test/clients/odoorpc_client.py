"""OdooRPC (Debian's python3-odoorpc), unmodified, against a Kiln: log in, call models, read errors, log out.

Usage: /usr/bin/python3 odoorpc_client.py PORT DB. Prints one line per step; the test compares them.
"""
import sys

import odoorpc

port, db = int(sys.argv[1]), sys.argv[2]
odoo = odoorpc.ODOO("127.0.0.1", protocol="jsonrpc", port=port, timeout=60)
print("version", odoo.version)
print("databases", db in odoo.db.list())
try:
    odoorpc.ODOO("127.0.0.1", port=port, version=odoo.version, timeout=60).login(db, "admin", "wrong")
    print("bad login accepted")
except odoorpc.error.RPCError as error:
    print("bad login", error.info["data"]["name"], error)
odoo.login(db, "admin", "admin")
uid = odoo.env.uid
print("uid", uid, "context", sorted(odoo.env.context.items()))
print("search_read", odoo.execute_kw("res.users", "search_read", [[["id", "=", uid]]], {"fields": ["name", "login"]}))
print("read one id", odoo.execute_kw("res.users", "read", [uid], {"fields": ["name"]}))
print("execute", odoo.execute("res.users", "check_access_rights", "read"))
for model, method, args in (("res.users", "no_such_method", [[uid]]), ("res.users", "_private", [[uid]]),
                            ("x.nothing", "read", [[uid]]), ("res.users", "read", [[uid], ["password"]])):
    try:
        odoo.execute_kw(model, method, args)
        print(method, "no error")
    except odoorpc.error.RPCError as error:
        print(model, method, error.info["code"], error.info["data"]["name"], str(error).splitlines()[0])
# the model API: env['res.partner'] introspects with fields_get, then search, browse, read, write, unlink
Partner = odoo.env["res.partner"]
print("in env", "res.partner" in odoo.env, "x.nothing" in odoo.env)
company = Partner.create({"name": "OdooRPC Company", "is_company": True, "email": "rpc@example.com"})
person = Partner.create({"name": "Odette", "parent_id": company})
print("search", Partner.search([("name", "ilike", "odoorpc")]) == [company],
      Partner.search([("parent_id.name", "=", "OdooRPC Company")]) == [person])
record = Partner.browse(company)
print("browse", record.name, record.email, record.is_company, record.parent_id, [c.name for c in record.child_ids])
print("many2one", Partner.browse(person).parent_id.name)
record.name = "OdooRPC Co."
print("write", [(r["name"], r["display_name"]) for r in Partner.read([company], ["name", "display_name"])])
print("child_of", sorted(Partner.search([("id", "child_of", company)])) == sorted([company, person]))
print("user", odoo.env.user.name, odoo.env.user.login, odoo.env.user.partner_id.name)
Partner.unlink([person, company])
print("unlink", Partner.search([("id", "in", [person, company])]))
print("logout", odoo.logout())
