package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.metrics.MetricFamily;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What the prefork workers share: the {@link WorkerChannel} on which they talk to their master
 * (ready, their state and their metrics every second, a request to be replaced), their loop, and
 * noticing that the master is gone.
 */
abstract class PreforkWorker extends CommonServer {

    private static final Logger LOG = LoggerFactory.getLogger(PreforkWorker.class);

    private static final Duration TICK = Duration.ofSeconds(1);

    private final WorkerChannel.Link toMaster;
    private final long master = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);

    PreforkWorker(Config config, WorkerChannel.Link toMaster) {
        super(config);
        this.toMaster = toMaster;
    }

    /**
     * The worker's loop: once a second, after the signal, it checks that the master is still
     * there, then runs {@code steps} (its limits, its state report: the master's heartbeat).
     */
    final void loop(ServerLoop.Step... steps) {
        List<ServerLoop.Step> all = new ArrayList<>();
        all.add(ServerLoop.step("master check", () -> quit |= masterGone()));
        all.addAll(List.of(steps));
        if (KilnMetrics.get() != null) {
            all.add(ServerLoop.step("metrics report", this::reportMetrics));
        }
        loop(TICK, all);
    }

    /**
     * Sends the master the latest value of every metric of this process; each worker calls it once
     * more when it has stopped serving, so a worker that exits normally takes no count with it.
     */
    final void reportMetrics() {
        KilnMetrics metrics = KilnMetrics.get();
        if (metrics == null) {
            return;
        }
        for (MetricFamily family : MetricFamily.of(metrics.registry().scrape())) {
            WorkerCodec.split(family).forEach(this::tell);
        }
    }

    /** Sends one message to the master. */
    final void tell(WorkerMessage message) {
        toMaster.tell(message);
    }

    /** True once this process has another parent than the master that started it (killed, even with SIGKILL). */
    final boolean masterGone() {
        if (ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L) == master) {
            return false;
        }
        LOG.error("{}: the master (pid {}) is gone; stopping", getClass().getSimpleName(), master);
        return true;
    }
}
