package dev.kiln.server;

import dev.kiln.db.SharedPostgres;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * API keys as Odoo's: made by {@code kiln apikey} or by the user through the session routes, shown
 * once, accepted in place of the password on XML-RPC and JSON-RPC and as JSON-2's bearer token,
 * never by the interactive login, and refused in every process the moment they are revoked or
 * expire. JSON-2 answers Odoo's error bodies and statuses.
 */
@Tag("process")
class ApiKeysTest {

    @TempDir
    Path dir;

    @Test
    void aKeyStandsInForThePasswordOnTheExternalApiAndIsJson2sBearerUntilRevokedOrExpired() throws Exception {
        try (CronHarness database = CronHarness.shared(dir, "apikeys", null, "base")) {
            KilnProcess kiln = database.serve();
            String db = database.db;
            String cliKey = cli("apikey", "create", "-d", db, "--user", "admin", "--name", "nightly export").strip();
            assertThat(cliKey).matches("[0-9a-f]{40}");
            assertThat(database.count("SELECT count(*) FROM res_users_apikeys WHERE key LIKE '$pbkdf2-sha512$6000$%'"
                    + " AND \"index\" = '" + cliKey.substring(0, 8) + "' AND key NOT LIKE '%" + cliKey + "%'"))
                    .as("stored hashed, found by its first 8 digits").isEqualTo(1);
            assertThat(cli("apikey", "list", "-d", db, "--user", "admin")).contains("nightly export").doesNotContain(cliKey);

            String out = python("""
                    import json, sys, urllib.error, urllib.request, xmlrpc.client
                    url, db, key = sys.argv[1], sys.argv[2], sys.argv[3]
                    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
                    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")
                    uid = common.login(db, "admin", key)
                    print("login with key", uid)
                    print("execute_kw with key", models.execute_kw(db, uid, key, "res.users", "read", [uid], {"fields": ["login"]}))
                    print("wrong key", common.login(db, "admin", "0" * 40))
                    def post(path, body, headers):
                        request = urllib.request.Request(f"{url}{path}", body, headers)
                        try:
                            with urllib.request.urlopen(request) as answer:
                                return answer.status, answer.headers, json.load(answer)
                        except urllib.error.HTTPError as error:
                            return error.code, error.headers, json.load(error)
                    def session_login(password):
                        body = {"jsonrpc": "2.0", "method": "call", "id": 1,
                                "params": {"db": db, "login": "admin", "password": password}}
                        request = urllib.request.Request(f"{url}/web/session/authenticate", json.dumps(body).encode(),
                                                         {"Content-Type": "application/json"})
                        with urllib.request.urlopen(request) as answer:
                            return answer.headers.get("Set-Cookie"), json.load(answer)
                    print("interactive login with key", session_login(key)[1]["error"]["data"]["name"])
                    bearer = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "X-Odoo-Database": db}
                    def json2(path, args, headers=bearer):
                        status, headers, body = post(path, None if args is None else json.dumps(args).encode(), headers)
                        return status, body
                    print("json2 read", json2("/json/2/res.users/read", {"ids": [uid], "fields": ["name"]}))
                    print("json2 search_read", json2("/json/2/res.users/search_read",
                                                     {"domain": [["login", "=", "admin"]], "fields": ["login"], "context": {"lang": "en_US"}}))
                    for name, path, args, headers in (
                            ("no key", "/json/2/res.users/read", {"ids": [uid]}, {"Content-Type": "application/json", "X-Odoo-Database": db}),
                            ("wrong key", "/json/2/res.users/read", {"ids": [uid]}, dict(bearer, Authorization="bearer " + "0" * 40)),
                            ("unknown model", "/json/2/x.nothing/read", {"ids": [1]}, bearer),
                            ("unknown method", "/json/2/res.users/nope", {}, bearer),
                            ("private method", "/json/2/res.users/_secret", {}, bearer),
                            ("access error", "/json/2/res.users/read", {"ids": [uid], "fields": ["password"]}, bearer),
                            ("bad arguments", "/json/2/res.users/read", {"ids": ["x"]}, bearer),
                            ("not an object", "/json/2/res.users/read", [1], bearer),
                            ("no model", "/json/2/res.users", {}, bearer),
                            ("unknown database", "/json/2/res.users/read", {"ids": [uid]}, dict(bearer, **{"X-Odoo-Database": "nope"}))):
                        status, headers, body = post(path, json.dumps(args).encode(), headers)
                        print("json2", name, status, body["name"], body["message"].splitlines()[0], headers.get("WWW-Authenticate"))
                    status, headers, body = post("/json/2/res.users/read", b"ids=1", dict(bearer, **{"Content-Type": "text/plain"}))
                    print("json2 not json", status, body["name"])

                    # a key of the user's own making, through the session; revoked, it stops at once
                    cookie, info = session_login("admin")
                    session = {"Content-Type": "application/json", "Cookie": cookie.split(";")[0]}
                    def call(path, params):
                        body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}
                        return post(path, json.dumps(body).encode(), session)[2]
                    made = call("/web/session/apikeys/create", {"name": "laptop", "scope": "rpc"})["result"]
                    own = made["key"]
                    print("made", len(own), [k["name"] for k in call("/web/session/apikeys/list", {})["result"]],
                          own in json.dumps(call("/web/session/apikeys/list", {})))
                    print("own key json2", json2("/json/2/res.users/read", {"ids": [uid], "fields": ["login"]},
                                                 dict(bearer, Authorization=f"bearer {own}"))[0])
                    print("revoke", call("/web/session/apikeys/revoke", {"id": made["id"]})["result"])
                    print("revoked json2", json2("/json/2/res.users/read", {"ids": [uid]}, dict(bearer, Authorization=f"bearer {own}"))[0])
                    print("revoked login", common.login(db, "admin", own))
                    print("expired", call("/web/session/apikeys/create", {"name": "old", "expiration_date": "2020-01-01"})["error"]["data"]["name"])
                    print("long name", call("/web/session/apikeys/create", {"name": "x" * 201})["error"]["data"]["name"])
                    print("no such key", call("/web/session/apikeys/revoke", {"id": 987654})["error"]["data"]["name"])
                    """, "http://127.0.0.1:" + kiln.port(), db, cliKey);
            assertThat(out.lines()).containsExactly(
                    "login with key 2",
                    "execute_kw with key [{'id': 2, 'login': 'admin'}]",
                    "wrong key False",
                    "interactive login with key odoo.exceptions.AccessDenied",
                    "json2 read (200, [{'id': 2, 'name': 'Administrator'}])",
                    "json2 search_read (200, [{'id': 2, 'login': 'admin'}])",
                    "json2 no key 401 werkzeug.exceptions.Unauthorized User not authenticated, use an API Key with a Bearer"
                            + " Authorization header. bearer",
                    "json2 wrong key 401 werkzeug.exceptions.Unauthorized Invalid apikey bearer",
                    "json2 unknown model 404 odoo.exceptions.UserError Object x.nothing doesn't exist None",
                    "json2 unknown method 404 builtins.AttributeError The method 'res.users.nope' does not exist None",
                    "json2 private method 403 odoo.exceptions.AccessError Private methods (such as 'res.users._secret') cannot be"
                            + " called remotely. None",
                    "json2 access error 403 odoo.exceptions.AccessError You do not have enough rights to access the field \"password\" on"
                            + " User (res.users). Please contact your system administrator. None",
                    "json2 bad arguments 422 builtins.TypeError ids must be a list of record ids None",
                    "json2 not an object 400 werkzeug.exceptions.BadRequest the body must be a JSON object of named arguments None",
                    "json2 no model 404 werkzeug.exceptions.NotFound Did you mean POST /json/2/<model>/<method>? None",
                    "json2 unknown database 404 werkzeug.exceptions.NotFound No database named in X-Odoo-Database is served here. None",
                    "json2 not json 415 werkzeug.exceptions.UnsupportedMediaType",
                    "made 40 ['nightly export', 'laptop'] False",
                    "own key json2 200",
                    "revoke True",
                    "revoked json2 401",
                    "revoked login False",
                    "expired odoo.exceptions.ValidationError",
                    "long name odoo.exceptions.ValidationError",
                    "no such key odoo.exceptions.MissingError");

            // a key that expires: taken until its expiry, which a remembered check keeps too, refused after it
            String expiring = python("""
                    import datetime, json, sys, urllib.request
                    url, db = sys.argv[1], sys.argv[2]
                    def post(path, params, headers):
                        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}).encode()
                        with urllib.request.urlopen(urllib.request.Request(url + path, body,
                                                    dict(headers, **{"Content-Type": "application/json"}))) as answer:
                            return answer.headers.get("Set-Cookie"), json.load(answer)
                    cookie, _ = post("/web/session/authenticate", {"db": db, "login": "admin", "password": "admin"}, {})
                    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)).isoformat()
                    print(post("/web/session/apikeys/create", {"name": "brief", "expiration_date": soon},
                               {"Cookie": cookie.split(";")[0]})[1]["result"]["key"])
                    """, "http://127.0.0.1:" + kiln.port(), db).strip();
            String[] check = {"python3", "-c", """
                    import sys, xmlrpc.client
                    print(xmlrpc.client.ServerProxy(sys.argv[1] + "/xmlrpc/2/common").login(sys.argv[2], "admin", sys.argv[3]))
                    """, "http://127.0.0.1:" + kiln.port(), db, expiring};
            String[] object = {"python3", "-c", """
                    import sys, xmlrpc.client
                    try:
                        xmlrpc.client.ServerProxy(sys.argv[1] + "/xmlrpc/2/object").execute_kw(sys.argv[2], 2, sys.argv[3], "res.users",
                                                                                              "read", [2])
                        print("taken")
                    except xmlrpc.client.Fault as fault:
                        print("fault", fault.faultCode)
                    """, "http://127.0.0.1:" + kiln.port(), db, expiring};
            assertThat(run(check).strip()).isEqualTo("2");
            assertThat(run(object).strip()).isEqualTo("taken");
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1))
                    .untilAsserted(() -> assertThat(run(object).strip()).isEqualTo("fault 3"));
            assertThat(run(check).strip()).isEqualTo("False");
            String listed = cli("apikey", "list", "-d", db, "--user", "admin");
            String id = listed.lines().skip(1).findFirst().orElseThrow().split("\\s+")[0];
            assertThat(cli("apikey", "revoke", "-d", db, "--user", "admin", id)).contains("API key " + id + " revoked");
            assertThat(cli("apikey", "list", "-d", db, "--user", "admin")).doesNotContain("nightly export");
            assertThat(kiln.log()).doesNotContain(cliKey);
        }
    }

    @Test
    void everyProcessThatRememberedAKeyRefusesItOnceItIsRevoked() throws Exception {
        try (CronHarness database = CronHarness.shared(dir, "apikeys_signals", null, "base")) {
            KilnProcess one = database.serve("--max-cron-threads=0");
            KilnProcess two = database.serve("--max-cron-threads=0");
            String db = database.db;
            String key = cli("apikey", "create", "-d", db, "--user", "admin", "--name", "shared").strip();
            String script = """
                    import json, sys, urllib.error, urllib.request, xmlrpc.client
                    port, db, secret = sys.argv[1], sys.argv[2], sys.argv[3]
                    models = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/object")
                    try:
                        print("execute_kw", len(models.execute_kw(db, 2, secret, "res.users", "read", [2], {"fields": ["login"]})))
                    except xmlrpc.client.Fault as fault:
                        print("execute_kw fault", fault.faultCode)
                    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/2/res.users/read", json.dumps({"ids": [2]}).encode(),
                                                     {"Authorization": f"bearer {secret}", "Content-Type": "application/json",
                                                      "X-Odoo-Database": db})
                    try:
                        urllib.request.urlopen(request).close()
                        print("json2 200")
                    except urllib.error.HTTPError as error:
                        print("json2", error.code)
                    """;
            // each process checks, and remembers, the password and the key
            for (KilnProcess kiln : List.of(one, two)) {
                assertThat(python(script, Integer.toString(kiln.port()), db, "admin")).startsWith("execute_kw 1\n");
                assertThat(python(script, Integer.toString(kiln.port()), db, key)).isEqualTo("execute_kw 1\njson2 200\n");
            }
            // the key revoked through one process: the other refuses it too, without a restart
            String id = cli("apikey", "list", "-d", db, "--user", "admin").lines().skip(1).findFirst().orElseThrow().split("\\s+")[0];
            cli("apikey", "revoke", "-d", db, "--user", "admin", id);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                    .untilAsserted(() -> assertThat(python(script, Integer.toString(two.port()), db, key))
                    .isEqualTo("execute_kw fault 3\njson2 401\n"));
            assertThat(python(script, Integer.toString(one.port()), db, key)).isEqualTo("execute_kw fault 3\njson2 401\n");
            // and a key revoked by its user through the other process's session route
            String second = cli("apikey", "create", "-d", db, "--user", "admin", "--name", "second").strip();
            for (KilnProcess kiln : List.of(one, two)) {
                assertThat(python(script, Integer.toString(kiln.port()), db, second)).isEqualTo("execute_kw 1\njson2 200\n");
            }
            String revoke = """
                    import json, sys, urllib.request
                    port, db = sys.argv[1], sys.argv[2]
                    def post(path, params, headers):
                        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}).encode()
                        with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", body,
                                                    dict(headers, **{"Content-Type": "application/json"}))) as answer:
                            return answer.headers.get("Set-Cookie"), json.load(answer)
                    cookie, _ = post("/web/session/authenticate", {"db": db, "login": "admin", "password": "admin"}, {})
                    session = {"Cookie": cookie.split(";")[0]}
                    keys = post("/web/session/apikeys/list", {}, session)[1]["result"]
                    print(post("/web/session/apikeys/revoke", {"id": keys[-1]["id"]}, session)[1]["result"])
                    """;
            assertThat(python(revoke, Integer.toString(one.port()), db)).isEqualTo("True\n");
            assertThat(python(script, Integer.toString(one.port()), db, second)).as("the process that revoked it, at once")
                    .isEqualTo("execute_kw fault 3\njson2 401\n");
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                    .untilAsserted(() -> assertThat(python(script, Integer.toString(two.port()), db,
                    second)).isEqualTo("execute_kw fault 3\njson2 401\n"));
        }
    }

    /** {@code kiln ARGS} as an operator runs it, on the tests' data dir; its standard output. */
    private String cli(String... args) throws Exception {
        List<String> command = new ArrayList<>(KilnProcess.javaCommand());
        command.addAll(List.of(args));
        command.addAll(List.of("--data-dir=" + SharedPostgres.dataDir(), "--log-level=warn"));
        return Commands.run(dir, Duration.ofMinutes(2), false, command);
    }

    private String run(String... command) throws Exception {
        return Commands.run(dir, Duration.ofMinutes(2), false, List.of(command));
    }

    private String python(String script, String... args) throws Exception {
        return Commands.python(dir, script, args);
    }
}
