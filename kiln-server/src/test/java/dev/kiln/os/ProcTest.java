package dev.kiln.os;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ProcTest {

    @Test
    void theResidentMemoryAndTheIgnoredSignalsComeFromThisProcessesStatus() {
        assertThat(Proc.rss()).as("a JVM holds more than a megabyte").isGreaterThan(1 << 20);
        assertThat(Proc.ignores(9)).as("KILL can never be ignored").isFalse();
        assertThat(Proc.ignores(19)).as("nor STOP").isFalse();
    }
}
