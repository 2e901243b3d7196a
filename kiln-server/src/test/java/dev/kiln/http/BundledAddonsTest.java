package dev.kiln.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.addons.ServerVersion;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class BundledAddonsTest {

    static TestServer server;

    @BeforeAll
    static void start() {
        server = HttpTestSupport.bundled(HttpOptions.defaults());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void helloSaysHelloWorld() {
        HttpResponse<String> response = server.get("/hello");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("Hello, world");
        assertThat(response.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
        assertThat(response.headers().firstValue("Content-Length")).hasValue("12");
        assertThat(response.headers().firstValue("Server")).isEmpty();
    }

    @Test
    void healthPassesAndIsNeverCached() {
        HttpResponse<String> response = server.get("/web/health");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("{\"status\":\"pass\"}");
        assertThat(response.headers().firstValue("Cache-Control")).hasValue("no-store");
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
    }

    @Test
    void versionInfoHasOdoosShape() {
        HttpResponse<String> response = server.post("/web/webclient/version_info", "application/json",
                "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"params\":{},\"id\":7}");
        assertThat(response.statusCode()).isEqualTo(200);
        String version = ServerVersion.current();
        assertThat(response.body()).startsWith("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{")
                .contains("\"server_version\":\"19.0\"", "\"server_version_info\":[19,0,0,\"final\",0,\"\"]",
                        "\"server_serie\":\"19.0\"", "\"protocol_version\":1", "\"kiln_version\":\"" + version + "\"");
    }

    @Test
    void landingPageLinksItsStaticCss() {
        for (String path : new String[] {"/", "/web"}) {
            HttpResponse<String> page = server.get(path);
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.body()).contains("<link rel=\"stylesheet\" href=\"/web/static/src/css/web.css\">");
        }
        HttpResponse<String> css = server.get("/web/static/src/css/web.css");
        assertThat(css.statusCode()).isEqualTo(200);
        assertThat(css.headers().firstValue("Content-Type")).hasValue("text/css; charset=utf-8");
    }

    @Test
    void waitRefusesSecondsOutOfRange() {
        assertThat(server.get("/hello/wait").statusCode()).isEqualTo(400);
        assertThat(server.get("/hello/wait?seconds=0").statusCode()).isEqualTo(400);
        assertThat(server.get("/hello/wait?seconds=301").statusCode()).isEqualTo(400);
        assertThat(server.get("/hello/wait?seconds=soon").statusCode()).isEqualTo(400);
    }

    @Test
    void slowRequestIsTrackedInFlightUntilItEnds() {
        long servedBefore = server.application.requestsServed();
        CompletableFuture<HttpResponse<String>> slow = CompletableFuture.supplyAsync(() -> server.get("/hello/wait?seconds=1"));
        await().atMost(Duration.ofSeconds(5)).until(() -> server.application.requestsInFlight() >= 1);
        assertThat(server.application.inFlight()).anySatisfy(request -> {
            assertThat(request.method()).isEqualTo("GET");
            assertThat(request.path()).isEqualTo("/hello/wait");
            assertThat(request.thread()).isNotNull();
        });
        assertThat(slow.join().statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(5)).until(() -> server.application.requestsInFlight() == 0);
        assertThat(server.application.requestsServed()).isGreaterThan(servedBefore);
    }

    @Test
    void failedRequestIsReleasedFromInFlight() {
        assertThat(server.get("/hello/fail").statusCode()).isEqualTo(500);
        await().atMost(Duration.ofSeconds(5)).until(() -> server.application.requestsInFlight() == 0);
        assertThat(server.application.inFlight()).isEmpty();
    }
}
