package dev.kiln.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.addons.LoadedAddons;
import dev.kiln.config.ConfigLoader;
import dev.kiln.logging.Logging;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests a client or a proxy in front can get wrong, each answered 400 in the route's own format
 * (a JSON-RPC error for a JSON body, a page otherwise), never a 500, and the connection closed:
 * bad chunking, bad escapes and encodings, and framings a proxy may read otherwise than Kiln.
 */
class MalformedRequestsTest {

    @TempDir
    static Path root;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        LoadedAddons addons = ProbeAddon.load(root);
        server = new TestServer(addons, HttpOptions.defaults());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    private static String post(String path, String contentType, String framing, String body) {
        // Connection: close, so that the read ends whatever the answer; a refusal closes it anyway
        return server.raw("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: "
                + contentType + "\r\n" + framing + "\r\n" + body);
    }

    @Test
    void aChunkSizeThatIsNotHexIsA400InTheRoutesFormat() {
        String json = post("/probe/echo", "application/json", "Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n");
        assertThat(json).startsWith("HTTP/1.1 400").contains("Content-Type: application/json").contains("\"code\":400");
        String form = post("/probe/form", "application/x-www-form-urlencoded", "Transfer-Encoding: chunked\r\n",
                "zz\r\nb=2\r\n0\r\n\r\n");
        assertThat(form).startsWith("HTTP/1.1 400").contains("Content-Type: text/html");
    }

    @Test
    void badEscapesAndInvalidUtf8InAFormAre400s() {
        for (String body : new String[] {"b=%zz", "b=%", "b=%C3%28"}) {
            String answer = post("/probe/form", "application/x-www-form-urlencoded", "Content-Length: " + body.length() + "\r\n", body);
            assertThat(answer).as(body).startsWith("HTTP/1.1 400");
        }
        String raw = "b=\u00ff\u00fe";                                       // two bytes that are not UTF-8
        assertThat(post("/probe/form", "application/x-www-form-urlencoded", "Content-Length: 4\r\n", raw))
                .startsWith("HTTP/1.1 400");
    }

    @Test
    void framingsAProxyMayReadOtherwiseAreRefused() {
        assertThat(post("/probe/form", "application/x-www-form-urlencoded", "Transfer-Encoding: identity, chunked\r\n",
                "3\r\nb=2\r\n0\r\n\r\n")).startsWith("HTTP/1.1 400");
        assertThat(post("/probe/form", "application/x-www-form-urlencoded", "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
                "3\r\nb=2\r\n0\r\n\r\n")).startsWith("HTTP/1.1 400");
        assertThat(server.raw("POST /probe/form HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n3\r\nb=2\r\n0\r\n\r\n")).startsWith("HTTP/1.1 400");
        assertThat(server.raw("GET /probe/items/1 HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n"))
                .as("header lines ended by a bare LF").startsWith("HTTP/1.1 400");
        assertThat(server.raw("POST /probe/form HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nb=2x"))
                .startsWith("HTTP/1.1 400");
        // the framing a correct client uses still works
        assertThat(post("/probe/form", "application/x-www-form-urlencoded", "Transfer-Encoding: chunked\r\n",
                "3\r\nb=2\r\n0\r\n\r\n")).startsWith("HTTP/1.1 200").endsWith("-,2,-,-");
    }

    @Test
    void aRefusedRequestClosesTheConnectionSoNothingAfterItIsReadAsARequest() {
        // no Connection: close from the client: the refusal itself must end the connection
        String answer = server.raw("POST /probe/form HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n"
                + "0\r\n\r\nGET /probe/items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 400").containsOnlyOnce("HTTP/1.1 ").contains("Connection: close");
    }

    @Test
    void aRefusalIsOneWarningWithoutAStackAndAFloodOfThemIsCut(@TempDir Path logs) throws Exception {
        Path logfile = logs.resolve("kiln.log");
        Logging.configure(ConfigLoader.load(Map.of("logfile", List.of(logfile.toString())), Map.of()));
        try {
            // the first line may wait for the second that an earlier test's refusal began
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                post("/probe/form", "application/x-www-form-urlencoded", "Content-Length: 5\r\n", "b=%zz");
                return Files.readString(logfile).contains("dev.kiln.http.refused");
            });
            for (int i = 0; i < 50; i++) {
                post("/probe/form", "application/x-www-form-urlencoded", "Content-Length: 5\r\n", "b=%zz");
            }
        } finally {
            Logging.configure(ConfigLoader.defaults());
        }
        List<String> lines = Files.readAllLines(logfile);
        assertThat(lines).filteredOn(line -> line.contains("dev.kiln.http.refused")).isNotEmpty()
                .hasSizeLessThan(10)          // 50 more refusals within a few seconds: at most one line a second
                .allSatisfy(line -> assertThat(line).contains(" WARNING ", "POST /probe/form: 400 Malformed request form"));
        assertThat(lines).noneMatch(line -> line.startsWith("\tat ") || line.contains("Exception:"));
    }
}
