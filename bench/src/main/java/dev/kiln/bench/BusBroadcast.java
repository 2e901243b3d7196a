package dev.kiln.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The bus benchmark's clients (bench/bus): {@code clients} websockets subscribed to one fresh
 * channel of Kiln's {@code /websocket}, and one sender calling the bus_bench addon's
 * {@code /bus_bench/send} over one kept-alive connection.
 *
 * <ol>
 *   <li><b>Broadcast latency</b>: {@code broadcasts} messages, one every {@code interval} ms; for
 *       each message and each client (after 20 not counted, to warm up), the time from the send in the route (stamped right before
 *       the commit) to the client's receipt. p50, p99 and max over every receipt; every message
 *       must reach every client exactly once and in order.</li>
 *   <li><b>One sender's rate</b>: the sender sends as fast as one connection allows for
 *       {@code seconds}; messages sent (each its own transaction) per second, and deliveries per
 *       second until the last client received the last message.</li>
 * </ol>
 * Prints one {@code key=value} line per phase. Exit 1 when a message was lost, repeated or out of
 * order.
 *
 * <p>Usage: {@code BusBroadcast WS_URL SEND_URL CLIENTS BROADCASTS INTERVAL_MS SECONDS}.
 */
public final class BusBroadcast {

    /** Paced broadcasts sent before those measured. */
    private static final int WARM_UP = 20;
    private static final Pattern MESSAGE = Pattern.compile("\"seq\"\\s*:\\s*(\\d+)\\s*,\\s*\"t\"\\s*:\\s*(\\d+)|\"t\"\\s*:\\s*(\\d+)\\s*,\\s*\"seq\"\\s*:\\s*(\\d+)");

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: BusBroadcast WS_URL SEND_URL CLIENTS BROADCASTS INTERVAL_MS SECONDS");
            System.exit(2);
        }
        String wsUrl = args[0];
        String sendUrl = args[1];
        int clients = Integer.parseInt(args[2]);
        int broadcasts = Integer.parseInt(args[3]);
        long intervalMs = Long.parseLong(args[4]);
        int seconds = Integer.parseInt(args[5]);
        String channel = "bench-" + UUID.randomUUID().toString().substring(0, 8);

        // a few HTTP clients: each has one selector thread, which would otherwise be the bottleneck
        List<HttpClient> pool = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            pool.add(HttpClient.newHttpClient());
        }
        List<Receiver> receivers = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            Receiver receiver = new Receiver(WARM_UP + broadcasts);
            receiver.socket = pool.get(i % pool.size()).newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30))
                    .buildAsync(URI.create(wsUrl), receiver).get(60, TimeUnit.SECONDS);
            receivers.add(receiver);
        }
        String subscribe = "{\"event_name\": \"subscribe\", \"data\": {\"channels\": [\"" + channel + "\"], \"last\": 0}}";
        for (Receiver receiver : receivers) {
            receiver.socket.sendText(subscribe, true).get(30, TimeUnit.SECONDS);
        }
        Thread.sleep(2_000);    // every subscription registered before the first send

        HttpClient sender = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        // phase 1: latency of paced broadcasts, after WARM_UP of them (the JIT compiles the path meanwhile)
        int total = WARM_UP + broadcasts;
        for (int seq = 1; seq <= total; seq++) {
            send(sender, sendUrl, channel, seq);
            Thread.sleep(intervalMs);
        }
        awaitAll(receivers, total, Duration.ofSeconds(60));
        long[] latencies = receivers.stream().flatMapToLong(r -> Arrays.stream(r.latencies(WARM_UP + 1, total))).sorted().toArray();
        boolean intact = check(receivers, 1, total);
        System.out.printf(Locale.ROOT, "broadcast clients=%d messages=%d receipts=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f intact=%s%n",
                clients, broadcasts, latencies.length, percentile(latencies, 50) / 1000.0, percentile(latencies, 99) / 1000.0,
                latencies.length == 0 ? 0 : latencies[latencies.length - 1] / 1000.0, intact);

        // phase 2: one sender as fast as it goes
        long first = total + 1;
        long seq = first;
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end) {
            send(sender, sendUrl, channel, seq++);
        }
        long sentNanos = System.nanoTime() - start;
        long last = seq - 1;
        long sent = last - first + 1;
        awaitAll(receivers, last, Duration.ofSeconds(300));
        long deliveredNanos = System.nanoTime() - start;
        boolean intactRate = check(receivers, first, last);
        System.out.printf(Locale.ROOT, "sender clients=%d sent=%d sent_per_s=%.0f deliveries=%d deliveries_per_s=%.0f all_delivered_s=%.2f intact=%s%n",
                clients, sent, sent / (sentNanos / 1e9), sent * clients, sent * clients / (deliveredNanos / 1e9),
                deliveredNanos / 1e9, intactRate);
        receivers.forEach(r -> r.socket.abort());
        System.exit(intact && intactRate ? 0 : 1);
    }

    private static void send(HttpClient sender, String url, String channel, long seq) throws Exception {
        HttpResponse<String> response = sender.send(HttpRequest.newBuilder(URI.create(url + "?channel=" + channel + "&seq=" + seq))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("send " + seq + ": HTTP " + response.statusCode() + " " + response.body());
        }
    }

    private static void awaitAll(List<Receiver> receivers, long last, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Receiver receiver : receivers) {
            while (receiver.highest.get() < last && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        }
        Thread.sleep(500);      // anything repeated would arrive meanwhile
    }

    /**
     * Whether every client received each message up to {@code last} once, in order: each message a
     * client receives must be the one after the previous (no gap, no repeat), up to the last.
     */
    private static boolean check(List<Receiver> receivers, long first, long last) {
        boolean intact = true;
        for (Receiver receiver : receivers) {
            if (receiver.disorder.get() > 0) {
                System.err.println("a client received a message out of order, twice or after a gap: " + receiver.disorder.get());
                intact = false;
            } else if (receiver.highest.get() != last) {
                System.err.println("a client received messages " + first + " to " + receiver.highest.get() + " only, of " + last);
                intact = false;
            }
        }
        return intact;
    }

    private static long percentile(long[] sorted, int p) {
        return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
    }

    private static long nowMicros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    }

    /** One websocket: how long each paced message took (microseconds), the last in order, and how many broke the order. */
    private static final class Receiver implements WebSocket.Listener {
        final AtomicLongArray latency;
        final AtomicLong highest = new AtomicLong();
        final AtomicLong disorder = new AtomicLong();
        private final StringBuilder partial = new StringBuilder();
        WebSocket socket;

        Receiver(int paced) {
            latency = new AtomicLongArray(paced + 1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                long now = nowMicros();
                Matcher m = MESSAGE.matcher(partial);
                while (m.find()) {
                    long seq = Long.parseLong(m.group(1) != null ? m.group(1) : m.group(4));
                    long t = Long.parseLong(m.group(2) != null ? m.group(2) : m.group(3));
                    if (seq != highest.get() + 1) {
                        disorder.incrementAndGet();
                    }
                    highest.set(Math.max(seq, highest.get()));
                    if (seq < latency.length()) {
                        latency.set((int) seq, now - t);
                    }
                }
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        long[] latencies(long first, long last) {
            long[] out = new long[(int) (last - first + 1)];
            for (long seq = first; seq <= last; seq++) {
                out[(int) (seq - first)] = latency.get((int) seq);
            }
            return out;
        }
    }
}
