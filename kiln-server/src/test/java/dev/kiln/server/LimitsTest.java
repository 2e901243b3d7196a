package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.config.ConfigLoader;
import dev.kiln.server.Limits.Limit;
import dev.kiln.server.Limits.Usage;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class LimitsTest {

    private static final long MIB = 1024 * 1024;
    private static final long SECOND = Duration.ofSeconds(1).toNanos();

    private final Limits limits = new Limits(100, 512 * MIB, 1024 * MIB, Duration.ofSeconds(60), Duration.ofSeconds(120));

    @Test
    void aProcessWithinEveryLimitReachesNone() {
        assertThat(limits.reached(Usage.ofProcess(99, 0, 512 * MIB))).isEmpty();
        assertThat(limits.reached(Usage.ofRequest(60 * SECOND, 120 * SECOND))).isEmpty();
    }

    @Test
    void rssOverTheHardLimitReachesBothMemoryLimitsTheHardOneFirst() {
        assertThat(limits.reached(Usage.ofProcess(1, 0, 1024 * MIB + 1)))
                .containsExactly(Limit.MEMORY_HARD, Limit.MEMORY_SOFT);
    }

    @Test
    void aProcessThatServedNothingAndHoldsNoConnectionIsNeverOverTheSoftLimit() {
        assertThat(limits.reached(Usage.ofProcess(0, 0, 600 * MIB))).isEmpty();
        assertThat(limits.reached(Usage.ofProcess(0, 1, 600 * MIB))).as("a websocket open").containsExactly(Limit.MEMORY_SOFT);
        assertThat(limits.reached(Usage.ofProcess(1, 0, 600 * MIB))).containsExactly(Limit.MEMORY_SOFT);
    }

    @Test
    void theHardLimitHoldsEvenForAProcessThatServedNothing() {
        assertThat(limits.reached(Usage.ofProcess(0, 0, 2048 * MIB))).containsExactly(Limit.MEMORY_HARD);
    }

    @Test
    void limitRequestIsReachedAtTheCountItself() {
        assertThat(limits.reached(Usage.ofProcess(100, 0, 0))).containsExactly(Limit.REQUEST);
    }

    @Test
    void aRequestReachesTheTimeLimitsOnlyPastThem() {
        assertThat(limits.reached(Usage.ofRequest(60 * SECOND + 1, 0))).containsExactly(Limit.TIME_CPU);
        assertThat(limits.reached(Usage.ofRequest(0, 120 * SECOND + 1))).containsExactly(Limit.TIME_REAL);
        assertThat(limits.reached(Usage.ofRequest(61 * SECOND, 121 * SECOND))).containsExactly(Limit.TIME_CPU, Limit.TIME_REAL);
    }

    @Test
    void aLimitOfZeroIsOff() {
        Limits none = new Limits(0, 0, 0, Duration.ZERO, Duration.ZERO);
        assertThat(none.reached(new Usage(Long.MAX_VALUE, false, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE))).isEmpty();
        for (Limit limit : Limit.values()) {
            assertThat(none.enforces(limit)).as(limit.toString()).isFalse();
        }
    }

    @Test
    void eachLimitIsNamedAsOdoosOption() {
        assertThat(List.of(Limit.values()).stream().map(Limit::toString)).containsExactly(
                "limit_memory_hard", "limit_memory_soft", "limit_request", "limit_time_cpu", "limit_time_real");
    }

    @Test
    void theThreadedServerHasNoRequestCountNorCpuLimitOfItsOwn() {
        Limits threaded = Limits.threaded(config("--limit-request", "10", "--limit-time-cpu", "5", "--limit-time-real", "7"));
        assertThat(threaded.enforces(Limit.REQUEST)).isFalse();
        assertThat(threaded.enforces(Limit.TIME_CPU)).as("RLIMIT_CPU's, for the whole process").isFalse();
        assertThat(threaded.threshold(Limit.TIME_REAL)).isEqualTo(7);
        assertThat(threaded.enforces(Limit.MEMORY_HARD)).isTrue();
    }

    @Test
    void theEventedServerAndTheEventedWorkerHaveOnlyMemoryLimits() {
        Config config = config("--limit-request", "10", "--limit-time-cpu", "5", "--limit-time-real", "7");
        for (Limits evented : List.of(Limits.evented(config), Limits.worker(config, true))) {
            assertThat(evented.enforces(Limit.REQUEST)).isFalse();
            assertThat(evented.enforces(Limit.TIME_CPU)).isFalse();
            assertThat(evented.enforces(Limit.TIME_REAL)).isFalse();
            assertThat(evented.enforces(Limit.MEMORY_SOFT)).isTrue();
        }
    }

    @Test
    void anHttpWorkerLeavesTheHardLimitToItsMasterAndJittersLimitRequestByUpToATenth() {
        Config config = config("--limit-request", "1000");
        Limits worker = Limits.worker(config, false);
        assertThat(worker.enforces(Limit.MEMORY_HARD)).isFalse();
        assertThat(worker.threshold(Limit.REQUEST)).isBetween(1000L, 1100L);
        assertThat(Limits.watchdog(config).enforces(Limit.MEMORY_HARD)).isTrue();
    }

    @Test
    void theWatchdogKillsAWorkerSilentForLongerThanTheStopTimeout() {
        Limits watchdog = Limits.watchdog(config("--limit-time-real", "3"));
        assertThat(watchdog.reached(Usage.ofSilence(0, 3 * SECOND))).isEmpty();
        assertThat(watchdog.reached(Usage.ofSilence(0, 3 * SECOND + 1))).containsExactly(Limit.TIME_REAL);
        assertThat(Limits.watchdog(config("--limit-time-real", "0")).threshold(Limit.TIME_REAL))
                .as("no limit_time_real: the stop timeout's 120 s").isEqualTo(120);
    }

    private static Config config(String... flagThenValues) {
        Map<String, List<String>> cli = new LinkedHashMap<>();
        for (int i = 0; i < flagThenValues.length; i += 2) {
            cli.put(flagThenValues[i].substring(2).replace('-', '_'), List.of(flagThenValues[i + 1]));
        }
        return ConfigLoader.load(cli, Map.of("HOME", System.getProperty("user.home"), "KILN_RC", "False"));
    }
}
