package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.os.Proc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.time.Duration;

/** What every server mode shares: its configuration, the signal queue, the phoenix flag, statistics. */
public abstract class CommonServer {

    private static final Logger LOG = LoggerFactory.getLogger(CommonServer.class);
    private static final long MIB = 1024 * 1024;

    protected final Config config;
    protected final SignalQueue signals = new SignalQueue();
    protected final long startNanos = System.nanoTime();
    /** Set when the process must exec itself again once stopped (HUP, limits). */
    protected volatile boolean phoenix;
    /** Set once the graceful stop began (of a restart, or for good). */
    protected volatile boolean stopping;
    /** Set to end {@link #loop}. */
    protected volatile boolean quit;
    private final java.util.concurrent.atomic.AtomicInteger stopSignals = new java.util.concurrent.atomic.AtomicInteger();

    protected CommonServer(Config config) {
        this.config = config;
    }

    /** Serves until told to stop; returns the exit code. {@link #phoenix()} then says whether to re-exec. */
    public abstract int run();

    /**
     * For INT and TERM on the JVM's signal thread: the second one exits at once, the pidfile
     * removed (Odoo's "Forced shutdown"); the first is left to the loop's graceful stop, and one
     * that comes while a restart's stop is under way turns the restart into a stop.
     */
    protected void forceOnSecondStop(String signal) {
        if (stopSignals.incrementAndGet() > 1) {
            System.err.println("Forced shutdown.");
            PidFile.remove(config.pidfile());
            Runtime.getRuntime().halt(0);
        }
        if (stopping && phoenix) {
            phoenix = false;
            LOG.info("SIG{} during the restart: stopping instead", signal);
        }
    }

    /**
     * The loop of a one-process server (threaded, evented): until {@link #quit}, it acts on the
     * queued signals and checks the limits, waking at least every {@code tick}. A failure of the
     * loop itself is logged and ends it, so that the server still stops gracefully.
     */
    protected final void loop(Duration tick) {
        try {
            while (!quit) {
                String signal = signals.poll(tick);
                if (signal != null) {
                    handle(signal);
                }
                processLimits();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("Server loop failed; stopping", e);
        }
    }

    /**
     * A queued signal (or a wake-up), for {@link #loop}: what a one-process server (threaded,
     * evented) does with it. INT/TERM stop gracefully, HUP and an addon change ({@code --dev=reload})
     * restart in place, USR1 logs {@link #statistics}.
     */
    protected void handle(String signal) {
        switch (signal) {
            case "INT", "TERM" -> {
                LOG.info("Initiating shutdown (SIG{}); send it again to force the shutdown", signal);
                quit = true;
            }
            case "HUP" -> restartInPlace("SIGHUP");
            case SignalQueue.ADDONS_CHANGED -> restartInPlace("--dev=reload: addons changed");
            case "USR1" -> statistics();
            default -> LOG.debug("Ignoring SIG{}", signal);
        }
    }

    /** Ends {@link #loop} for a graceful stop followed by an exec of the same command line (phoenix). */
    protected void restartInPlace(String why) {
        LOG.info("Restarting in place ({}): graceful stop, then re-exec", why);
        phoenix = true;
        quit = true;
    }

    /** What USR1 logs. */
    protected void statistics() {
        logStatistics(0, 0);
    }

    /** The limits, checked by {@link #loop} at every tick. */
    protected void processLimits() { }

    public boolean phoenix() {
        return phoenix;
    }

    /** {@code --dev=reload}: the addons changed; the loop reloads them as on HUP. Any thread may call it. */
    public void addonsChanged() {
        signals.addonsChanged();
    }

    /** How long a graceful stop waits for requests: no request may legitimately outlive limit_time_real. */
    protected Duration stopTimeout() {
        return Duration.ofSeconds(config.limitTimeReal() > 0 ? config.limitTimeReal() : 120);
    }

    protected void logStatistics(long served, int inFlight) {
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        LOG.info("Statistics: uptime {} s, requests served {}, in flight {}, threads {}, heap {}/{} MiB (max {}), RSS {} MiB",
                Duration.ofNanos(System.nanoTime() - startNanos).toSeconds(), served, inFlight,
                ManagementFactory.getThreadMXBean().getThreadCount(), heap.getUsed() / MIB, heap.getCommitted() / MIB,
                heap.getMax() / MIB, Proc.rss() / MIB);
    }
}
