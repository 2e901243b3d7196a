package dev.kiln.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The one loop of every Kiln process, gunicorn's arbiter loop: take the next queued signal (waiting
 * at most a tick), hand it to the process's signal handler, run its steps in order, and again,
 * until the process says it is done. The threaded and evented servers, the prefork master and both
 * kinds of prefork worker differ only in their handler and steps.
 *
 * <p>The contract: signal handlers only enqueue ({@link SignalQueue}); the handler and the steps run
 * on the loop's thread alone. The loop never dies at its boundary: a step or the handler that
 * throws is logged in one line and the loop goes on with the next step (a server that stops looping
 * would no longer reap, recycle nor stop gracefully); only a {@link VirtualMachineError} (out of
 * memory, a stack overflow) escapes, since nothing it does afterwards can be trusted. Once
 * {@code done} is true no further step runs, so a step that ends the process (a worker that could
 * not boot, INT) ends it at once. An interrupt of the loop's thread ends the loop, the interrupt
 * kept.
 */
final class ServerLoop {

    private static final Logger LOG = LoggerFactory.getLogger(ServerLoop.class);

    /** One thing the loop does at every turn, after the signal. */
    record Step(String name, Runnable action) { }

    private final String name;
    private final SignalQueue signals;
    private final Duration tick;
    private final Consumer<String> handler;
    private final List<Step> steps;

    /**
     * @param name    who loops, for the log line of a failure
     * @param tick    the longest wait for a signal: the steps run at least this often
     * @param handler acts on a queued signal (never called for {@link SignalQueue#WAKE})
     * @param steps   run in this order at every turn
     */
    ServerLoop(String name, SignalQueue signals, Duration tick, Consumer<String> handler, List<Step> steps) {
        this.name = name;
        this.signals = signals;
        this.tick = tick;
        this.handler = handler;
        this.steps = List.copyOf(steps);
    }

    static Step step(String name, Runnable action) {
        return new Step(name, action);
    }

    /** Loops until {@code done} is true or the thread is interrupted. */
    void run(BooleanSupplier done) {
        while (!done.getAsBoolean()) {
            String signal;
            try {
                signal = signals.poll(tick);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (signal != null && !signal.equals(SignalQueue.WAKE)) {
                guarded("signal " + signal, () -> handler.accept(signal));
            }
            for (Step step : steps) {
                if (done.getAsBoolean()) {
                    return;
                }
                guarded(step.name(), step.action());
            }
        }
    }

    private void guarded(String what, Runnable action) {
        try {
            action.run();
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable e) {
            StackTraceElement[] where = e.getStackTrace();
            LOG.error("{}: {} failed: {}{}; going on", name, what, e, where.length > 0 ? " at " + where[0] : "");
            LOG.debug("{}: {} failed", name, what, e);
        }
    }
}
