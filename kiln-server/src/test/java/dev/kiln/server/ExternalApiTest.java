package dev.kiln.server;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

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
                    print("version", v["server_version"], v["server_version_info"][0], v["protocol_version"])
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
                    """, "http://127.0.0.1:" + kiln.port, db);
            assertThat(out.lines()).containsExactly(
                    "version 19.0 19 1",
                    "login int True",
                    "authenticate True",
                    "wrong password False",
                    "unknown db False",
                    "about True",
                    "fault 1 unknown method 'common.nope'",
                    "fault 1 private methods (_private) cannot be called",
                    "fault 1 argument 2 (login) must be a string",
                    "fault 1 unknown service 'nothing'",
                    "jsonrpc True");
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
        List<String> command = new java.util.ArrayList<>(List.of("python3", "-c", script));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(out).isZero();
        return out;
    }
}
