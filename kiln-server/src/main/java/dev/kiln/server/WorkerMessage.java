package dev.kiln.server;

import dev.kiln.metrics.MetricFamily;

import java.util.List;

/**
 * What a prefork worker tells its master on the {@link WorkerChannel}, one record per kind of
 * message; {@link WorkerCodec} alone turns them into bytes and back. The constructors refuse values
 * no worker sends (a negative count, a port out of range), so a decoded message is one the master
 * may act on as it stands.
 */
sealed interface WorkerMessage permits WorkerMessage.Hello, WorkerMessage.Ready, WorkerMessage.State,
        WorkerMessage.Recycle, WorkerMessage.Metrics, WorkerMessage.InFlight {

    /** The first message of a connection: the one-time token the master gave this worker in its environment. */
    record Hello(String token) implements WorkerMessage {
        public Hello {
            if (token == null || token.isBlank()) {
                throw new IllegalArgumentException("a hello without a token");
            }
        }
    }

    /** The worker accepts connections (or runs its cron runner) now; {@code port} is the one it serves, 0 for none. */
    record Ready(int port) implements WorkerMessage {
        public Ready {
            if (port < 0 || port > 65_535) {
                throw new IllegalArgumentException("port " + port);
            }
        }
    }

    /**
     * The heartbeat, sent every second even while requests run: requests served since the worker
     * started, requests in flight, resident memory in bytes (-1 when unreadable), and the oldest
     * request in flight — its age and its method and path, or 0 and "" when none.
     */
    record State(long served, int inFlight, long rss, long oldestMillis, String oldest) implements WorkerMessage {
        public State {
            if (served < 0 || inFlight < 0 || rss < -1 || oldestMillis < 0 || oldest == null) {
                throw new IllegalArgumentException("state " + served + " " + inFlight + " " + rss + " " + oldestMillis);
            }
        }
    }

    /** A limit says this worker must go: the master starts its replacement and retires it once that is ready. */
    record Recycle(String limit) implements WorkerMessage {
        public Recycle {
            if (limit == null || limit.isBlank()) {
                throw new IllegalArgumentException("a recycle without its limit");
            }
        }
    }

    /**
     * The requests the worker has in hand, each with its age (at most {@link #MAX} of them, the
     * oldest first), sent with its state every second: what {@code kiln ctl requests} lists.
     */
    record InFlight(List<Entry> entries) implements WorkerMessage {
        static final int MAX = 32;

        /** One request: its age, and its method and path. */
        record Entry(long ageMillis, String request) {
            public Entry {
                if (ageMillis < 0 || request == null) {
                    throw new IllegalArgumentException("in flight " + ageMillis + " " + request);
                }
            }
        }

        public InFlight {
            entries = List.copyOf(entries);
            if (entries.size() > MAX) {
                throw new IllegalArgumentException(entries.size() + " requests in flight reported, at most " + MAX);
            }
        }
    }

    /**
     * The worker's latest values of one metric family (all of them, or a part when the family does
     * not fit one frame), sent every second and once more as the worker stops.
     */
    record Metrics(MetricFamily family) implements WorkerMessage {
        public Metrics {
            if (family == null) {
                throw new IllegalArgumentException("metrics without a family");
            }
        }
    }
}
