package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.server.WorkerProcess.Kind;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which AOT cache a worker JVM gets: the workers' own when the launcher names one, else the master's. */
class WorkerAotTest {

    private static final List<String> MASTER = List.of("-XX:AOTCache=/k/dist/kiln.aot", "-Xlog:aot=off",
            "-Dkiln.worker-aot=/k/dist/kiln-worker.aot", "-XX:+UseSerialGC");

    @Test
    void aWorkerGetsTheWorkersCacheInPlaceOfTheMasters() {
        assertThat(WorkerProcess.workerAot(MASTER, Kind.HTTP, 2, "/k/dist/kiln-worker.aot", null)).containsExactly(
                "-XX:AOTCache=/k/dist/kiln-worker.aot", "-Xlog:aot=off", "-Dkiln.worker-aot=/k/dist/kiln-worker.aot",
                "-XX:+UseSerialGC");
    }

    @Test
    void withoutAWorkersCacheTheMastersOptionsPassAsTheyAre() {
        assertThat(WorkerProcess.workerAot(MASTER, Kind.CRON, 3, null, null)).isEqualTo(MASTER);
        assertThat(WorkerProcess.workerAot(MASTER, Kind.CRON, 3, "", null)).isEqualTo(MASTER);
        List<String> off = List.of("-XX:+UseSerialGC");      // KILN_AOT=off: no cache for anyone
        assertThat(WorkerProcess.workerAot(off, Kind.HTTP, 1, "/k/dist/kiln-worker.aot", null)).isEqualTo(off);
    }

    @Test
    void theTrainingRunHasHttpWorkerOneAloneWriteTheCache() {
        List<String> master = List.of("-Dkiln.aot.train-worker=/tmp/t/kiln-worker.aot", "-XX:+UseSerialGC");
        assertThat(WorkerProcess.workerAot(master, Kind.HTTP, 1, null, "/tmp/t/kiln-worker.aot"))
                .containsExactly("-XX:+UseSerialGC", "-XX:AOTCacheOutput=/tmp/t/kiln-worker.aot");
        assertThat(WorkerProcess.workerAot(master, Kind.HTTP, 2, null, "/tmp/t/kiln-worker.aot")).containsExactly("-XX:+UseSerialGC");
        assertThat(WorkerProcess.workerAot(master, Kind.EVENTED, 1, null, "/tmp/t/kiln-worker.aot")).containsExactly("-XX:+UseSerialGC");
    }
}
