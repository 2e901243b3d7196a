package dev.kiln.server;

import dev.kiln.db.SharedPostgres;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnixDomainSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real {@code kiln} process for tests: a JVM started like bin/kiln starts it (same flags, this
 * test's class path), on a free loopback port, its log in a file the test reads. {@link #close}
 * stops it with TERM and, if it does not go, kills it.
 */
final class KilnProcess implements AutoCloseable {

    static final List<String> JVM_FLAGS = List.of(
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC");

    /** The line a server logs once it listens, naming its address: the first one is the process's own port. */
    private static final Pattern LISTENING = Pattern.compile(
            "(?:service \\(Jetty\\) running(?: through socket activation)?|Prefork master) on [^\\s]*:(\\d+)");

    /**
     * How long a wait for the server's next step may take before the test fails: a JVM booting on two
     * cores shared by parallel test JVMs and a CPU hog can take tens of seconds. Not a measure of speed.
     */
    static final Duration PATIENCE = Duration.ofSeconds(90);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    final Path dir;
    final Path log;
    final Path pidfile;
    private final Process process;
    /** The log's length when this process started: what came before belongs to an earlier one. */
    private final long logStart;
    /** Where its control socket lies ({@code --data-dir}). */
    private final Path dataDir;
    private volatile int port;
    /** The address it listens on ({@code --http-interface}), 127.0.0.1 unless told. */
    private final String host;

    private KilnProcess(Process process, int port, Path dir, long logStart, Path dataDir, String host) {
        this.process = process;
        this.host = host;
        this.dataDir = dataDir;
        this.port = port;
        this.dir = dir;
        this.log = dir.resolve("kiln.log");
        this.pidfile = dir.resolve("kiln.pid");
        this.logStart = logStart;
    }

    /** Starts {@code kiln} with the hello addon server-wide and {@code args}, and waits until it serves. */
    static KilnProcess start(Path dir, String... args) throws IOException {
        return startWithJvm(dir, List.of(), args);
    }

    /** {@link #start} with {@code jvm} options (system properties) for this process alone. */
    static KilnProcess startWithJvm(Path dir, List<String> jvm, String... args) throws IOException {
        return started(launch(dir, List.of(), false, jvm, args), "HTTP service \\(Jetty\\) running");
    }

    /** {@code kiln} once it logged {@code ready}; stopped (not left running) when it does not. */
    private static KilnProcess started(KilnProcess kiln, String ready) {
        try {
            kiln.awaitLog(ready, 1);
            return kiln;
        } catch (RuntimeException | Error e) {
            try {
                kiln.close();
            } catch (Exception closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
    }

    /** Starts {@code kiln} through {@code wrapper} (e.g. systemd-socket-activate) without waiting. */
    static KilnProcess launch(Path dir, List<String> wrapper, String... args) throws IOException {
        return launch(dir, wrapper, false, List.of(), args);
    }

    /**
     * Starts {@code kiln evented} on a free loopback port ({@link #port} is its gevent_port) with
     * the hello addon server-wide and {@code args}, and waits until it serves.
     */
    static KilnProcess startEvented(Path dir, String... args) throws IOException {
        return started(launch(dir, List.of(), true, List.of(), args), "Evented service \\(Jetty\\) running");
    }

    private static KilnProcess launch(Path dir, List<String> wrapper, boolean evented, List<String> jvm, String... args)
            throws IOException {
        // port 0 (the kernel's choice, read back from the log) unless a wrapper must be told the port
        int port = wrapper.isEmpty() ? 0 : freePort();
        // as an operator's shell or systemd would: signals a nohup'd or backgrounded test run ignores
        // are not passed on as ignored (HotSpot would never let Kiln handle them)
        List<String> command = new ArrayList<>(List.of("env", "--default-signal=HUP,INT,QUIT,TERM"));
        command.addAll(wrapper.stream().map(w -> w.replace("{port}", String.valueOf(port))).toList());
        List<String> java = javaCommand();
        java.addAll(java.size() - 1, jvm);     // before the main class
        command.addAll(java);
        if (evented) {
            command.addAll(List.of("evented", "--gevent-port=" + port));
        } else {
            command.add("--http-port=" + port);
        }
        command.addAll(List.of("--load=base,web,hello", "--pidfile=" + dir.resolve("kiln.pid"),
                "--data-dir=" + SharedPostgres.dataDir()));
        if (!evented && Arrays.stream(args).noneMatch(a -> a.startsWith("--gevent-port"))) {
            command.add("--gevent-port=0");     // the prefork master's evented worker: never the default 8072
        }
        command.addAll(List.of(args));
        Path log = dir.resolve("kiln.log");
        long logStart = Files.exists(log) ? Files.size(log) : 0;
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        String host = Arrays.stream(args).filter(a -> a.startsWith("--http-interface=")).map(a -> a.substring(17))
                .reduce((first, last) -> last).orElse("127.0.0.1");
        return new KilnProcess(process, port, dir, logStart, dataDirOf(command), host);
    }

    /**
     * The JVM and its class path, as bin/kiln runs it: from dist/ with the AOT cache {@code make aot}
     * made (a boot of a few hundred milliseconds less CPU, and the tests boot hundreds of JVMs) when
     * dist/ holds this source tree's build; otherwise, or with {@code KILN_AOT=off}, from this test's
     * class path, without a cache (the JVM caches no class read from a directory).
     */
    static List<String> javaCommand() {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        Path dist = Path.of(System.getProperty("kiln.dist"));
        boolean fromDist = FreshDist.FRESH;
        if (fromDist && !"off".equals(System.getenv("KILN_AOT")) && Files.isRegularFile(dist.resolve("kiln.aot"))) {
            // a cache older than the jars is ignored by the JVM, and its warnings kept off the log
            command.addAll(List.of("-XX:AOTCache=" + dist.resolve("kiln.aot"), "-Xlog:aot=off", "-Xlog:cds=off"));
            if (Files.isRegularFile(dist.resolve("kiln-worker.aot"))) {      // prefork workers: their own
                command.add("-D" + WorkerProcess.WORKER_AOT_PROPERTY + "=" + dist.resolve("kiln-worker.aot"));
            }
        }
        command.addAll(JVM_FLAGS);
        String more = System.getenv("KILN_JAVA_OPTS");     // as bin/kiln takes them
        if (more != null && !more.isBlank()) {
            command.addAll(List.of(more.strip().split("\\s+")));
        }
        command.add("-Dkiln.dist=" + dist);
        command.add("-cp");
        command.add(fromDist ? dist.resolve("lib") + "/*" : System.getProperty("java.class.path"));
        command.add("dev.kiln.Main");
        return command;
    }

    /**
     * Whether dist/lib/kiln-server.jar was built after every main source was last changed: `make test`
     * builds it first; a test run straight from Maven after an edit must not start the old code.
     * Looked at once per test JVM (the holder idiom).
     */
    private static final class FreshDist {
        static final boolean FRESH = fresh(Path.of(System.getProperty("kiln.dist")));

        private static boolean fresh(Path dist) {
            Path jar = dist.resolve("lib/kiln-server.jar");
            try {
                if (!Files.isRegularFile(jar)) {
                    return false;
                }
                long built = Files.getLastModifiedTime(jar).toMillis();
                for (String sources : List.of("pom.xml", "kiln-api/pom.xml", "kiln-api/src/main", "kiln-server/pom.xml", "kiln-server/src/main")) {
                    try (Stream<Path> files = Files.walk(dist.getParent().resolve(sources))) {
                        if (files.anyMatch(file -> lastModified(file) > built)) {
                            return false;
                        }
                    }
                }
                return true;
            } catch (IOException | UncheckedIOException e) {
                return false;
            }
        }

        private static long lastModified(Path file) {
            try {
                return Files.getLastModifiedTime(file).toMillis();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * The command line of process {@code pid}, its arguments joined by spaces, read from
     * {@code /proc}; empty once it is gone. Not {@code ProcessHandle.Info.commandLine()}: the JDK
     * gives nothing for a long one, such as a kiln started from the test's class path.
     */
    static String commandLineOf(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ').strip();
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * A port free now, for a server that must be told its port (one the kernel cannot choose):
     * taken below the kernel's ephemeral range, which the suite's clients draw their own ports from
     * by the thousand, so that only another such choice could take it before the server binds it.
     */
    static int freePort() throws IOException {
        int low = 32_768;
        try {
            low = Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).getFirst().trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            // the usual range's start
        }
        Random random = ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 100; attempt++) {
            int candidate = 10_000 + random.nextInt(Math.max(1, low - 10_000));
            try (ServerSocket socket = new ServerSocket(candidate, 1, InetAddress.getLoopbackAddress())) {
                return socket.getLocalPort();
            } catch (IOException taken) {
                // another one
            }
        }
        throw new IOException("no free port below " + low + " after 100 tries");
    }

    /**
     * The port the server listens on: the one it was given, or the one the kernel chose for port 0,
     * as the server announced it (waiting for that line if it has not come yet).
     */
    int port() {
        if (port == 0) {
            try {
                await().atMost(PATIENCE).pollInterval(Duration.ofMillis(50)).until(() -> {
                    if (!process.isAlive() && !LISTENING.matcher(ownLog()).find()) {
                        throw new AssertionError("kiln exited (" + process.exitValue() + ") before it listened:\n" + log());
                    }
                    return LISTENING.matcher(ownLog()).find();
                });
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                throw new AssertionError("kiln announced no listening address within " + PATIENCE + ":\n" + log(), e);
            }
            Matcher listening = LISTENING.matcher(ownLog());
            listening.find();
            port = Integer.parseInt(listening.group(1));
        }
        return port;
    }

    /** The log from this process's start on. */
    private String ownLog() {
        String all = log();
        return all.length() >= logStart ? all.substring((int) logStart) : all;
    }

    long pid() {
        return process.pid();
    }

    Process process() {
        return process;
    }

    void signal(String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-s", name, String.valueOf(pid())).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IOException("kill -s " + name + " " + pid() + " failed");
        }
    }

    String log() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    int count(String regex) {
        Matcher matcher = Pattern.compile(regex).matcher(log());
        int n = 0;
        while (matcher.find()) {
            n++;
        }
        return n;
    }

    /**
     * Waits until {@code regex} occurs at least {@code times} in the log (or the process died); a
     * timeout fails with the end of the log, which says why.
     */
    void awaitLog(String regex, int times) {
        awaitLog(regex, times, PATIENCE);
    }

    /** {@link #awaitLog(String, int)} for something that takes long on a saturated machine (a JVM booting beside load clients). */
    void awaitLog(String regex, int times, Duration within) {
        try {
            await().atMost(within).pollInterval(Duration.ofMillis(50)).until(() -> {
                if (!process.isAlive() && count(regex) < times) {
                    throw new AssertionError("kiln exited (" + process.exitValue() + ") before logging /" + regex + "/:\n" + log());
                }
                return count(regex) >= times;
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("/" + regex + "/ logged " + count(regex) + " times of " + times + " within " + within
                    + "; the log ends:\n" + logTail(), e);
        }
    }

    /** One worker as the prefork master's status socket shows it ({@code kiln status}). */
    record Worker(long pid, String kind, int generation, boolean ready, boolean retiring) {

        /** An HTTP worker, ready, not retiring: serving the socket with the master's blessing. */
        boolean servingHttp() {
            return kind.equals("http") && ready && !retiring;
        }
    }

    /**
     * The workers of this prefork master (on the shared data dir), read from its status socket, which
     * {@code kiln status} reads: each row is the master's own view, not a log line.
     */
    List<Worker> workers() throws IOException {
        String text = control("status");
        List<Worker> workers = new ArrayList<>();
        for (String line : text.lines().skip(1).toList()) {
            String[] columns = line.strip().split("\\s+");
            if (columns.length < 3 || !columns[0].chars().allMatch(Character::isDigit) || columns[1].startsWith("master")) {
                continue;
            }
            String kind = columns[1].replaceAll("[*?]$", "");
            workers.add(new Worker(Long.parseLong(columns[0]), kind, Integer.parseInt(columns[2]),
                    !columns[1].endsWith("?"), columns[1].endsWith("*")));
        }
        return workers;
    }

    /** The data dir a command line gives Kiln: its last {@code --data-dir}. */
    private static Path dataDirOf(List<String> command) {
        Path found = SharedPostgres.dataDir();
        for (int i = 0; i < command.size(); i++) {
            if (command.get(i).startsWith("--data-dir=")) {
                found = Path.of(command.get(i).substring("--data-dir=".length()));
            } else if (command.get(i).equals("--data-dir") && i + 1 < command.size()) {
                found = Path.of(command.get(i + 1));
            }
        }
        return found;
    }

    /** What the server's control socket answers to {@code verb} ({@code kiln ctl VERB}). */
    String control(String verb) throws IOException {
        Path socket = StatusSocket.pathOf(dataDir, port());
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            channel.write(ByteBuffer.wrap((verb + "\n").getBytes(StandardCharsets.UTF_8)));
            return new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * Waits until this threaded server's cron runners run, {@code count} of them, as its control
     * socket reports ({@code kiln ctl status --json}).
     */
    void awaitCronRunners(int count) {
        AtomicReference<String> last = new AtomicReference<>("");
        try {
            await().atMost(PATIENCE).pollInterval(Duration.ofMillis(50)).ignoreExceptionsInstanceOf(IOException.class).until(() -> {
                if (!process.isAlive()) {
                    throw new AssertionError("kiln exited (" + process.exitValue() + ") while waiting for its cron runners:\n" + log());
                }
                last.set(control("status --json"));
                return JSON.readTree(last.get()).path("cron_runners").asInt(-1) == count;
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("not " + count + " cron runners within " + PATIENCE + ": " + last.get() + "; the log ends:\n"
                    + logTail(), e);
        }
    }

    /**
     * Waits until the master shows exactly {@code count} HTTP workers, every one serving and of
     * generation {@code generation} or later: the state a spawn, a reload, TTIN/TTOU or a
     * replacement ends in.
     */
    void awaitHttpWorkers(int count, int generation) {
        awaitHttpWorkers(count, generation, PATIENCE);
    }

    /** {@link #awaitHttpWorkers(int, int)} within {@code within}. */
    void awaitHttpWorkers(int count, int generation, Duration within) {
        awaitWorkers(count + " HTTP workers of generation " + generation + "+ serving", within, workers -> {
            List<Worker> http = workers.stream().filter(w -> w.kind().equals("http")).toList();
            return http.size() == count && http.stream().allMatch(w -> w.servingHttp() && w.generation() >= generation);
        });
    }

    /**
     * Waits until {@code /web/health/ready} answers 200: the server serves and the registries of the
     * databases it preloads ({@code -d}) are loaded.
     */
    void awaitReady() {
        try {
            await().atMost(PATIENCE).pollInterval(Duration.ofMillis(50)).ignoreExceptionsInstanceOf(IOException.class).until(() -> {
                if (!process.isAlive()) {
                    throw new AssertionError("kiln exited (" + process.exitValue() + ") before it was ready:\n" + log());
                }
                return get("/web/health/ready").startsWith("HTTP/1.1 200");
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("/web/health/ready not 200 within " + PATIENCE + "; the log ends:\n" + logTail(), e);
        }
    }

    /** Waits until the master shows {@code count} workers of {@code kind} (http, cron, evented) ready and not retiring. */
    void awaitReadyWorkers(String kind, int count) {
        awaitReadyWorkers(kind, count, PATIENCE);
    }

    /** {@link #awaitReadyWorkers(String, int)} within {@code within}. */
    void awaitReadyWorkers(String kind, int count, Duration within) {
        awaitWorkers(count + " " + kind + " workers ready", within, workers -> workers.stream()
                .filter(w -> w.kind().equals(kind) && w.ready() && !w.retiring()).count() == count);
    }

    /**
     * Waits until the master's workers are in {@code state} ({@code what}); a timeout fails with the
     * last status read and the end of the log.
     */
    void awaitWorkers(String what, Duration within, Predicate<List<Worker>> state) {
        AtomicReference<List<Worker>> last = new AtomicReference<>(List.of());
        try {
            await().atMost(within).pollInterval(Duration.ofMillis(50)).ignoreExceptionsInstanceOf(IOException.class).until(() -> {
                if (!process.isAlive()) {
                    throw new AssertionError("kiln exited (" + process.exitValue() + ") while waiting for " + what + ":\n" + log());
                }
                last.set(workers());
                return state.test(last.get());
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("not " + what + " within " + within + ": " + last.get() + "; the log ends:\n" + logTail(), e);
        }
    }

    /** The log's last 80 lines: what a failed wait shows of why. */
    private String logTail() {
        List<String> lines = log().lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()));
    }

    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("kiln still runs after " + timeout + ":\n" + log());
        }
        return process.exitValue();
    }

    /**
     * True once the process runs an image started by an in-place restart (its environment then
     * holds the signals the previous image held for it), from the exec on: with a log line that says
     * the new image is not serving yet, it tells that a signal lands while the new image boots.
     */
    boolean execedInPlace() {
        try {
            return ("\0" + new String(Files.readAllBytes(Path.of("/proc", String.valueOf(pid()), "environ")),
                    StandardCharsets.UTF_8)).contains("\0KILN_HELD_SIGNALS=");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The process's open descriptors other than sockets: jars, pipes, epoll and event fds — what a
     * re-exec would leak if any escaped close-on-exec. Sockets come and go with clients and with the
     * database connections a background thread opens.
     */
    int openNonSocketFds() throws IOException {
        int count = 0;
        try (var fds = Files.list(Path.of("/proc", String.valueOf(pid()), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (!Files.readSymbolicLink(fd).toString().startsWith("socket:")) {
                        count++;
                    }
                } catch (IOException closedMeanwhile) {
                    // gone between the listing and the read: not open
                }
            }
        }
        return count;
    }

    /** One HTTP/1.1 request on a new connection; returns the whole response (status line first). */
    String get(String path) throws IOException {
        try {
            return send(host, port(), "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        } catch (ConnectException e) {
            throw refused(e);
        }
    }

    /** A refused connection, with what the process says of it: whether it still runs, and its log. */
    private ConnectException refused(ConnectException e) {
        ConnectException told = new ConnectException(e.getMessage() + " by " + host + ":" + port() + "; kiln "
                + (process.isAlive() ? "still runs" : "exited with " + process.exitValue()) + ", its log:\n" + log());
        told.initCause(e);
        return told;
    }

    /** The address it serves on. */
    String host() {
        return host;
    }

    static String request(int port, String path) throws IOException {
        return send(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    }

    /**
     * Posts the login form as a browser would: gets {@code /web/login} first, then sends {@code form}
     * (urlencoded fields) with the page's CSRF token and its cookie.
     */
    String postLoginForm(String form, String... headers) throws IOException {
        String page = get("/web/login");
        Matcher token = Pattern.compile("name=\"csrf_token\" value=\"([^\"]+)\"").matcher(page);
        Matcher cookie = Pattern.compile("(?mi)^Set-Cookie: (kiln_login_csrf=[^;]+)").matcher(page);
        if (!token.find() || !cookie.find()) {
            throw new AssertionError("the login page has no CSRF token and cookie:\n" + page);
        }
        List<String> all = new ArrayList<>(List.of("Content-Type: application/x-www-form-urlencoded", "Cookie: " + cookie.group(1)));
        all.addAll(List.of(headers));
        return request("POST", "/web/login", form + "&csrf_token=" + token.group(1), all.toArray(String[]::new));
    }

    /** Logs in as admin (password admin) on {@code db} through Odoo's JSON route; the session cookie. */
    String login(String db) throws IOException {
        String response = request("POST", "/web/session/authenticate", "{\"jsonrpc\":\"2.0\",\"method\":\"call\","
                + "\"id\":1,\"params\":{\"db\":\"" + db + "\",\"login\":\"admin\",\"password\":\"admin\"}}",
                "Content-Type: application/json");
        Matcher cookie = Pattern.compile("Set-Cookie: (session_id=[^;]+);").matcher(response);
        assertThat(cookie.find()).as(response).isTrue();
        return cookie.group(1);
    }

    /** The body of a 200 answer to {@code GET path}, with the session {@code cookie} when not null. */
    String okBody(String path, String cookie) throws IOException {
        String response = cookie == null ? get(path) : request("GET", path, null, "Cookie: " + cookie);
        assertThat(response).as(log()).startsWith("HTTP/1.1 200");
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    /** One request with the given headers ("Name: value" each) and body, on a new connection. */
    String request(String method, String path, String body, String... headers) throws IOException {
        try {
            return request(host, port(), method, path, body, headers);
        } catch (ConnectException e) {
            throw refused(e);
        }
    }

    /** {@link #request(String, String, String, String...)} to {@code port} (gevent_port, say). */
    static String request(int port, String method, String path, String body, String... headers) throws IOException {
        return request("127.0.0.1", port, method, path, body, headers);
    }

    static String request(String address, int port, String method, String path, String body, String... headers)
            throws IOException {
        StringBuilder raw = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\n");
        boolean host = false;
        for (String header : headers) {
            raw.append(header).append("\r\n");
            host |= header.regionMatches(true, 0, "Host:", 0, 5);
        }
        if (!host) {
            raw.append("Host: localhost\r\n");
        }
        byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        raw.append("Content-Length: ").append(bytes.length).append("\r\nConnection: close\r\n\r\n");
        return send(address, port, raw + (body == null ? "" : body));
    }

    private static String send(int port, String raw) throws IOException {
        return send("127.0.0.1", port, raw);
    }

    private static String send(String address, int port, String raw) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(address, port), 5000);
            socket.setSoTimeout(120_000);
            OutputStream out = socket.getOutputStream();
            out.write(raw.getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            signal("TERM");
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
