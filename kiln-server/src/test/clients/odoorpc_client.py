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
for model, method in (("res.users", "no_such_method"), ("res.users", "_private"), ("res.partner", "read"),
                      ("res.users", "check_access_rights")):
    try:
        odoo.execute_kw(model, method, ["write"] if method == "check_access_rights" else [[uid]])
        print(method, "no error")
    except odoorpc.error.RPCError as error:
        print(model, method, error.info["code"], error.info["data"]["name"], error)
print("logout", odoo.logout())
