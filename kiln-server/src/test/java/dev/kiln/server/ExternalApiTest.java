package dev.kiln.server;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Odoo's external API as its documentation's Python examples use it: Python's standard
 * {@code xmlrpc.client} (and a plain JSON-RPC POST) against a real Kiln on a real database, and
 * hostile XML sent over HTTP answered with a fault, never a stack trace.
 */
@Tag("process")
class ExternalApiTest {

    @TempDir
    static Path dir;

    static String db;

    @BeforeAll
    static void createDatabase() throws Exception {
        db = "rpc_" + UUID.randomUUID().toString().substring(0, 8);
        try (KilnProcess kiln = KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(),
                "--stop-after-init", "-d", db, "-i", "base")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).as(kiln.log()).isZero();
        }
    }

    @Test
    void pythonsXmlRpcClientTalksToTheCommonService() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "serve"), "-d", db)) {
            String out = python("""
                    import json, sys, urllib.request, xmlrpc.client
                    url, db = sys.argv[1], sys.argv[2]
                    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
                    v = common.version()
                    print("version", v["server_version"], v["server_version_info"], v["server_serie"], v["protocol_version"], "kiln_version" in v)
                    uid = common.login(db, "admin", "admin")
                    print("login", type(uid).__name__, uid > 0)
                    print("authenticate", common.authenticate(db, "admin", "admin", {}) == uid)
                    print("wrong password", common.login(db, "admin", "nope"))
                    print("unknown db", common.login("no_such_db", "admin", "admin"))
                    print("about", common.about().startswith("Kiln "))
                    for call in (lambda: common.nope(), lambda: common._private(), lambda: common.login(db)):
                        try:
                            call()
                        except xmlrpc.client.Fault as fault:
                            print("fault", fault.faultCode, fault.faultString)
                    try:
                        xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/nothing").version()
                    except xmlrpc.client.Fault as fault:
                        print("fault", fault.faultCode, fault.faultString)
                    body = {"jsonrpc": "2.0", "method": "call", "id": 7,
                            "params": {"service": "common", "method": "login", "args": [db, "admin", "admin"]}}
                    request = urllib.request.Request(f"{url}/jsonrpc", json.dumps(body).encode(),
                                                     {"Content-Type": "application/json"})
                    print("jsonrpc", json.load(urllib.request.urlopen(request))["result"] == uid)
                    body["params"]["args"] = [db, "ad\\x00min", "admin"]
                    request = urllib.request.Request(f"{url}/jsonrpc", json.dumps(body).encode(),
                                                     {"Content-Type": "application/json"})
                    print("nul in login", json.load(urllib.request.urlopen(request))["result"])
                    """, "http://127.0.0.1:" + kiln.port(), db);
            assertThat(out.lines()).containsExactly(
                    "version 19.0 [19, 0, 0, 'final', 0, ''] 19.0 1 True",
                    "login int True",
                    "authenticate True",
                    "wrong password False",
                    "unknown db False",
                    "about True",
                    "fault 1 Method not found: nope",
                    "fault 4 Private methods (such as 'common._private') cannot be called remotely.",
                    "fault 1 argument 2 (login) must be a string",
                    "fault 1 unknown service 'nothing'",
                    "jsonrpc True",
                    "nul in login False");
            // refused before PostgreSQL, which cannot store NUL in text and logged an error per try
            assertThat(kiln.log()).doesNotContain("invalid byte sequence");
        }
    }

    @Test
    void executeKwCallsTheServicesAddonsOffer() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "object"), "-d", db)) {
            String out = python("""
                    import datetime, json, sys, urllib.request, xmlrpc.client
                    url, db = sys.argv[1], sys.argv[2]
                    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
                    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)
                    uid = common.authenticate(db, "admin", "admin", {})
                    def fault(call):
                        try:
                            call()
                            return "no fault"
                        except xmlrpc.client.Fault as f:
                            return f"{f.faultCode} {f.faultString.splitlines()[0]}"
                    # positional and keyword arguments, every type both ways
                    sent = [1, 2**31 - 1, 1.5, True, "é<&>", xmlrpc.client.Binary(b"hi"),
                            datetime.datetime(2026, 1, 2, 3, 4, 5), None, [1, [2]], {"k": {"n": None}}]
                    echoed = models.execute_kw(db, uid, "admin", "hello.echo", "echo", sent, {"flag": False, "n": 3})
                    print("echo args", echoed["args"])
                    print("echo kwargs", sorted(echoed["kwargs"].items()))
                    print("execute", models.execute(db, uid, "admin", "hello.echo", "echo", "a", 2)["args"])
                    t = models.execute_kw(db, uid, "admin", "hello.echo", "types", [])
                    print("types", [(k, t[k]) for k in sorted(t)])
                    print("whoami", models.execute_kw(db, uid, "admin", "hello.echo", "whoami", []) == {"uid": uid, "db": db})
                    me = models.execute_kw(db, uid, "admin", "res.users", "read", [[uid]], {"fields": ["login", "name"]})
                    print("read", me == [{"id": uid, "login": "admin", "name": "Administrator"}], list(me[0]))
                    print("read one id", models.execute_kw(db, uid, "admin", "res.users", "read", [uid], {"fields": ["name"]})
                          == [{"id": uid, "name": "Administrator"}])
                    print("search_read", models.execute_kw(db, uid, "admin", "res.users", "search_read",
                                                           [[["login", "=", "admin"]]], {"fields": ["id"]}) == [{"id": uid}])
                    print("search_read none", models.execute_kw(db, uid, "admin", "res.users", "search_read",
                                                                [[["login", "=", "other"]]]))
                    print("rights", models.execute_kw(db, uid, "admin", "res.users", "check_access_rights", ["read"]),
                          models.execute_kw(db, uid, "admin", "ir.model", "check_access_rights", ["write"], {"raise_exception": False}))
                    print("fault field", fault(lambda: models.execute_kw(db, uid, "admin", "res.users", "read", [[uid], ["password"]])))
                    print("read missing", models.execute_kw(db, uid, "admin", "res.users", "read", [[uid + 1000]]))
                    print("fault password", fault(lambda: models.execute_kw(db, uid, "wrong", "res.users", "read", [[uid]])))
                    print("fault db", fault(lambda: models.execute_kw("no_such_db", uid, "admin", "res.users", "read", [[uid]])))
                    print("fault model", fault(lambda: models.execute_kw(db, uid, "admin", "x.nothing", "read", [[1]])))
                    print("fault method", fault(lambda: models.execute_kw(db, uid, "admin", "hello.echo", "nope", [])))
                    print("fault private", fault(lambda: models.execute_kw(db, uid, "admin", "hello.echo", "_secret", [])))
                    print("fault warn", fault(lambda: models.execute_kw(db, uid, "admin", "hello.echo", "warn", [])))
                    print("fault fail", fault(lambda: models.execute_kw(db, uid, "admin", "hello.echo", "fail", [])))
                    body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw",
                            "args": [db, uid, "admin", "hello.echo", "echo", [1, "x", None], {"k": [True]}]}}
                    request = urllib.request.Request(f"{url}/jsonrpc", json.dumps(body).encode(), {"Content-Type": "application/json"})
                    print("jsonrpc", json.load(urllib.request.urlopen(request))["result"])
                    # Odoo's JSON-RPC errors: code 0, "Odoo Server Error", the exception's name in data.name
                    for name, model, method, password, args in (("denied", "res.users", "read", "wrong", [[uid]]),
                                                                ("user error", "x.nothing", "read", "admin", [[uid]]),
                                                                ("access error", "res.users", "read", "admin", [[uid], ["password"]]),
                                                                ("server error", "hello.echo", "fail", "admin", [[uid]])):
                        body["params"]["args"] = [db, uid, password, model, method, args]
                        request = urllib.request.Request(f"{url}/jsonrpc", json.dumps(body).encode(), {"Content-Type": "application/json"})
                        error = json.load(urllib.request.urlopen(request))["error"]
                        print("jsonrpc", name, error["code"], error["message"], error["data"]["name"], "debug" in error["data"])
                    """, "http://127.0.0.1:" + kiln.port(), db);
            assertThat(out.lines()).containsExactly(
                    // bytes and dates come back as strings, as Odoo's marshaller sends them
                    "echo args [1, 2147483647, 1.5, True, 'é<&>', 'hi', '2026-01-02 03:04:05', None, [1, [2]], {'k': {'n': None}}]",
                    "echo kwargs [('flag', False), ('n', 3)]",
                    "execute ['a', 2]",
                    "types [('bool', True), ('bytes', 'aGVsbG8='), ('date', '2026-11-26'), ('datetime', '2026-11-26 22:30:00'), "
                            + "('double', 2.5), ('int', 42), ('list', [1, 'two', []]), ('long', 9000000000), ('none', None), "
                            + "('string', 'héllo <&>'), ('struct', {'nested': {}})]",
                    "whoami True",
                    "read True ['id', 'login', 'name']",
                    "read one id True",
                    "search_read True",
                    "search_read none []",
                    "rights True True",         // the administrator is in the settings group, which may write ir.model
                    "fault field 4 You do not have enough rights to access the field \"password\" on User (res.users). Please contact"
                            + " your system administrator.",
                    "read missing []",
                    "fault password 3 Access Denied",
                    "fault db 3 Access Denied",
                    "fault model 2 Object x.nothing doesn't exist",
                    "fault method 1 The method 'hello.echo.nope' does not exist",
                    "fault private 4 Private methods (such as 'hello.echo._secret') cannot be called remotely.",
                    "fault warn 2 a warning from hello.echo",
                    "fault fail 1 hello.echo failed on purpose",
                    "jsonrpc {'args': [1, 'x', None], 'kwargs': {'k': [True]}}",
                    "jsonrpc denied 0 Odoo Server Error odoo.exceptions.AccessDenied False",
                    "jsonrpc user error 0 Odoo Server Error odoo.exceptions.UserError False",
                    "jsonrpc access error 0 Odoo Server Error odoo.exceptions.AccessError False",
                    "jsonrpc server error 0 Odoo Server Error java.lang.IllegalStateException False");
            assertThat(kiln.log()).contains("hello.echo.fail failed").doesNotContain("wrong");
        }
    }

    @Test
    void theDbServiceIsGuardedByTheMasterPassword() throws Exception {
        Path config = Files.createTempFile(dir, "kiln", ".conf");
        Files.write(config, List.of("[options]", "admin_passwd = s3cret-master"));
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "dbservice"), "-c", config.toString())) {
            String out = python("""
                    import sys, xmlrpc.client
                    url, existing, fresh = sys.argv[1], sys.argv[2], sys.argv[3]
                    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
                    dbs = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/db")
                    def fault(call):
                        try:
                            call()
                            return "no fault"
                        except xmlrpc.client.Fault as f:
                            return f"{f.faultCode} {f.faultString.splitlines()[0]}"
                    print("exist", dbs.db_exist(existing), dbs.db_exist(fresh))
                    print("version", dbs.server_version() == common.version()["server_version"])
                    print("lang", dbs.list_lang())
                    print("list", existing in dbs.list())
                    print("denied", fault(lambda: dbs.drop("wrong", existing)), dbs.db_exist(existing))
                    print("create", dbs.create_database("s3cret-master", fresh, False, "en_US", "pw", "boss"),
                          common.login(fresh, "boss", "pw") > 0)
                    copy = fresh + "_copy"
                    print("duplicate", dbs.duplicate_database("s3cret-master", fresh, copy), common.login(copy, "boss", "pw") > 0)
                    dump = dbs.dump("s3cret-master", copy)
                    print("drop", dbs.drop("s3cret-master", copy), dbs.db_exist(copy))
                    print("restore", dbs.restore("s3cret-master", copy, dump), common.login(copy, "boss", "pw") > 0)
                    print("cleanup", dbs.drop("s3cret-master", copy), dbs.drop("s3cret-master", fresh), dbs.db_exist(fresh))
                    print("missing", fault(lambda: dbs.drop("s3cret-master", fresh)).startswith("1 "))
                    """, "http://127.0.0.1:" + kiln.port(), db, "rpc_new_" + UUID.randomUUID().toString().substring(0, 6));
            assertThat(out.lines()).containsExactly(
                    "exist True False",
                    "version True",
                    "lang [['en_US', 'English (US)']]",
                    "list True",
                    "denied 3 Access Denied True",
                    "create True True",
                    "duplicate True True",
                    "drop True False",
                    "restore True True",
                    "cleanup True True False",
                    "missing True");
        }
    }

    @Test
    void aJsonRequestNoRouteServesGetsAJsonRpcNotFoundAndEveryAnswerNamesKiln() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "notfound"), "-d", db)) {
            String call = "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"params\":{},\"id\":4}";
            String json = kiln.request("POST", "/web/dataset/nothing_here", call, "Content-Type: application/json");
            assertThat(json).startsWith("HTTP/1.1 404").contains("Content-Type: application/json")
                    .contains("\"code\":404,\"message\":\"404: Not Found\"", "\"name\":\"werkzeug.exceptions.NotFound\"");
            assertThat(kiln.request("GET", "/web/dataset/nothing_here", null)).startsWith("HTTP/1.1 404")
                    .contains("Content-Type: text/html");
            assertThat(json).containsPattern("(?m)^Server: Kiln/\\d+\\.\\d+");
        }
    }

    @Test
    void hostileXmlGetsAFaultAndNoStackTrace() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "hostile"))) {
            String xxe = """
                    <?xml version="1.0"?>
                    <!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
                    <methodCall><methodName>&xxe;</methodName></methodCall>
                    """;
            String answer = kiln.request("POST", "/xmlrpc/2/common", xxe, "Content-Type: text/xml");
            assertThat(answer).startsWith("HTTP/1.1 200").contains("<name>faultCode</name><value><int>1</int>")
                    .contains("DTDs are not allowed").doesNotContain("root:").doesNotContain("at dev.kiln");
            String broken = kiln.request("POST", "/xmlrpc/2/common", "<methodCall><methodName>version", "Content-Type: text/xml");
            assertThat(broken).startsWith("HTTP/1.1 200").contains("malformed XML").doesNotContain("at dev.kiln");
            assertThat(kiln.request("GET", "/xmlrpc/2/common", null)).startsWith("HTTP/1.1 405");
        }
    }

    private static String python(String script, String... args) throws Exception {
        return Commands.python(dir, script, args);
    }
}
