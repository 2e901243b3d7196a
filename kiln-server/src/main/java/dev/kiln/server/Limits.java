package dev.kiln.server;

import dev.kiln.config.Config;

import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Odoo's limits as one policy: given what was measured of a process (requests served, RSS) or of
 * one of its requests (CPU time, age), it says which limits are reached. What to do then is the
 * caller's: the threaded and evented servers restart in place, a prefork worker asks for its
 * replacement, the master kills. Each kind of process gets the limits that apply to it from its
 * factory, and a limit of 0 is off.
 *
 * <p>Memory is RSS, not Odoo's address space: a JVM reserves gigabytes it never touches. A process
 * that has served nothing and holds no connection is never over limit_memory_soft: the image that
 * replaced it would start as big, and be replaced forever.
 */
final class Limits {

    /** A limit, named as Odoo's option, which is how the log lines and the master's status say it. */
    enum Limit {
        MEMORY_HARD("limit_memory_hard"), MEMORY_SOFT("limit_memory_soft"), REQUEST("limit_request"),
        TIME_CPU("limit_time_cpu"), TIME_REAL("limit_time_real");

        private final String option;

        Limit(String option) {
            this.option = option;
        }

        @Override
        public String toString() {
            return option;
        }
    }

    /**
     * What was measured: of a process ({@link #ofProcess}), of a request ({@link #ofRequest}), or
     * of a worker as its master sees it (its RSS and how long it has been silent, as its age).
     */
    record Usage(long served, boolean idle, long rss, long cpuNanos, long ageNanos) {

        /** @param openConnections connections held open (websockets): a process holding one is in use */
        static Usage ofProcess(long served, long openConnections, long rss) {
            return new Usage(served, served == 0 && openConnections == 0, rss, 0, 0);
        }

        static Usage ofRequest(long cpuNanos, long ageNanos) {
            return new Usage(0, true, 0, cpuNanos, ageNanos);
        }

        static Usage ofSilence(long rss, long silentNanos) {
            return new Usage(0, true, rss, 0, silentNanos);
        }
    }

    private final long request;
    private final long memorySoft;
    private final long memoryHard;
    private final Duration timeCpu;
    private final Duration timeReal;

    Limits(long request, long memorySoft, long memoryHard, Duration timeCpu, Duration timeReal) {
        this.request = request;
        this.memorySoft = memorySoft;
        this.memoryHard = memoryHard;
        this.timeCpu = timeCpu;
        this.timeReal = timeReal;
    }

    /** The threaded server: memory, and each request's time (limit_time_cpu is RLIMIT_CPU's, for the whole process). */
    static Limits threaded(Config config) {
        return new Limits(0, config.limitMemorySoft(), config.limitMemoryHard(), Duration.ZERO,
                Duration.ofSeconds(config.limitTimeReal()));
    }

    /** The evented server: its connections live as long as their clients, so only memory applies. */
    static Limits evented(Config config) {
        return new Limits(0, config.limitMemorySoft(), config.limitMemoryHard(), Duration.ZERO, Duration.ZERO);
    }

    /**
     * A prefork worker, evented or not. limit_memory_hard is the master's ({@link #watchdog}); an
     * evented worker's long polls and websockets have no request count or time limit. limit_request
     * gets a jitter of up to a tenth, as in Odoo, so that the workers are not all recycled together.
     */
    static Limits worker(Config config, boolean evented) {
        if (evented) {
            return new Limits(0, config.limitMemorySoft(), 0, Duration.ZERO, Duration.ZERO);
        }
        long jitter = ThreadLocalRandom.current().nextLong(config.limitRequest() / 10 + 1);
        return new Limits(config.limitRequest() + jitter, config.limitMemorySoft(), 0,
                Duration.ofSeconds(config.limitTimeCpu()), Duration.ofSeconds(config.limitTimeReal()));
    }

    /**
     * The master's watch over its workers: limit_memory_hard on the RSS a worker reports, and the
     * stop timeout on its silence (a worker reports every second, even while its requests run).
     */
    static Limits watchdog(Config config) {
        return new Limits(0, 0, config.limitMemoryHard(), Duration.ZERO, stopTimeout(config));
    }

    /** How long a graceful stop waits for requests: no request may legitimately outlive limit_time_real. */
    static Duration stopTimeout(Config config) {
        return Duration.ofSeconds(config.limitTimeReal() > 0 ? config.limitTimeReal() : 120);
    }

    /** The limits {@code usage} reached, in the order above: the first is the one to act on. */
    EnumSet<Limit> reached(Usage usage) {
        EnumSet<Limit> reached = EnumSet.noneOf(Limit.class);
        if (memoryHard > 0 && usage.rss() > memoryHard) {
            reached.add(Limit.MEMORY_HARD);
        }
        if (memorySoft > 0 && usage.rss() > memorySoft && !usage.idle()) {
            reached.add(Limit.MEMORY_SOFT);
        }
        if (request > 0 && usage.served() >= request) {
            reached.add(Limit.REQUEST);
        }
        if (timeCpu.isPositive() && usage.cpuNanos() > timeCpu.toNanos()) {
            reached.add(Limit.TIME_CPU);
        }
        if (timeReal.isPositive() && usage.ageNanos() > timeReal.toNanos()) {
            reached.add(Limit.TIME_REAL);
        }
        return reached;
    }

    /** Whether {@code limit} applies at all to this kind of process (a limit of 0 is off). */
    boolean enforces(Limit limit) {
        return threshold(limit) > 0;
    }

    /** The threshold of {@code limit}, for the log line that says it was passed: bytes, requests or seconds. */
    long threshold(Limit limit) {
        return switch (limit) {
            case MEMORY_HARD -> memoryHard;
            case MEMORY_SOFT -> memorySoft;
            case REQUEST -> request;
            case TIME_CPU -> timeCpu.toSeconds();
            case TIME_REAL -> timeReal.toSeconds();
        };
    }
}
