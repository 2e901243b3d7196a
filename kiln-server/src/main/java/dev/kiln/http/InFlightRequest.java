package dev.kiln.http;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * A request being handled, for the server's limits and statistics.
 *
 * @param startNanos    {@link System#nanoTime()} at start, for durations
 * @param thread        the thread running the handler (whose stack a time limit dumps)
 * @param startCpuNanos the thread's CPU time at start, or -1 when not measured ({@link HttpOptions#cpuTime}
 *                      off, or a virtual thread, whose CPU time the JVM does not report)
 * @param response      the response the server may answer in the handler's stead ({@link KilnApplication#abort});
 *                      null when CPU time is not measured
 */
public record InFlightRequest(long id, String method, String path, long startNanos, Thread thread, long startCpuNanos,
                              AbortableResponse response) {

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** How long the request has run so far, in milliseconds. */
    public long elapsedMillis() {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    /** CPU time the request's thread has used since the request began, in nanoseconds; -1 when not measured. */
    public long cpuNanos() {
        if (startCpuNanos < 0) {
            return -1;
        }
        long now = THREADS.getThreadCpuTime(thread.threadId());
        return now < 0 ? -1 : now - startCpuNanos;
    }

    /** The calling thread's CPU time in nanoseconds; -1 on a virtual thread. */
    static long currentThreadCpuNanos() {
        return THREADS.getCurrentThreadCpuTime();
    }
}
