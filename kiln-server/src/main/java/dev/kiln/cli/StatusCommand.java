package dev.kiln.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;
import dev.kiln.server.StatusSocket;

/**
 * {@code kiln status [server options]}: what a running prefork master says of itself and of its
 * workers (pid, kind, generation, age, requests served, RSS, the oldest request in flight). The
 * server's own options (its config file, data dir and HTTP port) lead to its status socket.
 */
final class StatusCommand {

    private StatusCommand() { }

    static int run(List<String> args, Map<String, String> env, PrintStream out) {
        if (args.contains("-h") || args.contains("--help")) {
            out.println("""
                    Usage: kiln status [SERVER OPTIONS]
                    Prints what a running prefork master says of itself and of its workers: pid, kind,
                    generation, age, requests served, RSS and the oldest request in flight. Give the
                    server's own options (-c FILE, or --data-dir and --http-port): they lead to its
                    status socket, <data_dir>/run/kiln-<http_port>.sock.
                    Exit codes: 0 ok, 1 no server answers, 2 bad usage or configuration.""");
            return KilnException.OK;
        }
        Config config = KilnCommand.config(args, env);
        Path path = StatusSocket.pathOf(config);
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(path));
            out.print(new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw KilnException.failure("no Kiln answers at " + path + " (" + e.getMessage() + "): is a prefork server"
                    + " running with these options (the same data dir and HTTP port)?");
        }
        return KilnException.OK;
    }
}
