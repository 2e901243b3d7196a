package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.net.URI;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code /websocket} with the JDK's websocket client against real processes on one PostgreSQL
 * database: messages arrive pushed, in order and once, from this process or another; a rolled-back
 * send never arrives; limits and stops close with their codes without disturbing other clients.
 */
@Tag("process")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class BusWebSocketTest {

    @TempDir
    static Path dir;
    private static CronHarness bus;
    private static KilnProcess one;
    private static KilnProcess two;
    /**
     * The keep-alive periods of process one, divided: pings every 25/6 s, a socket silent for 10 s
     * closed (a minute and 25 s without the divisor), so the test below need not wait a minute.
     */
    private static final int KEEPALIVE_DIVISOR = 6;
    /** A client that never answers the server's pings, opened first: its 10 s run while the other tests do. */
    private static SilentClient silent;

    @BeforeAll
    static void startTwoProcessesOnOneDatabase() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "bustest", TestAddons.manifest("bustest.BusTest", "base", "bus"),
                Map.of("bustest.BusTest", BusLongPollingTest.SENDER));
        bus = CronHarness.shared(dir, "bus_ws", addons, "bus,bustest");
        one = bus.serveWithJvm(List.of("-Dkiln.test.websocket-keepalive-divisor=" + KEEPALIVE_DIVISOR),
                "--max-cron-threads", "0", "--dev=access");
        two = bus.serve("--max-cron-threads", "0");
        silent = SilentClient.open(one.port(), "/websocket?db=" + bus.db);
    }

    @AfterAll
    static void stopThem() throws Exception {
        if (silent != null) {
            silent.socket.close();
        }
        if (bus != null) {
            bus.close();
        }
    }

    @Test
    void aMessageSentInARequestArrivesOnTheWebsocketInOrderAndOnce() throws Exception {
        try (BusClient client = BusClient.open(one, "?db=" + bus.db)) {
            client.subscribe(List.of("orders"), lastId());     // from the last id: what is sent meanwhile comes too
            for (String text : List.of("first", "second", "third")) {
                send(one, "orders", text);
            }
            send(one, "elsewhere", "not for orders");
            send(one, "orders", "last");

            List<JsonNode> received = client.awaitMessages(4);
            assertThat(received).extracting(m -> m.at("/message/payload/text").asString())
                    .as("once each, in order").containsExactly("first", "second", "third", "last");
            assertThat(received).extracting(m -> m.get("channel").asString()).containsOnly("orders");
            assertThat(received).extracting(m -> m.at("/message/type").asString()).containsOnly("note");
            assertThat(received).extracting(m -> m.get("id").asLong()).isSorted().doesNotHaveDuplicates();
        }
    }

    @Test
    void aNewSubscribeReplacesTheChannelsAndReadsFromItsLastId() throws Exception {
        long start = lastId();
        send(one, "later", "sent before the subscribe");
        try (BusClient client = BusClient.open(one, "?db=" + bus.db)) {
            client.subscribe(List.of("early"), lastId());
            client.subscribe(List.of("later"), start);
            assertThat(client.awaitMessages(1)).extracting(m -> m.at("/message/payload/text").asString())
                    .containsExactly("sent before the subscribe");
            send(one, "early", "no longer subscribed");
            send(one, "later", "after");
            assertThat(client.awaitMessages(2).getLast().at("/message/payload/text").asString()).isEqualTo("after");
        }
    }

    @Test
    void whenTheListenerReconnectsASubscribedSocketReadsAgainFromItsLastId() throws Exception {
        try (BusClient client = BusClient.open(one, "?db=" + bus.db)) {
            client.subscribe(List.of("feed"), lastId());
            awaitSubscribed(client, "feed");
            // committed while its notification is lost (as in a restart): only the reconnection can tell the socket
            bus.execute("INSERT INTO kiln_bus (channel, message) VALUES ('feed', '{\"type\": \"note\", \"payload\": \"lost\"}')");
            bus.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE " + CronHarness.listenerOn("kiln_bus"));

            assertThat(client.awaitMessages(1)).extracting(m -> m.at("/message/payload").asString()).containsExactly("lost");
            one.awaitLog("Bus: listening again", 1);
        }
    }

    @Test
    void aSendRolledBackWithItsRequestNeverArrives() throws Exception {
        try (BusClient client = BusClient.open(one, "?db=" + bus.db)) {
            client.subscribe(List.of("audit"), lastId());
            assertThat(one.get("/bustest/send?channel=audit&text=rolledback&fail=1")).startsWith("HTTP/1.1 500");
            send(one, "audit", "committed");
            send(one, "audit", "last");

            assertThat(client.awaitMessages(2)).extracting(m -> m.at("/message/payload/text").asString())
                    .containsExactly("committed", "last");
        }
    }

    @Test
    void aMessageSentThroughAnotherProcessOnTheSameDatabaseArrives() throws Exception {
        try (BusClient client = BusClient.open(two, "?db=" + bus.db)) {
            client.subscribe(List.of("news"), lastId());
            send(one, "news", "from one");

            assertThat(client.awaitMessages(1)).extracting(m -> m.at("/message/payload/text").asString()).containsExactly("from one");
        }
    }

    @Test
    void anOversizedFrameGets1009AndAFloodGets1013WhileAnotherClientKeepsReceiving() throws Exception {
        try (BusClient bystander = BusClient.open(one, "?db=" + bus.db);
             BusClient big = BusClient.open(one, "?db=" + bus.db);
             SilentClient flood = SilentClient.open(one.port(), "/websocket?db=" + bus.db)) {
            bystander.subscribe(List.of("calm"), lastId());
            big.socket.sendText("x".repeat(70 * 1024), true);
            assertThat(big.awaitClose()).isEqualTo(1009);

            // the whole flood in one write, so that no frame of it is still unread when the server
            // closes (unread bytes would make the kernel answer with a reset that can drop the close frame)
            flood.sendTexts("{\"event_name\": \"subscribe\", \"data\": {\"channels\": [\"flood\"], \"last\": 0}}",
                    120);     // a socket may send 100 in 10 s
            assertThat(flood.closeCode.get(15, TimeUnit.SECONDS)).isEqualTo(1013);

            send(one, "calm", "still here");
            assertThat(bystander.awaitMessages(1)).extracting(m -> m.at("/message/payload/text").asString()).containsExactly("still here");
        }
    }

    @Test
    void badJsonAndUnknownEventsGet1003() throws Exception {
        try (BusClient bad = BusClient.open(one, "?db=" + bus.db); BusClient unknown = BusClient.open(one, "?db=" + bus.db)) {
            bad.socket.sendText("{not json", true);
            unknown.socket.sendText("{\"event_name\": \"update_presence\", \"data\": {}}", true);
            assertThat(bad.awaitClose()).isEqualTo(1003);
            assertThat(unknown.awaitClose()).isEqualTo(1003);
        }
    }

    @Test
    void anUpgradeWithNoDatabaseIsRefusedWithA404() throws Exception {
        CompletableFuture<WebSocket> refused = BusClient.HTTP.newWebSocketBuilder()
                .buildAsync(URI.create("ws://127.0.0.1:" + one.port() + "/websocket?db=no_such_db"), new BusClient());
        Throwable failure = org.assertj.core.api.Assertions.catchThrowable(() -> refused.get(10, TimeUnit.SECONDS));
        assertThat(failure).hasCauseInstanceOf(java.net.http.WebSocketHandshakeException.class);
        assertThat(((java.net.http.WebSocketHandshakeException) failure.getCause()).getResponse().statusCode()).isEqualTo(404);
        assertThat(one.log()).doesNotContain("\tat org.eclipse.jetty.websocket");
    }

    @Test
    void anUpgradeFromAnotherSitesPageIsRefusedWith403AndOneFromItsOwnIsServed() throws Exception {
        String cookie = login(one);
        URI uri = URI.create("ws://127.0.0.1:" + one.port() + "/websocket");
        // what a page of another site makes the visitor's browser send: its cookie, and that page's Origin
        CompletableFuture<WebSocket> crossSite = BusClient.HTTP.newWebSocketBuilder().header("Cookie", cookie)
                .header("Origin", "https://evil.example").buildAsync(uri, new BusClient());
        Throwable failure = org.assertj.core.api.Assertions.catchThrowable(() -> crossSite.get(10, TimeUnit.SECONDS));
        assertThat(failure).hasCauseInstanceOf(java.net.http.WebSocketHandshakeException.class);
        assertThat(((java.net.http.WebSocketHandshakeException) failure.getCause()).getResponse().statusCode()).isEqualTo(403);
        WebSocket sameSite = BusClient.HTTP.newWebSocketBuilder().header("Cookie", cookie)
                .header("Origin", "http://127.0.0.1:" + one.port()).buildAsync(uri, new BusClient()).get(10, TimeUnit.SECONDS);
        sameSite.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
    }

    @Test
    void aUserMaySubscribeToTheirOwnPrivateChannelButNotToAnotherUsers() throws Exception {
        String cookie = login(one);
        long uid = bus.count("SELECT id FROM res_users WHERE login = 'admin'");
        try (BusClient own = BusClient.open(one, "", cookie); BusClient other = BusClient.open(one, "", cookie);
             BusClient anonymous = BusClient.open(one, "?db=" + bus.db)) {
            own.subscribe(List.of("user/" + uid), lastId());
            send(one, "user/" + uid, "private");
            assertThat(own.awaitMessages(1)).extracting(m -> m.at("/message/payload/text").asString()).containsExactly("private");

            other.subscribe(List.of("public", "user/" + (uid + 1000)), 0);
            assertThat(other.awaitClose()).isEqualTo(1008);
            anonymous.subscribe(List.of("user/" + uid), 0);
            assertThat(anonymous.awaitClose()).isEqualTo(1008);
        }
        // one runs with --dev=access
        String refused = "INFO \\? dev\\.kiln\\.access: bus websocket of database '" + bus.db + "': subscription refused, closed 1008: channel ";
        one.awaitLog(refused + "user/" + (uid + 1000) + " is private to its user, and this socket is uid " + uid + "'s \\(session [A-Za-z0-9_-]{6}\\.\\.\\.\\)", 1);
        one.awaitLog(refused + "user/" + uid + " is private to its user, and this socket is a guest's", 1);
        assertThat(one.log()).doesNotContain(cookie.substring(cookie.lastIndexOf('.') + 1));
    }

    @Test
    void aSocketWhoseSessionIsGoneIsClosedWith4001() throws Exception {
        String cookie = login(one);
        try (BusClient client = BusClient.open(one, "", cookie)) {
            bus.execute("DELETE FROM kiln_session");
            client.subscribe(List.of("anything"), 0);
            assertThat(client.awaitClose()).isEqualTo(4001);
        }
        one.awaitLog("INFO \\? dev\\.kiln\\.access: bus websocket of database '" + bus.db
                + "': subscription refused, closed 4001: session [A-Za-z0-9_-]{6}\\.\\.\\. expired or unknown", 1);
    }

    @Test
    void aGracefulStopClosesTheSocketsWith1001() throws Exception {
        KilnProcess stopping = bus.serve("--max-cron-threads", "0");
        try (BusClient client = BusClient.open(stopping, "?db=" + bus.db)) {
            client.subscribe(List.of("late"), 0);
            awaitSubscribed(client, "late", stopping);
            stopping.signal("TERM");

            assertThat(client.awaitClose()).isEqualTo(1001);
            assertThat(stopping.awaitExit(KilnProcess.PATIENCE)).isZero();
        }
    }

    @Test
    void twoHundredClientsEachReceiveABroadcastOnceInOrder() throws Exception {
        long start = lastId();
        List<BusClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 200; i++) {
                clients.add(BusClient.open(i % 2 == 0 ? one : two, "?db=" + bus.db));
            }
            for (BusClient client : clients) {
                client.subscribe(List.of("broadcast"), start);
            }
            for (int i = 0; i < 5; i++) {
                send(i % 2 == 0 ? two : one, "broadcast", "b" + i);
            }
            send(one, "broadcast", "last");
            for (BusClient client : clients) {
                assertThat(client.awaitMessages(6)).extracting(m -> m.at("/message/payload/text").asString())
                        .as("once each, in order").containsExactly("b0", "b1", "b2", "b3", "b4", "last");
            }
        } finally {
            clients.forEach(BusClient::close);
        }
    }

    @Test
    @org.junit.jupiter.api.Order(Integer.MAX_VALUE)     // last: the other tests run during its 60 s
    void aClientThatAnswersNoPingIsClosedWith4002AfterItsKeepAliveTimeout() throws Exception {
        assertThat(silent.closeCode.get(120, TimeUnit.SECONDS)).as("close code").isEqualTo(4002);
        assertThat(silent.pings.get()).as("pings received and left unanswered").isGreaterThanOrEqualTo(2);
        long lived = (silent.closedAt - silent.openedAt) / 1_000_000L;
        // 60 s divided, less the check's period (the socket opened at some point between two checks)
        assertThat(lived).as("milliseconds the silent socket lived").isGreaterThanOrEqualTo((60_000L - 5_000L) / KEEPALIVE_DIVISOR);
        assertThat(one.log()).as("the divisor, said once").containsOnlyOnce("keep-alive periods divided by " + KEEPALIVE_DIVISOR);
    }

    /**
     * A websocket client on a plain socket that completes the handshake, then only reads: it answers
     * no ping (the JDK's client always does), so the server's keep-alive timeout must close it. It
     * can also write a burst of frames at once, which the JDK's client cannot.
     */
    private static final class SilentClient implements AutoCloseable {
        final java.net.Socket socket;
        final CompletableFuture<Integer> closeCode = new CompletableFuture<>();
        final java.util.concurrent.atomic.AtomicInteger pings = new java.util.concurrent.atomic.AtomicInteger();
        final long openedAt = System.nanoTime();
        volatile long closedAt;

        private SilentClient(java.net.Socket socket) {
            this.socket = socket;
        }

        static SilentClient open(int port, String path) throws Exception {
            java.net.Socket socket = new java.net.Socket("127.0.0.1", port);
            socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            java.io.DataInputStream in = new java.io.DataInputStream(socket.getInputStream());
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                head.append((char) in.readUnsignedByte());
            }
            assertThat(head.toString()).startsWith("HTTP/1.1 101");
            SilentClient client = new SilentClient(socket);
            Thread.ofVirtual().start(() -> client.read(in));
            return client;
        }

        /** Writes {@code count} text frames (short, masked with a zero key) in one write. */
        void sendTexts(String text, int count) throws java.io.IOException {
            byte[] payload = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            assertThat(payload.length).isLessThan(126);
            java.io.ByteArrayOutputStream frames = new java.io.ByteArrayOutputStream();
            for (int i = 0; i < count; i++) {
                frames.write(0x81);
                frames.write(0x80 | payload.length);
                frames.write(new byte[4]);
                frames.write(payload);
            }
            socket.getOutputStream().write(frames.toByteArray());
            socket.getOutputStream().flush();
        }

        @Override
        public void close() throws java.io.IOException {
            socket.close();
        }

        /** Reads frames (the server's are never masked) until a close frame, whose code it keeps. */
        private void read(java.io.DataInputStream in) {
            try {
                while (true) {
                    int opcode = in.readUnsignedByte() & 0x0f;
                    long length = in.readUnsignedByte() & 0x7f;
                    if (length == 126) {
                        length = in.readUnsignedShort();
                    } else if (length == 127) {
                        length = in.readLong();
                    }
                    byte[] payload = in.readNBytes((int) length);
                    if (opcode == 0x9) {
                        pings.incrementAndGet();
                    } else if (opcode == 0x8) {
                        closedAt = System.nanoTime();
                        closeCode.complete(payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005);
                        return;
                    }
                }
            } catch (java.io.IOException e) {
                closeCode.completeExceptionally(e);
            }
        }
    }

    private static void send(KilnProcess kiln, String channel, String text) throws Exception {
        assertThat(kiln.get("/bustest/send?channel=" + channel.replace("/", "%2F") + "&text=" + text.replace(" ", "+")))
                .startsWith("HTTP/1.1 200");
    }

    /**
     * Waits until {@code client}'s subscription to {@code channel} is live: a message sent now (not
     * one read back from an earlier id) reaches it.
     */
    private static void awaitSubscribed(BusClient client, String channel, KilnProcess... through) throws Exception {
        int before = client.messages().size();
        send(through.length > 0 ? through[0] : one, channel, "subscribed");
        assertThat(client.awaitMessages(before + 1).getLast().at("/message/payload/text").asString()).isEqualTo("subscribed");
        client.received.clear();
    }

    private static long lastId() throws Exception {
        return bus.count("SELECT coalesce(max(id), 0) FROM kiln_bus");
    }

    /** Logs in as admin; the session cookie ({@code session_id=...}). */
    private static String login(KilnProcess kiln) throws Exception {
        String response = kiln.request("POST", "/web/session/authenticate", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":1,\"params\":"
                + "{\"db\":\"" + bus.db + "\",\"login\":\"admin\",\"password\":\"admin\"}}", "Content-Type: application/json");
        Matcher cookie = Pattern.compile("Set-Cookie: (session_id=[^;]+);").matcher(response);
        assertThat(cookie.find()).as(response).isTrue();
        return cookie.group(1);
    }
}
