package dev.kiln.server;

import java.time.Instant;
import java.util.List;

/** What a server asks of the application it serves: the requests running now and how many it served. */
public interface RequestTracker {

    /** One request being handled: where it came in, since when, and the thread handling it. */
    record Active(long id, String method, String path, Instant started, long startNanos, Thread thread) {

        public double seconds() {
            return (System.nanoTime() - startNanos) / 1e9;
        }

        public String describe() {
            return method + " " + path;
        }
    }

    List<Active> inFlight();

    long requestsServed();
}
