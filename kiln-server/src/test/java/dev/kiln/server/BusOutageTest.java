package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import dev.kiln.db.PgAddress;
import dev.kiln.db.Postgres;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * PostgreSQL restarting while messages are sent through one Kiln process and long-polled on
 * another: every message whose request committed reaches the client, in order, once, and soon
 * after it is sent (the polls wait up to 50 s, so a wake-up lost in the restart would show as a
 * late delivery). The server here is one this test starts, stops and starts again on the same port.
 */
@Tag("process")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class BusOutageTest {

    @TempDir
    Path dir;

    @Test
    void postgresRestartingWhileMessagesAreSentLosesNoCommittedMessageAndDeliversNoneTwice() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "bustest", TestAddons.manifest("bustest.BusTest", "base", "bus"),
                Map.of("bustest.BusTest", BusLongPollingTest.SENDER));
        Path data = dir.resolve("pg");
        Postgres postgres = Postgres.startEmbedded(data);
        try {
            PgAddress server = postgres.await();
            List<String> external = List.of("--addons-path=" + addons, "--db_host=" + server.host(),
                    "--db_port=" + server.port(), "--db_user=postgres", "--db-allow-superuser");
            try (CronHarness bus = CronHarness.external(dir, "bus_outage", server.port(), external, "bus,bustest")) {
                KilnProcess sender = bus.serve("--max-cron-threads", "0");
                KilnProcess poller = bus.serve("--max-cron-threads", "0");
                AtomicBoolean running = new AtomicBoolean(true);
                List<JsonNode> received = Collections.synchronizedList(new ArrayList<>());
                AtomicInteger sent = new AtomicInteger();
                Thread client = Thread.ofVirtual().start(() -> pollUntilStopped(poller, running, received));
                Thread producer = Thread.ofVirtual().start(() -> sendUntilStopped(sender, running, sent));
                try {
                    await().atMost(Duration.ofSeconds(20)).until(() -> received.size() >= 20);

                    postgres.close();
                    Thread.sleep(1_500);        // sends fail meanwhile; polls fail and are retried
                    int sentBefore = sent.get();
                    postgres = Postgres.startEmbedded(data);
                    assertThat(postgres.await().port()).isEqualTo(server.port());
                    // stop sending at the first commits after the restart: those may land before the
                    // poller's process listens again, and no later notification would wake the poll
                    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5)).until(() -> sent.get() > sentBefore);
                } finally {
                    running.set(false);
                    producer.join(Duration.ofSeconds(10));
                }
                List<Long> committed = committedIds(bus);
                // the polls wait up to 50 s: everything must arrive well before a wake-up lost in the restart would show
                await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).until(() -> received.size() >= committed.size());
                poller.awaitLog("Bus: listening again", 1);
                client.interrupt();
                client.join(Duration.ofSeconds(10));

                assertThat(received).extracting(m -> m.get("id").asLong()).as("ids received").isEqualTo(committed);
                assertThat(poller.process().isAlive() && sender.process().isAlive()).isTrue();
            }
        } finally {
            postgres.close();
        }
    }

    @Test
    void whenItsListenerReconnectsEveryWaitingPollReadsAgainFromItsLastId() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "bustest", TestAddons.manifest("bustest.BusTest", "base", "bus"),
                Map.of("bustest.BusTest", BusLongPollingTest.SENDER));
        try (Postgres postgres = Postgres.startEmbedded(dir.resolve("pg"))) {
            PgAddress server = postgres.await();
            List<String> external = List.of("--addons-path=" + addons, "--db_host=" + server.host(),
                    "--db_port=" + server.port(), "--db_user=postgres", "--db-allow-superuser");
            try (CronHarness bus = CronHarness.external(dir, "bus_relisten", server.port(), external, "bus,bustest")) {
                KilnProcess kiln = bus.serve("--max-cron-threads", "0");
                java.util.concurrent.CompletableFuture<List<JsonNode>> waiting = java.util.concurrent.CompletableFuture.supplyAsync(
                        () -> BusLongPollingTest.poll(kiln, List.of("feed"), 0, 50));
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> bus.count(
                        "SELECT count(*) FROM pg_stat_activity WHERE " + CronHarness.listenerOn("kiln_bus")) == 1);
                Thread.sleep(500);

                // committed while its notification is lost (as in a restart): only the reconnection can tell the poll
                bus.execute("INSERT INTO kiln_bus (channel, message) VALUES ('feed', '{\"type\": \"note\", \"payload\": \"lost\"}')");
                bus.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE " + CronHarness.listenerOn("kiln_bus"));

                List<JsonNode> received = waiting.get(15, TimeUnit.SECONDS);
                assertThat(received).extracting(m -> m.at("/message/payload").asString()).containsExactly("lost");
                kiln.awaitLog("Bus: listening again", 1);
            }
        }
    }

    /** Sends numbered messages one after the other; a send that fails (PostgreSQL away) is not retried. */
    private static void sendUntilStopped(KilnProcess sender, AtomicBoolean running, AtomicInteger sent) {
        for (int n = 1; running.get(); n++) {
            try {
                if (sender.get("/bustest/send?channel=feed&text=m" + n).startsWith("HTTP/1.1 200")) {
                    sent.incrementAndGet();
                }
                Thread.sleep(20);
            } catch (Exception e) {
                // the outage: go on with the next one
            }
        }
    }

    /** A client's loop: poll from the last id received, waiting up to 50 s; on an error, poll again. */
    private static void pollUntilStopped(KilnProcess poller, AtomicBoolean running, List<JsonNode> received) {
        long last = 0;
        while (!Thread.currentThread().isInterrupted()) {
            try {
                JsonNode answer = BusLongPollingTest.call(poller, "{\"channels\": [\"feed\"], \"last\": " + last + ", \"timeout\": 50}");
                if (answer.has("result")) {
                    for (JsonNode message : answer.get("result")) {
                        received.add(message);
                        last = message.get("id").asLong();
                    }
                } else {
                    Thread.sleep(100);
                }
            } catch (InterruptedException e) {
                return;
            } catch (Exception | AssertionError e) {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException stop) {
                    return;
                }
            }
        }
    }

    private static List<Long> committedIds(CronHarness bus) throws Exception {
        List<Long> ids = new ArrayList<>();
        try (Connection connection = bus.connect(); Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery("SELECT id FROM kiln_bus WHERE channel = 'feed' ORDER BY id")) {
            while (rows.next()) {
                ids.add(rows.getLong(1));
            }
        }
        return ids;
    }
}
