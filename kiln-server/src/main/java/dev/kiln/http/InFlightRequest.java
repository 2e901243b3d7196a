package dev.kiln.http;

/**
 * A request being handled, for the server's time limits and statistics.
 *
 * @param startNanos {@link System#nanoTime()} at start, for durations
 * @param thread     the thread running the handler (whose stack a time limit dumps)
 */
public record InFlightRequest(long id, String method, String path, long startNanos, Thread thread) {

    /** How long the request has run so far, in milliseconds. */
    public long elapsedMillis() {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}
