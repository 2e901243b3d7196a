package dev.kiln.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import ch.qos.logback.core.encoder.Encoder;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Writes log lines from one thread, a batch at a time: callers only queue their event; the writer
 * takes whatever is queued, encodes it into a buffer and flushes once per batch — so under load one
 * {@code write(2)} carries many lines, and an idle log is still written at once.
 *
 * <p>Logback's {@code AsyncAppender} moves the work off the caller too, but its delegate (console or
 * file appender) flushes after every line: measured, the access log then still cost one system call
 * per request and a quarter of {@code GET /hello}'s throughput. Nothing is dropped: a full queue
 * makes the caller wait.
 */
final class BatchingAppender extends UnsynchronizedAppenderBase<ILoggingEvent> {

    private static final int QUEUE = 65536;
    private static final long BATCH_MILLIS = 2;
    private static final long IDLE_NANOS = 1_000_000_000L;
    private static final long STOP_MILLIS = 2000;

    private final Encoder<ILoggingEvent> encoder;
    private final OutputStream out;
    private final boolean closeOnStop;
    /**
     * Logging events, or lines already encoded ({@code byte[]}, see {@link AccessLog}). Lock-free:
     * measured, a locked queue made the request threads of a busy server queue up on its lock.
     */
    private final ConcurrentLinkedQueue<Object> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    /** True while the writer sleeps for want of lines; whoever queues one then wakes it. */
    private volatile boolean idle;
    private volatile boolean running;
    private Thread writer;

    /** @param closeOnStop whether {@code target} is this appender's own (a log file), not stderr */
    BatchingAppender(Encoder<ILoggingEvent> encoder, OutputStream target, boolean closeOnStop) {
        this.encoder = encoder;
        this.out = new BufferedOutputStream(target, 64 * 1024);
        this.closeOnStop = closeOnStop;
    }

    @Override
    public void start() {
        running = true;
        writer = Thread.ofPlatform().daemon().name("kiln-log-writer").unstarted(this::writeLoop);
        writer.start();
        super.start();
    }

    @Override
    protected void append(ILoggingEvent event) {
        event.prepareForDeferredProcessing();   // message, MDC and thread name, as of now
        enqueue(event);
    }

    private void enqueue(Object line) {
        while (queued.get() >= QUEUE) {
            LockSupport.parkNanos(100_000);     // the writer is behind: wait rather than drop
        }
        queued.incrementAndGet();
        queue.offer(line);
        if (idle) {
            LockSupport.unpark(writer);
        }
    }

    /** Queues a line encoded by its caller, bypassing the layout. */
    void appendEncoded(byte[] line) {
        if (isStarted()) {
            enqueue(line);
        }
    }

    @Override
    public void stop() {
        if (!isStarted()) {
            return;
        }
        super.stop();
        running = false;
        LockSupport.unpark(writer);
        try {
            writer.join(STOP_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        writeQueued();
        if (closeOnStop) {
            try {
                out.close();
            } catch (IOException e) {
                addError("closing the log failed", e);
            }
        }
    }

    /**
     * While lines keep coming, the writer takes them every {@value #BATCH_MILLIS} ms, so no request
     * thread ever wakes it; once the queue stays empty it sleeps until the next line wakes it.
     */
    private void writeLoop() {
        while (running) {
            try {
                if (queue.isEmpty()) {
                    idle = true;
                    if (queue.isEmpty() && running) {
                        LockSupport.parkNanos(IDLE_NANOS);
                    }
                    idle = false;
                }
                LockSupport.parkNanos(BATCH_MILLIS * 1_000_000L);
                writeQueued();
            } catch (RuntimeException e) {
                addError("writing the log failed", e);
            }
        }
    }

    /** Writes everything queued, then flushes once. A line that cannot be written is dropped, counted. */
    private void writeQueued() {
        int taken = 0;
        try {
            synchronized (out) {
                Object next;
                while ((next = queue.poll()) != null) {
                    taken++;
                    out.write(next instanceof byte[] line ? line : encoder.encode((ILoggingEvent) next));
                }
                if (taken > 0) {
                    out.flush();
                }
            }
        } catch (IOException e) {
            addError("writing the log failed", e);
        } finally {
            queued.addAndGet(-taken);
        }
    }
}
