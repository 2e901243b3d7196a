package dev.kiln.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The clients integrators already use with Odoo, unmodified, against one real Kiln on a new
 * database: OdooRPC from Debian's {@code python3-odoorpc}, and from the npm registry, at the
 * versions {@code src/test/clients/package-lock.json} pins, {@code odoo-xmlrpc}, {@code odoo-await},
 * {@code @fernandoslim/odoo-jsonrpc} (the web client's session routes and {@code call_kw}) and
 * {@code odoo-xmlrpc-ts}. Each script in {@code src/test/clients} logs in, calls models, meets
 * Odoo's errors and prints a line per step. The packages are installed with {@code npm ci} into
 * {@code target/clients} (the npm registry must be reachable; {@code .ci/run} makes sure npm and
 * OdooRPC are there).
 */
@Tag("process")
class OdooClientsTest {

    private static final Path SCRIPTS = Path.of("src/test/clients");
    private static final Path INSTALLED = Path.of("target/clients");

    @TempDir
    static Path dir;

    private static String db;
    private static KilnProcess kiln;

    @BeforeAll
    static void serveANewDatabase() throws Exception {
        installClients();
        db = "clients_" + UUID.randomUUID().toString().substring(0, 8);
        try (KilnProcess init = KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(),
                "--stop-after-init", "-d", db, "-i", "base")) {
            assertThat(init.awaitExit(Duration.ofSeconds(90))).as(init.log()).isZero();
        }
        kiln = KilnProcess.start(Files.createTempDirectory(dir, "serve"), "-d", db);
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) {
            kiln.close();
        }
    }

    /** The pinned packages, from the lock file: installed again only when it changed. */
    private static void installClients() throws Exception {
        Files.createDirectories(INSTALLED);
        String lock = Files.readString(SCRIPTS.resolve("package-lock.json"));
        Path stamp = INSTALLED.resolve("node_modules/.kiln-lock");
        if (!Files.exists(stamp) || !Files.readString(stamp).equals(lock)) {
            Files.copy(SCRIPTS.resolve("package.json"), INSTALLED.resolve("package.json"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(INSTALLED.resolve("package-lock.json"), lock);
            run(INSTALLED, Duration.ofMinutes(5), "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts");
            Files.writeString(stamp, lock);
        }
    }

    @Test
    void odooRpcLogsInCallsModelsReadsOdoosErrorsAndLogsOut() throws Exception {
        assertThat(Path.of("/usr/lib/python3/dist-packages/odoorpc")).as("Debian's python3-odoorpc (.ci/run installs it)")
                .isDirectory();
        assertThat(client("/usr/bin/python3", "odoorpc_client.py")).containsExactly(
                "version 19.0",
                "databases True",
                "bad login odoo.exceptions.AccessDenied Access Denied",
                // the first user of a new database is uid 2, as in Odoo
                "uid 2 context [('lang', 'en_US'), ('tz', 'UTC'), ('uid', 2)]",
                "search_read [{'id': 2, 'name': 'Administrator', 'login': 'admin'}]",
                "read one id [{'id': 2, 'name': 'Administrator'}]",
                "execute True",
                "res.users no_such_method 0 builtins.AttributeError The method 'res.users.no_such_method' does not exist",
                "res.users _private 0 odoo.exceptions.AccessError Private methods (such as 'res.users._private') cannot be called remotely.",
                "x.nothing read 0 odoo.exceptions.UserError Object x.nothing doesn't exist",
                "res.users read 0 odoo.exceptions.AccessError You do not have enough rights to access the field \"password\" on User"
                        + " (res.users). Please contact your system administrator.",
                // env['res.partner']: fields_get, then search, browse (read with _classic_write), write, unlink
                "in env True False",
                "search True True",
                "browse OdooRPC Company rpc@example.com True Recordset('res.partner', []) ['Odette']",
                "many2one OdooRPC Company",
                "write [('OdooRPC Co.', 'OdooRPC Co.')]",
                "child_of True",
                "user Administrator admin Administrator",
                "unlink []",
                "logout True");
    }

    @Test
    void odooXmlrpcSeesOdoosVersionAndFaultCodes() throws Exception {
        assertThat(client("node", "odoo_xmlrpc.js")).containsExactly(
                "version 19.0 [19,0,0,\"final\",0,\"\"]",
                "uid 2",
                "search_read [{\"id\":2,\"name\":\"Administrator\",\"login\":\"admin\"}]",
                "read [{\"id\":2,\"name\":\"Administrator\"}]",
                "crud read [{\"id\":ID,\"name\":\"XML-RPC Contact 2\",\"email\":\"x@example.com\"}]",
                "crud search true",
                "crud unlink true 0",
                "res.users no_such_method faultCode 1 The method 'res.users.no_such_method' does not exist",
                "x.nothing read faultCode 2 Object x.nothing doesn't exist",
                "res.users _private faultCode 4 Private methods (such as 'res.users._private') cannot be called remotely.",
                "bad login No UID returned from authentication.");
    }

    @Test
    void odooAwaitWithItsEmptyDefaults() throws Exception {
        assertThat(client("node", "odoo_await.js")).containsExactly(
                "uid 2",
                "searchRead [{\"id\":2,\"name\":\"Administrator\",\"login\":\"admin\"}]",
                "searchRead defaults [{\"id\":2,\"name\":\"Administrator\"}]",
                "read one id [{\"id\":2,\"name\":\"Administrator\"}]",
                "create number",
                "update true",
                "read [{\"name\":\"Await Contact\",\"phone\":\"556\"}]",
                "search true",
                "delete true []",
                "fault XML-RPC fault: The method 'res.users.no_such_method' does not exist",
                "bad login Error connecting to database. This is probably due to invalid credentials.");
    }

    @Test
    void odooJsonrpcUsesTheWebSessionRoutesAndCallKw() throws Exception {
        assertThat(client("node", "odoo_jsonrpc.js")).containsExactly(
                "connect 2 admin 19.0 {\"lang\":\"en_US\",\"tz\":\"UTC\",\"uid\":2}",
                "session true",
                "searchRead [{\"id\":2,\"name\":\"Administrator\",\"login\":\"admin\"}]",
                "read [{\"id\":2,\"name\":\"Administrator\"}]",
                "create number",
                "update true",
                "read [{\"name\":\"JSON Contact\",\"city\":\"Liège\"}]",
                "search true",
                "delete true []",
                "error The method 'res.users.no_such_method' does not exist",
                "session info 2",
                "disconnect true",
                // get_session_info answers a destroyed session with Odoo's error 100; the client words it so
                "destroyed session session_id not found. Please connect first.",
                "jsonrpc connect {\"uid\":2}",
                "jsonrpc searchRead [{\"id\":2,\"name\":\"Administrator\"}]",
                "bad login Cookie not found in response headers, please check your credentials");
    }

    @Test
    void odooXmlrpcTs() throws Exception {
        assertThat(client("node", "odoo_xmlrpc_ts.js")).containsExactly(
                "version 19.0 [19,0,0,\"final\",0,\"\"] 19.0",
                "uid 2",
                "searchRead [{\"id\":2,\"name\":\"Administrator\",\"login\":\"admin\"}]",
                "read [{\"id\":2,\"name\":\"Administrator\"}]",
                "create number",
                "write true",
                "search true 1",
                "fieldsGet {\"type\":\"many2one\"}",
                "unlink true []",
                "fault OdooError Method no_such_method failed on res.users: Error: XML-RPC fault:"
                        + " The method 'res.users.no_such_method' does not exist",
                "bad login true Authentication failed");
    }

    /** Runs a client script on Kiln's port and database; its lines. */
    private static List<String> client(String interpreter, String script) throws Exception {
        Path copy = INSTALLED.resolve(script);
        Files.copy(SCRIPTS.resolve(script), copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return run(INSTALLED, Duration.ofMinutes(2), interpreter, script, Integer.toString(kiln.port()), db).lines().toList();
    }

    private static String run(Path in, Duration within, String... command) throws IOException, InterruptedException {
        return Commands.run(in, within, true, List.of(command));
    }
}
