package dev.kiln.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;
import dev.kiln.server.StatusSocket;

/**
 * {@code kiln ctl VERB [ARGS] [SERVER OPTIONS]}: asks a running server (the prefork master, or the
 * one process of the threaded or evented mode) over its control socket and prints its answer;
 * {@code kiln status} is {@code kiln ctl status}. The server's own options (its config file, data
 * dir and HTTP port) lead to the socket.
 */
final class StatusCommand {

    /** The verbs and how many words of arguments each takes (status's --json is an option, below). */
    private static final Map<String, Integer> VERBS = Map.of("status", 0, "requests", 0, "stacks", 1, "reload", 0,
            "workers", 1, "retire", 1);

    private StatusCommand() { }

    /** {@code kiln status [SERVER OPTIONS]}. */
    static int status(List<String> args, Map<String, String> env, PrintStream out) {
        if (args.contains("-h") || args.contains("--help")) {
            out.println("""
                    Usage: kiln status [--json] [SERVER OPTIONS]
                    Prints what a running server says of itself and of its workers: pid, kind,
                    generation, age, requests served, RSS and the oldest request in flight. The same as
                    kiln ctl status; see kiln ctl --help.""");
            return KilnException.OK;
        }
        List<String> all = new ArrayList<>(List.of("status"));
        all.addAll(args);
        return ctl(all, env, out);
    }

    /** {@code kiln ctl VERB [ARGS] [SERVER OPTIONS]}. */
    static int ctl(List<String> args, Map<String, String> env, PrintStream out) {
        if (args.isEmpty() || args.contains("-h") || args.contains("--help")) {
            out.println("""
                    Usage: kiln ctl VERB [ARGS] [SERVER OPTIONS]
                    Asks a running server over its control socket, <data_dir>/run/kiln-<http_port>.sock
                    (mode 0600: the server's user, or root). Give the server's own options (-c FILE, or
                    --data-dir and --http-port) to find it.
                      status [--json]   the server and its workers
                      requests          the requests in flight, with their age
                      stacks PID        the thread dump of the server or of one of its workers
                      reload            as SIGHUP
                      workers +N|-N     more or fewer HTTP workers, as SIGTTIN/SIGTTOU (prefork)
                      retire PID        replace one worker: its replacement first, then it finishes its
                                        requests and exits (prefork)
                    Exit codes: 0 done, 1 no server answers or it refused, 2 bad usage or configuration.""");
            return args.isEmpty() ? KilnException.USAGE : KilnException.OK;
        }
        String verb = args.getFirst();
        Integer arity = VERBS.get(verb);
        if (arity == null) {
            throw KilnException.usage("kiln ctl: unknown verb '" + verb + "'; see kiln ctl --help");
        }
        if (args.size() < 1 + arity) {
            throw KilnException.usage("kiln ctl " + verb + ": an argument is missing; see kiln ctl --help");
        }
        List<String> request = new ArrayList<>(args.subList(0, 1 + arity));
        List<String> options = new ArrayList<>(args.subList(1 + arity, args.size()));
        if (verb.equals("status") && options.remove("--json")) {
            request.add("--json");
        }
        Config config = KilnCommand.config(options, env);
        Path path = StatusSocket.pathOf(config);
        String answer;
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(path));
            ByteBuffer line = ByteBuffer.wrap((String.join(" ", request) + "\n").getBytes(StandardCharsets.UTF_8));
            while (line.hasRemaining()) {
                channel.write(line);
            }
            answer = new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw KilnException.failure("no Kiln answers at " + path + " (" + e.getMessage() + "): is a server running with"
                    + " these options (the same data dir and HTTP port), as this user?");
        }
        if (answer.startsWith("error: ")) {
            throw KilnException.failure(answer.substring("error: ".length()).strip());
        }
        out.print(answer);
        return KilnException.OK;
    }
}
