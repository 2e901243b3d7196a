package dev.kiln.logging;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicLong;

/**
 * WARN lines for requests refused as malformed (bad framing, escapes or encodings), or answered
 * "come back later" while the database is down: one line, no stack, and at most one a second, so
 * that a client sending garbage, or an outage under load, cannot flood the log; the next line says
 * how many were left out. Client text in the arguments is escaped as in {@link AccessRefusals}.
 */
public final class ClientErrors {

    private static final long INTERVAL_NANOS = 1_000_000_000L;

    private final Logger log;
    private final String leftOutWord;

    private final AtomicLong nextLine = new AtomicLong(System.nanoTime());
    private final AtomicLong leftOut = new AtomicLong();

    /** Refusals of malformed requests, on {@code dev.kiln.http.refused}. */
    public ClientErrors() {
        this(LoggerFactory.getLogger("dev.kiln.http.refused"), "refused");
    }

    /** @param leftOutWord what the left-out ones were ("refused", "answered 503") */
    public ClientErrors(Logger log, String leftOutWord) {
        this.log = log;
        this.leftOutWord = leftOutWord;
    }

    /** Logs one refusal unless one was logged less than a second ago; {@code format} as SLF4J's. */
    public void warn(String format, Object... args) {
        long now = System.nanoTime();
        long next = nextLine.get();
        if (now - next < 0 || !nextLine.compareAndSet(next, now + INTERVAL_NANOS)) {
            leftOut.incrementAndGet();
            return;
        }
        Object[] safe = new Object[args.length];
        for (int i = 0; i < args.length; i++) {
            safe[i] = args[i] instanceof CharSequence text ? AccessRefusals.printable(text.toString()) : args[i];
        }
        long skipped = leftOut.getAndSet(0);
        log.warn(skipped == 0 ? format : format + " (and " + skipped + " more " + leftOutWord + " since the last line)", safe);
    }
}
