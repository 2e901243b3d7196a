package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Anonymous long polls cannot take the database from everyone else: a waiting poll holds no
 * connection, so 500 of them wait on one database of a Kiln allowed 8 connections while logins, RPC
 * calls and writes go on; polls beyond the bounds per client address and per database are answered
 * 429 in JSON with a Retry-After; and one message wakes all 500.
 */
@Tag("process")
class BusFloodTest {

    private static final int ADDRESSES = 5;
    private static final int PER_ADDRESS = 100;

    @TempDir
    private static Path dir;
    private static CronHarness bus;
    private static KilnProcess kiln;

    @BeforeAll
    static void startOneProcessWithEightConnections() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "bustest", TestAddons.manifest("bustest.BusTest", "base", "bus"),
                Map.of("bustest.BusTest", BusLongPollingTest.SENDER));
        bus = CronHarness.shared(dir, "bus_flood", addons, "bus,bustest");
        kiln = bus.serve("--max-cron-threads", "0", "--db_maxconn", "8", "--bus-max-polls-per-client", "" + PER_ADDRESS,
                "--bus-max-polls-per-db", "" + ADDRESSES * PER_ADDRESS);
    }

    @AfterAll
    static void stop() throws Exception {
        if (bus != null) {
            bus.close();
        }
    }

    @Test
    void fiveHundredWaitingPollsHoldNoConnectionAndLoginsCallsAndWritesGoOnBesideThem() throws Exception {
        List<Poll> polls = new ArrayList<>();
        long last = lastId();
        try {
            for (int a = 0; a < ADDRESSES; a++) {
                for (int i = 0; i < PER_ADDRESS; i++) {
                    polls.add(new Poll(address(a), i % 2 == 0 ? 0 : last));
                }
            }
            // every poll counted: one more from a sixth address is refused for the database. A probe
            // let in while the 500 are still arriving holds a place for a moment, so a poll may be
            // refused then: it is sent again, as a client told to come back would
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() -> {
                for (Poll poll : polls) {
                    poll.sendAgainIfAnswered();
                }
                return answer(startPoll("127.0.0.9", 0, 0)).startsWith("HTTP/1.1 429");
            });
            String databaseFull = answer(startPoll("127.0.0.9", 0, 0));
            assertThat(databaseFull).startsWith("HTTP/1.1 429").contains("Retry-After: 5").contains("Content-Type: application/json")
                    .contains("\"jsonrpc\":\"2.0\"").contains("waiting on the bus of this database");
            assertThat(answer(startPoll(address(0), 0, 0))).as("a 101st poll from one address").startsWith("HTTP/1.1 429")
                    .contains("too many polls from this address");

            for (int i = 0; i < 5; i++) {
                String login = kiln.request("POST", "/web/session/authenticate", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":1,"
                        + "\"params\":{\"db\":\"" + bus.db + "\",\"login\":\"admin\",\"password\":\"admin\"}}", "Content-Type: application/json");
                Matcher uid = Pattern.compile("\"uid\":(\\d+)").matcher(login);
                assertThat(login).as("a login beside 500 polls").startsWith("HTTP/1.1 200");
                assertThat(uid.find()).as(login).isTrue();
                String call = kiln.request("POST", "/jsonrpc", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":2,\"params\":"
                        + "{\"service\":\"object\",\"method\":\"execute_kw\",\"args\":[\"" + bus.db + "\"," + uid.group(1) + ",\"admin\","
                        + "\"res.users\",\"read\",[[" + uid.group(1) + "]],{\"fields\":[\"login\"]}]}}", "Content-Type: application/json");
                assertThat(call).as("an RPC call beside 500 polls").startsWith("HTTP/1.1 200").contains("\"login\":\"admin\"");
            }
            assertThat(bus.count("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + bus.db + "'"))
                    .as("connections to the database while 500 polls wait").isLessThanOrEqualTo(8);

            long beforeMessage = lastId();
            assertThat(kiln.get("/bustest/send?channel=flood&text=wake")).startsWith("HTTP/1.1 200");
            for (Poll poll : polls) {
                String answer = answer(poll.socket);
                assertThat(answer).as("every waiting poll is answered").startsWith("HTTP/1.1 200");
                if (!answer.contains("\"text\":\"wake\"")) {
                    // its 50 s ran out on a slow machine before the message: the client's next poll gets it
                    assertThat(answer).contains("\"result\":[]");
                    assertThat(answer(startPoll(poll.source, beforeMessage, 5))).contains("\"text\":\"wake\"");
                }
            }
        } finally {
            for (Poll poll : polls) {
                poll.socket.close();
            }
        }
    }

    /** One client's waiting poll: where it comes from, the last id it saw, its connection. */
    private static final class Poll {
        final String source;
        final long last;
        Socket socket;

        Poll(String source, long last) throws IOException {
            this.source = source;
            this.last = last;
            this.socket = startPoll(source, last, 50);
        }

        /** Sends the poll again when it was answered already (refused, or its time ran out). */
        void sendAgainIfAnswered() throws IOException {
            if (socket.getInputStream().available() > 0) {
                String answer = answer(socket);
                assertThat(answer).as("a poll answered before any message").matches("(?s)HTTP/1.1 (429|200).*");
                socket = startPoll(source, last, 50);
            }
        }
    }

    private static String address(int index) {
        return "127.0.0." + (2 + index);
    }

    private static long lastId() throws Exception {
        return bus.count("SELECT coalesce(max(id), 0) FROM kiln_bus");
    }

    /** Sends a poll of channel {@code flood} from {@code source} (a loopback address) and leaves its answer unread. */
    private static Socket startPoll(String source, long last, int timeout) throws IOException {
        Socket socket = new Socket();
        socket.bind(new InetSocketAddress(source, 0));
        socket.connect(new InetSocketAddress("127.0.0.1", kiln.port()), 5_000);
        socket.setSoTimeout(120_000);
        byte[] body = ("{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":1,\"params\":{\"channels\":[\"flood\"],\"last\":" + last
                + ",\"timeout\":" + timeout + "}}").getBytes(StandardCharsets.UTF_8);
        OutputStream out = socket.getOutputStream();
        out.write(("POST /longpolling/poll?db=" + bus.db + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return socket;
    }

    private static String answer(Socket socket) throws IOException {
        try (socket; InputStream in = socket.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
