package dev.kiln.server;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class PhoenixTest {

    @Test
    void aRestartDropsInstallUpdateAndSaveButKeepsEverythingElse() {
        List<String> argv = List.of("/jdk/bin/java", "-Xmx1g", "-cp", "lib/*", "dev.kiln.Main",
                "-i", "sale", "--init=crm", "-ustock", "--update", "web", "-s", "--save",
                "-p", "8070", "--dev=all", "-c", "/etc/kiln.conf");

        assertThat(Phoenix.withoutOneShotOptions(argv)).containsExactly("/jdk/bin/java", "-Xmx1g", "-cp", "lib/*",
                "dev.kiln.Main", "-p", "8070", "--dev=all", "-c", "/etc/kiln.conf");
    }

    @Test
    void jvmOptionsBeforeTheMainClassAreNeverTouched() {
        List<String> argv = List.of("java", "-ea", "-s-not-kiln", "dev.kiln.Main", "server");

        assertThat(Phoenix.withoutOneShotOptions(argv)).isEqualTo(argv);
    }
}
