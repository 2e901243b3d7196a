package dev.kiln.server;

import dev.kiln.os.Libc;
import dev.kiln.os.OsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * systemd's {@code Type=notify} protocol, for the process systemd started (threaded, evented, or the
 * prefork master; its workers are not given the socket): {@code READY=1} once it serves,
 * {@code RELOADING=1} with {@code MONOTONIC_USEC} when a HUP begins and {@code READY=1} again once
 * the new image or generation serves, {@code STOPPING=1}, a {@code STATUS=} line, and
 * {@code WATCHDOG=1} from the server loop at half of {@code WATCHDOG_USEC}, so a frozen loop gets
 * the process restarted. Without {@code NOTIFY_SOCKET} every method does nothing. A message that
 * cannot be sent is logged once and the server goes on: systemd's bookkeeping is never worth a stop.
 */
final class SystemdNotify {

    private static final Logger LOG = LoggerFactory.getLogger(SystemdNotify.class);
    /** What systemd puts in the environment of the process it watches. */
    static final List<String> ENVIRONMENT = List.of("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID");

    private final String socket;
    private final long watchdogNanos;
    private long pettedNanos = System.nanoTime();
    private boolean failed;

    private SystemdNotify(String socket, long watchdogNanos) {
        this.socket = socket;
        this.watchdogNanos = watchdogNanos;
    }

    /** From systemd's variables in {@code env}; the watchdog only when it watches this very process. */
    static SystemdNotify of(Map<String, String> env) {
        String socket = env.get("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return new SystemdNotify(null, 0);
        }
        long watchdog = 0;
        String pid = env.get("WATCHDOG_PID");
        if (pid == null || pid.equals(String.valueOf(ProcessHandle.current().pid()))) {
            try {
                watchdog = Long.parseLong(env.getOrDefault("WATCHDOG_USEC", "0")) * 1000;
            } catch (NumberFormatException e) {
                LOG.warn("systemd: WATCHDOG_USEC={} is not a number; no watchdog", env.get("WATCHDOG_USEC"));
            }
        }
        return new SystemdNotify(socket, Math.max(0, watchdog));
    }

    void ready(String status) {
        send("READY=1\nSTATUS=" + status);
    }

    /** A reload begins (CLOCK_MONOTONIC, which {@link System#nanoTime} reads on Linux, in microseconds). */
    void reloading(String status) {
        send("RELOADING=1\nMONOTONIC_USEC=" + System.nanoTime() / 1000 + "\nSTATUS=" + status);
    }

    void stopping(String status) {
        send("STOPPING=1\nSTATUS=" + status);
    }

    void status(String status) {
        send("STATUS=" + status);
    }

    /** From the server loop's every turn: {@code WATCHDOG=1} once half the watchdog's interval went by. */
    void watchdog() {
        if (watchdogNanos > 0 && System.nanoTime() - pettedNanos >= watchdogNanos / 2) {
            pettedNanos = System.nanoTime();
            send("WATCHDOG=1");
        }
    }

    private void send(String message) {
        if (socket == null) {
            return;
        }
        try {
            Libc.sendDatagram(socket, message.getBytes(StandardCharsets.UTF_8));
        } catch (OsException e) {
            if (!failed) {
                failed = true;
                LOG.warn("systemd: cannot notify {} ({}); the server goes on", socket, e.getMessage());
            }
        }
    }
}
