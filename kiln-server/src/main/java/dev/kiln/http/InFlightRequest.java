package dev.kiln.http;

/**
 * A request being handled, for the server's limits and statistics.
 *
 * @param startNanos {@link System#nanoTime()} at start, for durations
 * @param thread     the thread running the handler (whose stack a time limit dumps, whose state
 *                   limit_time_cpu samples)
 * @param response   the response the server may answer in the handler's stead ({@link HttpFrontDoor#abort});
 *                   null unless {@link HttpOptions#abortable}
 */
public record InFlightRequest(long id, String method, String path, long startNanos, Thread thread,
                              AbortableResponse response) {

    /** How long the request has run so far, in milliseconds. */
    public long elapsedMillis() {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}
