package dev.kiln.http;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@link HttpFrontDoor#abort}: the server answers a request in its handler's stead, and the
 * handler's own response, when it comes, is dropped; exactly one of them writes.
 */
class AbortRequestTest {

    @TempDir
    Path root;

    @Test
    void anAbortedRequestGetsTheServersAnswerAndItsHandlersLateAnswerIsDropped() throws Exception {
        try (TestServer server = new TestServer(ProbeAddon.load(root), HttpOptions.defaults().withAbortable(true))) {
            CompletableFuture<HttpResponse<String>> sleeping = CompletableFuture.supplyAsync(() -> server.get("/probe/sleep"));
            InFlightRequest request = await().atMost(Duration.ofSeconds(10)).until(() -> server.application.inFlight(),
                    list -> !list.isEmpty()).getFirst();

            assertThat(server.application.abort(request, "CPU time limit exceeded")).isTrue();
            HttpResponse<String> response = sleeping.get(10, TimeUnit.SECONDS);
            assertThat(response.statusCode()).isEqualTo(500);
            assertThat(response.body()).isEqualTo("CPU time limit exceeded\n");
            assertThat(response.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");

            // interrupted, the handler returns "woken" at once: dropped, not a second response
            await().atMost(Duration.ofSeconds(10)).until(() -> server.application.requestsInFlight() == 0);
            assertThat(server.application.abort(request, "again")).as("a request answered already").isFalse();
            assertThat(server.get("/probe/items/7").body()).isEqualTo("item 7");
        }
    }

    @Test
    void aRequestWhoseResponseHasBegunIsNotAborted() throws Exception {
        try (TestServer server = new TestServer(ProbeAddon.load(root), HttpOptions.defaults().withAbortable(true))) {
            CompletableFuture<HttpResponse<String>> streaming = CompletableFuture.supplyAsync(() -> server.get("/probe/slow-stream"));
            InFlightRequest request = await().atMost(Duration.ofSeconds(10)).until(() -> server.application.inFlight(),
                    list -> !list.isEmpty()).getFirst();
            Thread.sleep(1_000);    // the stream's first line is written at once, then it sleeps 3 s

            assertThat(server.application.abort(request, "CPU time limit exceeded")).isFalse();
            HttpResponse<String> response = streaming.get(10, TimeUnit.SECONDS);
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.body()).isEqualTo("begun\nend\n");
        }
    }
}
