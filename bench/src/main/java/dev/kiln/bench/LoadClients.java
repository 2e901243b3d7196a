package dev.kiln.bench;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The restart-under-load harness: concurrent HTTP/1.1 clients on plain sockets that send
 * {@code GET path} in a loop and sort every request into exactly one {@link Outcome} — success,
 * empty (the server closed the connection without a byte of answer), reset (the connection was
 * reset, or closed inside the answer), refused, timeout, or a 5xx. Tests start it around a reload,
 * a recycle or a stop and assert on the {@link Tally}; the benchmarks run {@link #main} next to a
 * reloading server.
 *
 * <p>Each client is of one {@link Kind}. A {@link Kind#FRESH} client opens a new connection per
 * request and sends at once, as fast as it can, so each request goes through the listening socket
 * that the server's processes share; a {@link Kind#DELAYED} one waits 1–5 ms between its connect
 * and its request (the connection is queued, or accepted, before there is anything to read); a
 * {@link Kind#KEEP_ALIVE} one reuses its connection. A keep-alive request that finds its reused
 * connection closed by the server before any byte of the answer is sent again once on a new
 * connection, as HTTP clients and proxies do for idempotent requests (RFC 9110, 9.2.2); such
 * retries are counted apart, and the retried request is classified by its second attempt.
 *
 * <p>Unpaced, the clients take whatever CPU the server leaves them. Paced, each client waits a
 * fixed pause after each request, so the load is steady and bounded and leaves CPU to whatever
 * else runs on the machine (the other forks of a test run).
 */
public final class LoadClients implements AutoCloseable {

    /** What became of one request. */
    public enum Outcome { SUCCESS, EMPTY, RESET, REFUSED, TIMEOUT, SERVER_ERROR, OTHER }

    /** How a client uses connections: see the class comment. */
    public enum Kind { FRESH, DELAYED, KEEP_ALIVE }

    /** One request that did not succeed: when its connection was made (-1 when never), and why. */
    public record Failure(Outcome outcome, long connectedNanos, long endedNanos, java.time.Instant at, String detail) {
    }

    /** The counts so far, with latency percentiles of the successful requests in milliseconds. */
    public record Tally(Map<Outcome, Long> counts, long retried, double p50Millis, double p99Millis,
                        double maxMillis, List<Failure> failures) {

        public long count(Outcome outcome) {
            return counts.getOrDefault(outcome, 0L);
        }

        public long total() {
            return counts.values().stream().mapToLong(Long::longValue).sum();
        }

        /** Requests that did not succeed. */
        public long failed() {
            return total() - count(Outcome.SUCCESS);
        }

        /** Failures of requests whose connection was made before {@code nanos} ({@link System#nanoTime()}). */
        public List<Failure> failuresConnectedBefore(long nanos) {
            return failures.stream().filter(f -> f.connectedNanos() >= 0 && f.connectedNanos() < nanos).toList();
        }

        @Override
        public String toString() {
            StringBuilder text = new StringBuilder("requests=").append(total());
            for (Outcome outcome : Outcome.values()) {
                text.append(' ').append(outcome.name().toLowerCase(Locale.ROOT)).append('=').append(count(outcome));
            }
            text.append(" retried=").append(retried)
                    .append(String.format(Locale.ROOT, " p50_ms=%.1f p99_ms=%.1f max_ms=%.1f", p50Millis, p99Millis, maxMillis));
            failures.stream().limit(5).forEach(f -> text.append("\n  ").append(f.outcome()).append(" at ").append(f.at())
                    .append(": ").append(f.detail()));
            return text.toString();
        }
    }

    /** Failures kept for {@link Tally#failures()}; past this many only the counts grow. */
    private static final int FAILURES_KEPT = 10_000;
    /** Latencies kept per client for the percentiles (a ring: the latest ones). */
    private static final int LATENCIES_KEPT = 100_000;

    private final InetSocketAddress address;
    private final byte[] closingRequest;
    private final byte[] keepAliveRequest;
    private final Duration timeout;
    /** How long each client waits after each request; zero: not at all. */
    private final Duration pause;
    private final Map<Outcome, LongAdder> counts = new EnumMap<>(Outcome.class);
    private final LongAdder retried = new LongAdder();
    private final ConcurrentLinkedQueue<Failure> failures = new ConcurrentLinkedQueue<>();
    private final AtomicInteger failuresKept = new AtomicInteger();
    private final List<Thread> threads = new ArrayList<>();
    private final List<long[]> latencies = new ArrayList<>();
    private final List<AtomicInteger> latencyCounts = new ArrayList<>();
    private volatile boolean stopped;

    private LoadClients(InetSocketAddress address, String path, Duration timeout, Duration pause) {
        this.address = address;
        this.timeout = timeout;
        this.pause = pause;
        String head = "GET " + path + " HTTP/1.1\r\nHost: " + address.getHostString() + ":" + address.getPort()
                + "\r\nUser-Agent: kiln-load-clients\r\n";
        this.closingRequest = (head + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        this.keepAliveRequest = (head + "\r\n").getBytes(StandardCharsets.US_ASCII);
        for (Outcome outcome : Outcome.values()) {
            counts.put(outcome, new LongAdder());
        }
    }

    /**
     * Starts one client of each kind in {@code clients}, sending {@code GET path} to
     * 127.0.0.1:{@code port} until {@link #stop}; each request may take up to {@code timeout} to
     * connect and again to answer.
     */
    public static LoadClients start(int port, String path, List<Kind> clients, Duration timeout) {
        return start(port, path, clients, timeout, Duration.ZERO);
    }

    /** As {@link #start(int, String, List, Duration)}, each client waiting {@code pause} after each request. */
    public static LoadClients start(int port, String path, List<Kind> clients, Duration timeout, Duration pause) {
        LoadClients load = new LoadClients(new InetSocketAddress("127.0.0.1", port), path, timeout, pause);
        for (int i = 0; i < clients.size(); i++) {
            Kind kind = clients.get(i);
            long[] ring = new long[LATENCIES_KEPT];
            AtomicInteger filled = new AtomicInteger();
            load.latencies.add(ring);
            load.latencyCounts.add(filled);
            load.threads.add(Thread.ofPlatform().daemon().name("load-client-" + i)
                    .start(() -> load.loop(kind, ring, filled)));
        }
        return load;
    }

    /** {@code clients} clients of one kind: keep-alive, or fresh connections. */
    public static LoadClients start(int port, String path, int clients, boolean keepAlive, Duration timeout) {
        return start(port, path, java.util.Collections.nCopies(clients, keepAlive ? Kind.KEEP_ALIVE : Kind.FRESH), timeout);
    }

    /** {@link #start} with new connections for every request and a 10 s timeout. */
    public static LoadClients start(int port, String path, int clients) {
        return start(port, path, clients, false, Duration.ofSeconds(10));
    }

    /**
     * The mix a restart must get through: 8 {@link Kind#FRESH} clients, 4 {@link Kind#DELAYED} and
     * 4 {@link Kind#KEEP_ALIVE}, with a 10 s timeout.
     */
    public static LoadClients harsh(int port, String path) {
        return harsh(port, path, Duration.ZERO);
    }

    /** {@link #harsh(int, String)}'s mix, each client waiting {@code pause} after each request. */
    public static LoadClients harsh(int port, String path, Duration pause) {
        List<Kind> kinds = new ArrayList<>(java.util.Collections.nCopies(8, Kind.FRESH));
        kinds.addAll(java.util.Collections.nCopies(4, Kind.DELAYED));
        kinds.addAll(java.util.Collections.nCopies(4, Kind.KEEP_ALIVE));
        return start(port, path, kinds, Duration.ofSeconds(10), pause);
    }

    /** The counts so far; the clients go on. */
    public Tally tally() {
        Map<Outcome, Long> now = new EnumMap<>(Outcome.class);
        counts.forEach((outcome, adder) -> now.put(outcome, adder.sum()));
        int kept = 0;
        for (int i = 0; i < latencies.size(); i++) {
            kept += Math.min(latencyCounts.get(i).get(), latencies.get(i).length);
        }
        long[] sorted = new long[kept];
        int at = 0;
        for (int i = 0; i < latencies.size() && at < kept; i++) {
            long[] ring = latencies.get(i);
            int n = Math.min(Math.min(latencyCounts.get(i).get(), ring.length), kept - at);
            System.arraycopy(ring, 0, sorted, at, n);
            at += n;
        }
        sorted = Arrays.copyOf(sorted, at);
        Arrays.sort(sorted);
        return new Tally(now, retried.sum(), percentile(sorted, 0.50), percentile(sorted, 0.99),
                sorted.length == 0 ? 0 : sorted[sorted.length - 1] / 1e6, List.copyOf(failures));
    }

    /** Waits for this many more requests (of any outcome) to end, at most {@code within}. */
    public Tally awaitRequests(long more, Duration within) throws InterruptedException {
        long goal = ended() + more;
        long deadline = System.nanoTime() + within.toNanos();
        while (ended() < goal && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        return tally();
    }

    /** Requests ended so far, of any outcome: the counters alone, not the latencies a {@link #tally} sorts. */
    private long ended() {
        long ended = 0;
        for (LongAdder count : counts.values()) {
            ended += count.sum();
        }
        return ended;
    }

    /** Stops the clients, letting each finish its request in progress, and returns the final counts. */
    public Tally stop() throws InterruptedException {
        stopped = true;
        for (Thread thread : threads) {
            thread.join(timeout.multipliedBy(3).toMillis());
        }
        return tally();
    }

    @Override
    public void close() throws InterruptedException {
        if (!stopped) {
            stop();
        }
    }

    private static double percentile(long[] sorted, double p) {
        return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, Math.floor(p * sorted.length))] / 1e6;
    }

    private void loop(Kind kind, long[] ring, AtomicInteger filled) {
        Socket connection = null;
        while (!stopped) {
            long start = System.nanoTime();
            boolean reused = connection != null;
            Attempt attempt = send(kind, connection);
            if (reused && (attempt.outcome == Outcome.RESET || attempt.outcome == Outcome.EMPTY) && attempt.nothingReceived) {
                retried.increment();                     // the server closed an idle keep-alive connection
                attempt = send(kind, null);
            }
            counts.get(attempt.outcome).increment();
            if (attempt.outcome == Outcome.SUCCESS) {
                int slot = filled.getAndIncrement();
                ring[slot % ring.length] = System.nanoTime() - start;
            } else if (failuresKept.incrementAndGet() <= FAILURES_KEPT) {
                failures.add(new Failure(attempt.outcome, attempt.connectedNanos, System.nanoTime(), java.time.Instant.now(),
                        attempt.detail));
            }
            connection = attempt.open;
            if (pause.isPositive() && !stopped) {
                try {
                    Thread.sleep(pause);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        closeQuietly(connection);
    }

    /** What one try gave; {@code open} is the connection to reuse (keep-alive and still open), else null. */
    private record Attempt(Outcome outcome, long connectedNanos, boolean nothingReceived, String detail, Socket open) {
    }

    private Attempt send(Kind kind, Socket reuse) {
        Socket socket = reuse;
        long connected = -1;
        boolean received = false;
        boolean keepAlive = kind == Kind.KEEP_ALIVE;
        try {
            if (socket == null) {
                socket = new Socket();
                socket.setTcpNoDelay(true);
                socket.connect(address, (int) timeout.toMillis());
            }
            connected = System.nanoTime();
            socket.setSoTimeout((int) timeout.toMillis());
            if (kind == Kind.DELAYED) {
                Thread.sleep(1 + java.util.concurrent.ThreadLocalRandom.current().nextInt(5));
            }
            OutputStream out = socket.getOutputStream();
            out.write(keepAlive ? keepAliveRequest : closingRequest);
            out.flush();
            InputStream in = socket.getInputStream();
            int first = in.read();
            if (first < 0) {
                closeQuietly(socket);
                return new Attempt(Outcome.EMPTY, connected, true, "connection closed before the status line", null);
            }
            received = true;
            Response response = Response.read(first, in);
            Outcome outcome = response.status >= 500 ? Outcome.SERVER_ERROR
                    : response.status >= 200 && response.status < 300 ? Outcome.SUCCESS : Outcome.OTHER;
            boolean keep = keepAlive && !response.close;
            if (!keep) {
                socket.close();
            }
            return new Attempt(outcome, connected, false, outcome == Outcome.SUCCESS ? null : "HTTP " + response.status,
                    keep ? socket : null);
        } catch (ConnectException e) {
            closeQuietly(socket);
            return new Attempt(Outcome.REFUSED, connected, true, e.getMessage(), null);
        } catch (SocketTimeoutException e) {
            closeQuietly(socket);
            return new Attempt(Outcome.TIMEOUT, connected, !received, e.getMessage(), null);
        } catch (IOException e) {
            closeQuietly(socket);
            return new Attempt(Outcome.RESET, connected, !received, e.toString(), null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(socket);
            return new Attempt(Outcome.OTHER, connected, true, "interrupted", null);
        }
    }

    private static void closeQuietly(Socket socket) {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing a broken connection: nothing to do
            }
        }
    }

    /** A response read off the socket: its status and whether the server closes the connection after it. */
    private record Response(int status, boolean close) {

        static Response read(int first, InputStream in) throws IOException {
            List<String> lines = new ArrayList<>();
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            line.write(first);
            for (int b; ; ) {
                b = in.read();
                if (b < 0) {
                    throw new EOFException("connection closed inside the response head");
                }
                if (b == '\n') {
                    String text = line.toString(StandardCharsets.ISO_8859_1).stripTrailing();
                    line.reset();
                    if (text.isEmpty()) {
                        break;
                    }
                    lines.add(text);
                } else {
                    line.write(b);
                }
            }
            String[] statusLine = lines.getFirst().split(" ", 3);
            int status = Integer.parseInt(statusLine[1]);
            long length = -1;
            boolean close = false;
            boolean chunked = false;
            for (String header : lines.subList(1, lines.size())) {
                int colon = header.indexOf(':');
                String name = header.substring(0, Math.max(0, colon)).trim().toLowerCase(Locale.ROOT);
                String value = header.substring(colon + 1).trim().toLowerCase(Locale.ROOT);
                switch (name) {
                    case "content-length" -> length = Long.parseLong(value);
                    case "connection" -> close = value.contains("close");
                    case "transfer-encoding" -> chunked = value.contains("chunked");
                    default -> { }
                }
            }
            if (chunked) {
                readChunks(in);
            } else if (length >= 0) {
                if (in.readNBytes((int) length).length < length) {
                    throw new EOFException("connection closed inside the body");
                }
            } else {
                in.transferTo(OutputStream.nullOutputStream());
                close = true;
            }
            return new Response(status, close);
        }

        private static void readChunks(InputStream in) throws IOException {
            while (true) {
                String size = readLine(in);
                int semicolon = size.indexOf(';');
                int n = Integer.parseInt((semicolon < 0 ? size : size.substring(0, semicolon)).trim(), 16);
                if (n == 0) {
                    while (!readLine(in).isEmpty()) {
                        // trailers
                    }
                    return;
                }
                if (in.readNBytes(n).length < n) {
                    throw new EOFException("connection closed inside a chunk");
                }
                readLine(in);
            }
        }

        private static String readLine(InputStream in) throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            for (int b; (b = in.read()) != '\n'; ) {
                if (b < 0) {
                    throw new EOFException("connection closed inside a chunked body");
                }
                line.write(b);
            }
            return line.toString(StandardCharsets.ISO_8859_1).stripTrailing();
        }
    }

    /**
     * {@code LoadClients PORT PATH CLIENTS SECONDS [keep-alive] [pause-ms=N]}: runs the clients for
     * that long (or until standard input closes, when SECONDS is 0) and prints the tally on one
     * line. CLIENTS {@code harsh} runs {@link #harsh}'s mix.
     */
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: LoadClients PORT PATH CLIENTS|harsh SECONDS [keep-alive] [pause-ms=N]");
            System.exit(2);
        }
        boolean keepAlive = Arrays.asList(args).contains("keep-alive");
        Duration pause = Arrays.stream(args).filter(a -> a.startsWith("pause-ms=")).findFirst()
                .map(a -> Duration.ofMillis(Long.parseLong(a.substring("pause-ms=".length())))).orElse(Duration.ZERO);
        int port = Integer.parseInt(args[0]);
        LoadClients load = args[2].equals("harsh") ? harsh(port, args[1], pause)
                : start(port, args[1], java.util.Collections.nCopies(Integer.parseInt(args[2]),
                        keepAlive ? Kind.KEEP_ALIVE : Kind.FRESH), Duration.ofSeconds(10), pause);
        int seconds = Integer.parseInt(args[3]);
        if (seconds > 0) {
            Thread.sleep(Duration.ofSeconds(seconds));
        } else {
            System.in.transferTo(OutputStream.nullOutputStream());
        }
        System.out.println(load.stop());
    }
}
