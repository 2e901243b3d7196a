package dev.kiln.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Signals, as gunicorn's arbiter takes them: the handler only enqueues, and the server's loop acts.
 * A signal that must act even while the loop is busy (a second TERM during a graceful stop, XCPU)
 * is given to {@code urgent}, which runs on the JVM's signal thread.
 */
final class SignalQueue {

    private static final Logger LOG = LoggerFactory.getLogger(SignalQueue.class);

    private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();

    /**
     * Handles each named signal. {@code urgent} returns true when it dealt with the signal itself;
     * otherwise the signal is queued. A signal the parent set to ignore (INT in a background job,
     * HUP under nohup) is never delivered to the JVM: say so rather than wait for it in vain.
     */
    void install(Predicate<String> urgent, String... names) {
        for (String name : names) {
            SignalHandler handler = signal -> {
                if (!urgent.test(signal.getName())) {
                    queue.add(signal.getName());
                }
            };
            SignalHandler previous = Signal.handle(new Signal(name), handler);
            if (previous == SignalHandler.SIG_IGN) {
                LOG.warn("SIG{} was ignored when Kiln started (nohup or a background job?): it may never arrive", name);
            }
        }
    }

    /**
     * Takes INT back when it was ignored at start: a worker gets INT from its master for the
     * server's stop, and a master started as a background job of a script (whose shell ignores
     * INT there, and so do the children) must still reach it. Call before {@link #install}.
     */
    void reclaimInterrupt() {
        try {
            dev.kiln.os.Libc.defaultDisposition(2);
        } catch (dev.kiln.os.OsException e) {
            LOG.warn("SIGINT cannot be taken back ({}): the server's stop reaches this worker as a retire", e.getMessage());
        }
    }

    /** What {@link #poll} returns after {@link #wake}: no signal, but something for the loop to look at. */
    static final String WAKE = "";

    /** Ends the loop's current {@link #poll} early (a worker became ready or exited). */
    void wake() {
        queue.add(WAKE);
    }

    /** What {@link #poll} returns after {@link #addonsChanged}: reload as for HUP, for a reason of its own. */
    static final String ADDONS_CHANGED = "addons changed";

    /** Asks the loop to reload the addons ({@code --dev=reload} saw a change that passed its check). */
    void addonsChanged() {
        queue.add(ADDONS_CHANGED);
    }

    /** The next queued signal, waiting at most {@code timeout}; null when none came. */
    String poll(Duration timeout) throws InterruptedException {
        return queue.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }
}
