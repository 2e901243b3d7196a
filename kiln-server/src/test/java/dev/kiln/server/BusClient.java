package dev.kiln.server;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/** A JDK websocket client of Kiln's {@code /websocket} that collects the pushed messages and the close code. */
final class BusClient implements WebSocket.Listener, AutoCloseable {

    static final JsonMapper JSON = JsonMapper.builder().build();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    final List<JsonNode> received = new CopyOnWriteArrayList<>();
    final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final StringBuilder partial = new StringBuilder();
    WebSocket socket;

    static BusClient open(KilnProcess kiln, String query, String... cookie) throws Exception {
        return open(kiln.host(), kiln.port(), query, cookie);
    }

    static BusClient open(int port, String query, String... cookie) throws Exception {
        return open("127.0.0.1", port, query, cookie);
    }

    static BusClient open(String host, int port, String query, String... cookie) throws Exception {
        BusClient client = new BusClient();
        WebSocket.Builder builder = HTTP.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10));
        if (cookie.length > 0) {
            builder.header("Cookie", cookie[0]);
        }
        client.socket = builder.buildAsync(URI.create("ws://" + host + ":" + port + "/websocket" + query), client)
                .get(10, TimeUnit.SECONDS);
        return client;
    }

    void subscribe(List<String> channels, long last) throws Exception {
        socket.sendText(JSON.writeValueAsString(Map.of("event_name", "subscribe",
                "data", Map.of("channels", channels, "last", last))), true).get(5, TimeUnit.SECONDS);
    }

    List<JsonNode> messages() {
        return List.copyOf(received);
    }

    List<JsonNode> awaitMessages(int count) {
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20)).until(() -> received.size() >= count);
        return messages();
    }

    int awaitClose() throws Exception {
        return closed.get(15, TimeUnit.SECONDS);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
            JSON.readTree(partial.toString()).forEach(received::add);
            partial.setLength(0);
        }
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        closed.complete(statusCode);
        return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        closed.completeExceptionally(error);
    }

    @Override
    public void close() {
        if (socket != null && !socket.isOutputClosed()) {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
        }
        if (socket != null) {
            socket.abort();
        }
    }
}
