package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bus with real processes on one PostgreSQL database: a message sent in one request reaches a
 * long poll waiting in another, in the same process or another one, in order and once; a send
 * rolled back with its request is never delivered.
 */
@Tag("process")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class BusLongPollingTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    static final String SENDER = """
            package bustest;

            import dev.kiln.api.*;
            import java.util.Map;

            public final class BusTest implements Addon {
                @Override public void register(AddonContext context) {
                    context.routes(this);
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "announce", this::announce)
                            .firstCall(java.time.Instant.parse("2100-01-01T00:00:00Z")));
                }

                /** Sends from a cron job, and says whether it was let poll (it must not be). */
                private void announce(CronContext job) throws Exception {
                    String polled;
                    try {
                        job.bus().poll(java.util.List.of("jobs"), 0, java.time.Duration.ofMillis(1));
                        polled = "polled";
                    } catch (UnsupportedOperationException refused) {
                        polled = "poll refused";
                    }
                    job.bus().send("jobs", "announce", polled);
                }

                /** Sends {@code text} on {@code channel}, then sleeps {@code sleep} ms; with {@code fail}, fails after. */
                @Route(value = "/bustest/send", auth = Route.Auth.PUBLIC, methods = "GET")
                public Response send(Request request) {
                    String text = request.param("text").orElseThrow();
                    request.env().bus().send(request.param("channel").orElseThrow(), "note",
                            Map.of("text", text, "n", text.length()));
                    if (request.param("sleep").isPresent()) {
                        try {
                            Thread.sleep(Long.parseLong(request.param("sleep").get()));
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                    if (request.param("fail").isPresent()) {
                        throw new IllegalStateException("failing after the send, as asked");
                    }
                    return Response.text("sent");
                }
            }
            """;

    @TempDir
    private static Path dir;
    private static CronHarness bus;
    private static KilnProcess one;
    private static KilnProcess two;

    @BeforeAll
    static void startTwoProcessesOnOneDatabase() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "bustest", TestAddons.manifest("bustest.BusTest", "base", "bus"),
                Map.of("bustest.BusTest", SENDER));
        bus = CronHarness.shared(dir, "bus_poll", addons, "bus,bustest");
        one = bus.serve("--max-cron-threads", "0");
        two = bus.serve("--max-cron-threads", "0");
    }

    @AfterAll
    static void stopThem() throws Exception {
        if (bus != null) {
            bus.close();
        }
    }

    @Test
    void aMessageSentInOneRequestReachesALongPollWaitingInAnotherInOrderAndOnce() throws Exception {
        long start = lastId();
        CompletableFuture<List<JsonNode>> waiting = CompletableFuture.supplyAsync(() -> poll(one, List.of("orders"), start, 30));
        Thread.sleep(500);
        assertThat(waiting).isNotDone();
        for (String text : List.of("first", "second", "third")) {
            assertThat(one.get("/bustest/send?channel=orders&text=" + text)).startsWith("HTTP/1.1 200");
        }
        send(one, "elsewhere", "not for orders");

        List<JsonNode> received = new ArrayList<>(waiting.get(10, TimeUnit.SECONDS));
        while (received.size() < 3) {
            List<JsonNode> more = poll(one, List.of("orders"), received.getLast().get("id").asLong(), 5);
            assertThat(more).as("the rest of the messages").isNotEmpty();
            received.addAll(more);
        }
        assertThat(received).extracting(m -> m.at("/message/payload/text").asString()).containsExactly("first", "second", "third");
        assertThat(received).extracting(m -> m.get("channel").asString()).containsOnly("orders");
        assertThat(received).extracting(m -> m.at("/message/type").asString()).containsOnly("note");
        assertThat(received.getFirst().at("/message/payload/n").asInt()).isEqualTo(5);
        assertThat(received).extracting(m -> m.get("id").asLong()).isSorted().doesNotHaveDuplicates();
        // once: nothing more after the last one seen
        assertThat(poll(one, List.of("orders"), received.getLast().get("id").asLong(), 1)).isEmpty();
    }

    @Test
    void aSendRolledBackWithItsRequestIsNeverDelivered() throws Exception {
        long start = lastId();
        CompletableFuture<List<JsonNode>> waiting = CompletableFuture.supplyAsync(() -> poll(one, List.of("audit"), start, 30));
        Thread.sleep(500);
        assertThat(one.get("/bustest/send?channel=audit&text=rolledback&fail=1")).startsWith("HTTP/1.1 500");
        Thread.sleep(1_000);
        assertThat(waiting).as("woken by a rolled-back send").isNotDone();
        send(one, "audit", "committed");

        List<JsonNode> received = waiting.get(10, TimeUnit.SECONDS);
        assertThat(received).extracting(m -> m.at("/message/payload/text").asString()).containsExactly("committed");
        assertThat(poll(one, List.of("audit"), start, 1)).extracting(m -> m.at("/message/payload/text").asString())
                .containsExactly("committed");
        assertThat(bus.count("SELECT count(*) FROM kiln_bus WHERE channel = 'audit'")).isEqualTo(1);
    }

    @Test
    void aMessageSentThroughOneProcessReachesALongPollOnAnother() throws Exception {
        long start = lastId();
        CompletableFuture<List<JsonNode>> waiting = CompletableFuture.supplyAsync(() -> poll(two, List.of("stock", "news"), start, 30));
        Thread.sleep(500);
        assertThat(bus.count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                + " AND state LIKE 'idle in transaction%'")).as("a waiting poll holds no snapshot").isZero();
        send(one, "news", "from one");

        // a poll that timed out answers [] (its 30 s): the message in the answer says it was woken
        List<JsonNode> received = waiting.get(60, TimeUnit.SECONDS);
        assertThat(received).as("woken by the notification").extracting(m -> m.at("/message/payload/text").asString())
                .containsExactly("from one");
    }

    @Test
    void aPollWithNothingToReadAnswersAnEmptyListAtItsTimeoutAndBadParamsOrAnotherUsersChannelAreRefused() throws Exception {
        long before = System.nanoTime();
        assertThat(poll(two, List.of("quiet"), lastId(), 1)).isEmpty();
        assertThat((System.nanoTime() - before) / 1_000_000).as("waited its timeout").isGreaterThanOrEqualTo(900L);

        assertThat(call(one, "{\"channels\": [], \"last\": 0}").at("/error/data/message").asString()).contains("channels");
        assertThat(call(one, "{\"channels\": [\"a\"], \"last\": 0, \"timeout\": 51}").at("/error/data/message").asString())
                .contains("timeout");
        assertThat(call(one, "{\"channels\": [\"public\", \"user/2\"], \"last\": 0, \"timeout\": 0}").at("/error/data/message").asString())
                .as("another user's private channel, polled by a guest").contains("channel user/2 is private to its user");
    }

    @Test
    void aGracefulStopEndsThePendingPollsWithAnEmptyListInsteadOfWaitingForThem() throws Exception {
        KilnProcess stopping = bus.serve("--max-cron-threads", "0");
        long polled = System.nanoTime();
        CompletableFuture<List<JsonNode>> waiting = CompletableFuture.supplyAsync(() -> poll(stopping, List.of("late"), 0, 50));
        Thread.sleep(1_000);        // a head start for the poll to reach the server: its waiting is not observable from here
        assertThat(waiting).isNotDone();
        stopping.signal("TERM");

        assertThat(waiting.get(KilnProcess.PATIENCE.toSeconds(), TimeUnit.SECONDS)).isEmpty();
        // the other way to an empty list is the poll's own timeout, 50 s after it began
        assertThat((System.nanoTime() - polled) / 1_000_000_000).as("seconds the poll lasted").isLessThan(50);
        assertThat(stopping.awaitExit(KilnProcess.PATIENCE)).isZero();
    }

    @Test
    void theGcJobDeletesTheMessagesOlderThanADayAndKeepsTheOthers() throws Exception {
        bus.execute("INSERT INTO kiln_bus (channel, message, created) VALUES"
                + " ('gc', '{\"type\": \"old\", \"payload\": null}', now() - interval '25 hours'),"
                + " ('gc', '{\"type\": \"kept\", \"payload\": null}', now() - interval '23 hours')");
        bus.execute("UPDATE kiln_cron SET nextcall = now() WHERE name = 'bus.gc'");

        KilnProcess runner = bus.serve("--max-cron-threads", "1");
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).pollInterval(java.time.Duration.ofMillis(100))
                .until(() -> bus.count("SELECT count(*) FROM kiln_bus WHERE channel = 'gc' AND message->>'type' = 'old'") == 0);
        assertThat(bus.query("SELECT string_agg(message->>'type', ',') FROM kiln_bus WHERE channel = 'gc'")).isEqualTo("kept");
        runner.awaitLog("cron job 'bus.gc' done", 1);
        assertThat(bus.query("SELECT interval_number || ' ' || interval_type FROM kiln_cron WHERE name = 'bus.gc'")).isEqualTo("1 hours");
    }

    @Test
    void aCronJobSendsAfterItsCommitButCannotPoll() throws Exception {
        long start = lastId();
        CompletableFuture<List<JsonNode>> waiting = CompletableFuture.supplyAsync(() -> poll(one, List.of("jobs"), start, 40));
        Thread.sleep(500);
        bus.execute("UPDATE kiln_cron SET nextcall = now() WHERE name = 'bustest.announce'");
        bus.serve("--max-cron-threads", "1");

        List<JsonNode> received = waiting.get(30, TimeUnit.SECONDS);
        assertThat(received).extracting(m -> m.at("/message/payload").asString()).containsExactly("poll refused");
    }

    @Test
    void aMessageCommittedAfterALaterSentOneIsStillDeliveredToAClientThatSawTheLaterOne() throws Exception {
        long start = lastId();
        // the slow request sends first but commits last
        CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
            try {
                return one.get("/bustest/send?channel=race&text=slow&sleep=2000");
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Thread.sleep(500);
        send(two, "race", "fast");
        List<JsonNode> first = poll(two, List.of("race"), start, 5);
        assertThat(first).extracting(m -> m.at("/message/payload/text").asString()).containsExactly("fast");
        assertThat(slow.get(10, TimeUnit.SECONDS)).startsWith("HTTP/1.1 200");

        List<JsonNode> then = poll(two, List.of("race"), first.getLast().get("id").asLong(), 5);
        assertThat(then).as("the message committed after the one the client saw")
                .extracting(m -> m.at("/message/payload/text").asString()).containsExactly("slow");
    }

    private static void send(KilnProcess kiln, String channel, String text) throws Exception {
        assertThat(kiln.get("/bustest/send?channel=" + channel + "&text=" + text.replace(" ", "+"))).startsWith("HTTP/1.1 200");
    }

    private static long lastId() throws Exception {
        return bus.count("SELECT coalesce(max(id), 0) FROM kiln_bus");
    }

    static List<JsonNode> poll(KilnProcess kiln, List<String> channels, long last, int timeout) {
        try {
            JsonNode answer = call(kiln, JSON.writeValueAsString(Map.of("channels", channels, "last", last, "timeout", timeout)));
            assertThat(answer.has("result")).as(answer.toString()).isTrue();
            List<JsonNode> messages = new ArrayList<>();
            answer.get("result").forEach(messages::add);
            return messages;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode call(KilnProcess kiln, String params) throws Exception {
        String response = kiln.request("POST", "/longpolling/poll",
                "{\"jsonrpc\": \"2.0\", \"method\": \"call\", \"id\": 1, \"params\": " + params + "}",
                "Content-Type: application/json");
        assertThat(response).startsWith("HTTP/1.1 200");
        return JSON.readTree(response.substring(response.indexOf("\r\n\r\n") + 4));
    }
}
