package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

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
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kiln evented} as an operator runs it: a separate process on gevent_port pushing what HTTP
 * servers on the same PostgreSQL send, to a thousand websockets at once; restarting in place (HUP,
 * limit_memory_soft) with its clients told to reconnect (1012) and getting what they missed; and
 * capping the connections it serves at once.
 */
@Tag("process")
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class EventedServerTest {

    @TempDir
    static Path dir;
    private static CronHarness bus;
    private static KilnProcess http;
    private static KilnProcess evented;

    @BeforeAll
    static void startAnHttpServerAndAnEventedServerOnOneDatabase() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "bustest", TestAddons.manifest("bustest.BusTest", "base", "bus"),
                Map.of("bustest.BusTest", BusLongPollingTest.SENDER));
        bus = CronHarness.shared(dir, "bus_evented", addons, "bus,bustest");
        http = bus.serve("--max-cron-threads", "0");
        evented = bus.serveEvented();
    }

    @AfterAll
    static void stopThem() throws Exception {
        if (bus != null) {
            bus.close();
        }
    }

    @Test
    void aThousandClientsOfTheEventedServerEachReceiveEveryBroadcastOnceAndInOrder() throws Exception {
        long start = lastId();
        List<BusClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 1_000; i++) {
                clients.add(BusClient.open(evented, "?db=" + bus.db));
            }
            for (BusClient client : clients) {
                client.subscribe(List.of("broadcast"), start);      // from start: what is sent meanwhile comes too
            }
            List<String> sent = IntStream.range(0, 10).mapToObj(i -> "b" + i).toList();
            for (String text : sent) {
                send(http, "broadcast", text);
            }
            for (BusClient client : clients) {
                assertThat(client.awaitMessages(sent.size())).extracting(m -> m.at("/message/payload/text").asString())
                        .as("each message once, in order").containsExactlyElementsOf(sent);
            }
            assertThat(evented.log()).doesNotContain("ERROR");
        } finally {
            clients.forEach(BusClient::close);
        }
    }

    @Test
    void aMessageSentByAPreforkHttpWorkerReachesItsEventedWorkerAndTheEventedServer() throws Exception {
        int geventPort = KilnProcess.freePort();
        KilnProcess prefork = bus.servePrefork(1, "--max-cron-threads", "0", "--gevent-port=" + geventPort);
        try (BusClient ofWorker = BusClient.open(geventPort, "?db=" + bus.db);
             BusClient ofServer = BusClient.open(evented, "?db=" + bus.db)) {
            ofWorker.subscribe(List.of("orders"), lastId());
            ofServer.subscribe(List.of("orders"), lastId());
            send(prefork, "orders", "from a worker");

            assertThat(ofWorker.awaitMessages(1)).extracting(m -> m.at("/message/payload/text").asString()).containsExactly("from a worker");
            assertThat(ofServer.awaitMessages(1)).extracting(m -> m.at("/message/payload/text").asString()).containsExactly("from a worker");
        }
    }

    @Test
    void hupRestartsInPlaceClientsAreToldToReconnectAndGetWhatTheyMissedOnce() throws Exception {
        KilnProcess restarting = bus.serveEvented();
        long seen;
        try (BusClient client = BusClient.open(restarting, "?db=" + bus.db)) {
            client.subscribe(List.of("missed"), lastId());
            send(http, "missed", "before");
            seen = client.awaitMessages(1).getFirst().get("id").asLong();

            restarting.signal("HUP");
            assertThat(client.awaitClose()).as("close code").isEqualTo(1012);
        }
        for (String text : List.of("during 1", "during 2", "during 3")) {
            send(http, "missed", text);
        }
        try (BusClient again = BusClient.open(restarting, "?db=" + bus.db)) {     // queued by the kernel while it boots
            again.subscribe(List.of("missed"), seen);
            send(http, "missed", "after");
            assertThat(again.awaitMessages(4)).extracting(m -> m.at("/message/payload/text").asString())
                    .as("once each, in order").containsExactly("during 1", "during 2", "during 3", "after");
        }
        restarting.awaitLog("socket kept across the restart", 1);
        assertThat(restarting.process().isAlive()).as("same pid").isTrue();

        restarting.signal("TERM");
        assertThat(restarting.awaitExit(Duration.ofSeconds(20))).isZero();
    }

    @Test
    void overLimitMemorySoftTheEventedServerRestartsInPlaceAndItsClientsReconnect() throws Exception {
        KilnProcess small = bus.serveEvented("--limit-memory-soft=32M", "--limit-memory-hard=0");
        try (BusClient client = BusClient.open(small, "?db=" + bus.db)) {
            client.subscribe(List.of("anything"), 0);
            assertThat(client.awaitClose()).as("close code").isEqualTo(1012);
        }
        small.awaitLog("limit_memory_soft reached", 1);
        small.awaitLog("socket kept across the restart", 1);
        assertThat(small.process().isAlive()).as("same pid").isTrue();
        try (BusClient again = BusClient.open(small, "?db=" + bus.db)) {
            again.subscribe(List.of("anything"), 0);
            assertThat(again.awaitClose()).as("told again: the limit is below what the JVM needs").isEqualTo(1012);
        }
    }

    @Test
    void overLimitMemorySoftThePreforkEventedWorkerIsReplacedAndItsClientsReconnectToTheNewOne() throws Exception {
        int geventPort = KilnProcess.freePort();
        KilnProcess prefork = bus.servePrefork(1, "--max-cron-threads", "0", "--gevent-port=" + geventPort,
                "--limit-memory-soft=32M", "--limit-memory-hard=0");
        long first = prefork.workers().stream().filter(w -> w.kind().equals("evented")).findFirst().orElseThrow().pid();
        try (BusClient client = BusClient.open(geventPort, "?db=" + bus.db)) {
            client.subscribe(List.of("anything"), 0);
            assertThat(client.awaitClose()).as("close code").isEqualTo(1012);
        }
        prefork.awaitWorkers("a new evented worker ready", KilnProcess.PATIENCE, workers -> workers.stream()
                .anyMatch(w -> w.kind().equals("evented") && w.ready() && w.pid() != first));
        long before = lastId();
        send(http, "recycled", "to the new worker");
        try (BusClient again = BusClient.open(geventPort, "?db=" + bus.db)) {
            again.subscribe(List.of("recycled"), before);        // read at once: this worker is soon replaced too
            assertThat(again.awaitMessages(1)).extracting(m -> m.at("/message/payload/text").asString())
                    .containsExactly("to the new worker");
        }
    }

    @Test
    void pastWorkerConnectionsTheNextClientWaitsInTheKernelsQueueUntilOneLeaves() throws Exception {
        KilnProcess capped = bus.serveEvented("--worker-connections=2");
        List<BusClient> served = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                served.add(BusClient.open(capped, "?db=" + bus.db));
            }
            BusClient waiting = new BusClient();
            CompletableFuture<WebSocket> queued = BusClient.HTTP.newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + capped.port() + "/websocket?db=" + bus.db), waiting);
            Thread.sleep(2_000);
            assertThat(queued).as("not served while two connections are open").isNotDone();

            served.removeFirst().close();
            waiting.socket = queued.get(15, TimeUnit.SECONDS);
            waiting.subscribe(List.of("capped"), lastId());
            send(http, "capped", "served at last");
            assertThat(waiting.awaitMessages(1)).extracting(m -> m.at("/message/payload/text").asString())
                    .containsExactly("served at last");
            served.add(waiting);
        } finally {
            served.forEach(BusClient::close);
        }
    }

    private static void send(KilnProcess kiln, String channel, String text) throws Exception {
        assertThat(kiln.get("/bustest/send?channel=" + channel + "&text=" + text.replace(" ", "+")))
                .startsWith("HTTP/1.1 200");
    }

    private static long lastId() throws Exception {
        return bus.count("SELECT coalesce(max(id), 0) FROM kiln_bus");
    }
}
