package dev.kiln.http;

import dev.kiln.config.ConfigLoader;
import dev.kiln.logging.Logging;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.addons.LoadedAddons;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ErrorResponsesTest {

    @TempDir
    static Path root;
    static TestServer server;
    static TestServer debugServer;

    @BeforeAll
    static void start() throws Exception {
        LoadedAddons addons = ProbeAddon.load(root);
        server = new TestServer(addons, HttpOptions.defaults());
        debugServer = new TestServer(addons, HttpOptions.defaults().withDebug(true));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        debugServer.close();
    }

    @Test
    void unknownPathIsNotFound() {
        HttpResponse<String> response = server.get("/no/such/page");
        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.body()).contains("Not Found");
    }

    @Test
    void wrongMethodIs405WithAllow() {
        HttpResponse<String> response = server.get("/probe/post-only");
        assertThat(response.statusCode()).isEqualTo(405);
        assertThat(response.headers().firstValue("Allow")).hasValue("POST, PUT");
    }

    @Test
    void pathParameterOfTheWrongTypeIsNotFoundAsWithOdoosConverters() {
        assertThat(server.get("/probe/items/12").body()).isEqualTo("item 12");
        assertThat(server.get("/probe/items/twelve").statusCode()).isEqualTo(404);
    }

    @Test
    void encodedSlashOrDotNeverReachesARoute() {
        assertThat(server.rawGet("/probe%2Fitems/1")).startsWith("HTTP/1.1 404");
        assertThat(server.rawGet("/probe/x/%2e%2e/items/1")).startsWith("HTTP/1.1 404");
        assertThat(server.rawGet("/probe//items/1")).startsWith("HTTP/1.1 404");
        assertThat(server.rawGet("/probe/items/1")).startsWith("HTTP/1.1 200");
    }

    @Test
    void routesNeedingADatabaseAreNotFoundWithoutOne() {
        assertThat(server.get("/probe/user").statusCode()).isEqualTo(404);
    }

    @Test
    void typedExceptionKeepsItsStatusAndMessage() {
        HttpResponse<String> response = server.get("/probe/forbidden");
        assertThat(response.statusCode()).isEqualTo(403);
        assertThat(response.body()).contains("not yours");
    }

    @Test
    void failureIsA500WithoutTraceByDefault() {
        HttpResponse<String> response = server.get("/probe/fail");
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.body()).contains("Internal Server Error").doesNotContain("IllegalStateException", "probe.Entry");
    }

    @Test
    void failureShowsTheEscapedTraceInDebugMode() {
        HttpResponse<String> response = debugServer.get("/probe/fail");
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.body()).contains("IllegalStateException", "probe.Entry.fail(", "probe &lt;b&gt;failure&lt;/b&gt;")
                .doesNotContain("<b>failure</b>");
    }

    /**
     * A failing request carrying credentials of each kind, each with a value no page may show
     * (Java's client does not send Proxy-Authorization without a proxy: its name is checked below).
     */
    private static HttpResponse<String> failWithCredentials(TestServer target) {
        return target.get("/probe/fail?q=1&session_id=QUERY-SECRET",
                "Cookie", "session_id=db.COOKIE-SECRET", "Authorization", "Basic AUTH-SECRET",
                "X-Api-Key", "KEY-SECRET", "X-Refresh-Token", "TOKEN-SECRET",
                "X-Client-Secret", "CLIENT-SECRET", "X-Probe", "plain-value");
    }

    @Test
    void debugPageShowsTheExceptionTraceRequestAndOwningAddonWithCredentialsMasked() {
        HttpResponse<String> response = failWithCredentials(debugServer);
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
        assertThat(response.body())
                .contains("java.lang.IllegalStateException: probe &lt;b&gt;failure&lt;/b&gt;")
                .contains("probe.Entry.fail(Entry.java:")
                .contains("GET /probe/fail?q=1&amp;session_id=[masked] HTTP/1.1")
                .contains("of addon <b>probe</b>", "probe.Entry.fail</code>", "<code>/probe/fail</code>")
                .contains("Cookie: [masked]", "Authorization: [masked]",
                        "X-Api-Key: [masked]", "X-Refresh-Token: [masked]", "X-Client-Secret: [masked]")
                .contains("X-Probe: plain-value")
                .doesNotContain("QUERY-SECRET", "COOKIE-SECRET", "AUTH-SECRET", "KEY-SECRET",
                        "TOKEN-SECRET", "CLIENT-SECRET", "<b>failure</b>");
    }

    @Test
    void withoutDebugTheFailurePageSaysOnlyTheStatus() {
        HttpResponse<String> response = failWithCredentials(server);
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.body()).contains("Internal Server Error")
                .doesNotContain("IllegalStateException", "failure", "probe", "at ", "GET", "Cookie", "plain-value",
                        "QUERY-SECRET", "COOKIE-SECRET", "AUTH-SECRET", "KEY-SECRET", "TOKEN-SECRET");
    }

    @Test
    void aDebugPageThatCannotBeBuiltFallsBackToThePlainPage() {
        HttpResponse<String> response = debugServer.get("/probe/fail-badly");
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.body()).contains("Internal Server Error").doesNotContain("Stack trace", "unprintable");
    }

    @Test
    void credentialsAreRecognisedByTheirNames() {
        assertThat(List.of("Cookie", "Set-Cookie", "Authorization", "Proxy-Authorization", "X-Api-Key", "X-CSRF-Token",
                "X-Openerp-Session-Id", "X-Secret", "X-Password", "master_pwd", "csrf_token"))
                .allMatch(ErrorPages::secret);
        assertThat(List.of("Host", "Accept", "User-Agent", "Content-Type", "X-Forwarded-For", "X-Probe"))
                .noneMatch(ErrorPages::secret);
        assertThat(ErrorPages.maskQuery("a=1&password=p&api%5Fkey=k&flag&b=")).isEqualTo("a=1&password=[masked]&api%5Fkey=[masked]&flag&b=");
    }

    @Test
    void helloFailIsA500() {
        // the bundled route the error tests of the server use
        try (TestServer bundled = HttpTestSupport.bundled(HttpOptions.defaults())) {
            assertThat(bundled.get("/hello/fail").statusCode()).isEqualTo(500);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void streamedBodyArrivesWhole() {
        HttpResponse<String> response = server.get("/probe/stream");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).hasSize(5000);
    }

    @Test
    void formQueryCookieAndHeaderReachTheHandler() {
        HttpResponse<String> response = server.send(HttpRequest.newBuilder(server.uri("/probe/form?a=1"))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Cookie", "c=3").header("X-Probe", "4")
                .POST(HttpRequest.BodyPublishers.ofString("b=2")).build());
        assertThat(response.body()).isEqualTo("1,2,3,4");
    }

    @Test
    void proxyModeTakesTheClientFromTheLastForwardedHop() throws Exception {
        try (TestServer proxied = new TestServer(ProbeAddon.load(root.resolve("proxied")), HttpOptions.defaults().withProxyMode(true))) {
            assertThat(proxied.get("/probe/client", "X-Forwarded-For", "10.0.0.1, 192.0.2.7").body()).isEqualTo("192.0.2.7");
            assertThat(proxied.get("/probe/client").body()).isEqualTo("127.0.0.1");
        }
        assertThat(server.get("/probe/client", "X-Forwarded-For", "192.0.2.7").body()).isEqualTo("127.0.0.1");
    }

    @Test
    void headRequestOfAGetRouteHasNoBody() {
        HttpResponse<String> response = server.send(HttpRequest.newBuilder(server.uri("/probe/items/1"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEmpty();
    }

    @Test
    void everyRequestWritesOneAccessLogLine(@TempDir Path logs) throws Exception {
        Path logfile = logs.resolve("kiln.log");
        Logging.configure(ConfigLoader.load(Map.of("logfile", List.of(logfile.toString())), Map.of()));
        try {
            server.get("/probe/items/7");
            // the line is written after the response, so the client may see the response first
            await().atMost(Duration.ofSeconds(5)).until(() -> Files.readString(logfile).contains("/probe/items/7"));
        } finally {
            Logging.configure(ConfigLoader.defaults());
        }
        assertThat(Files.readAllLines(logfile)).filteredOn(line -> line.contains("/probe/items/7")).singleElement()
                .asString().matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} \\d+ INFO \\? dev\\.kiln\\.http\\.access: "
                        + "127\\.0\\.0\\.1 \"GET /probe/items/7\" 200 6 \\d+\\.\\dms");
    }
}
