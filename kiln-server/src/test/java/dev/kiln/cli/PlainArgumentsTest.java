package dev.kiln.cli;

import dev.kiln.config.Option;
import dev.kiln.config.Options;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The plain command line read without picocli gives what picocli gives, or is left to it. */
class PlainArgumentsTest {

    private static final List<Option<?>> WITH_FLAGS = Options.ALL.stream().filter(o -> !o.flags().isEmpty()).toList();
    private static final List<String> VALUES = List.of("8070", "", "a,b", "x=y", "/tmp/kiln data", "-1", "--http-port",
            "server", "True", "0.0.0.0", "*:INFO", "ü");

    @Test
    void aPlainLineGivesWhatPicocliGives() {
        assertSame(List.of("--http-port", "8070", "-d", "db1", "--proxy-mode", "--no-http", "--db_host=h1,h2"));
        assertSame(List.of("-p", "1", "--http-port", "2", "--http-port=3"));        // the last one wins, both ways
        assertSame(List.of("--log-handler", ":DEBUG", "--log-handler=werkzeug:WARNING"));
        assertSame(List.of("-i", "base", "-u", "web", "--stop-after-init", "-D", "/tmp/data"));
        assertSame(List.of());
    }

    @Test
    void whatIsNotPlainIsLeftToPicocli() {
        for (List<String> line : List.of(List.of("--help"), List.of("-h"), List.of("--version"),
                List.of("--dump-options-reference"), List.of("-p8070"), List.of("-p=8070"), List.of("--http-port"),
                List.of("--http-port", "-1"), List.of("--htp-port", "8070"), List.of("--proxy-mode=True"),
                List.of("8070"), List.of("--", "-p"), List.of("--http-port", "8070", "extra"))) {
            assertThat(PlainArguments.given(line)).as(String.join(" ", line)).isEmpty();
        }
    }

    @Test
    void randomLinesOfTheTableGiveWhatPicocliGives() {
        Random random = new Random(20261203);
        int plain = 0;
        for (int round = 0; round < 2_000; round++) {
            List<String> line = new ArrayList<>();
            for (int n = random.nextInt(8); n > 0; n--) {
                Option<?> option = WITH_FLAGS.get(random.nextInt(WITH_FLAGS.size()));
                String flag = option.flags().get(random.nextInt(option.flags().size()));
                if (option.kind() == Option.Kind.FLAG || option.kind() == Option.Kind.NEGATING_FLAG) {
                    line.add(flag);
                } else if (flag.startsWith("--") && random.nextBoolean()) {
                    line.add(flag + "=" + VALUES.get(random.nextInt(VALUES.size())));
                } else {
                    line.add(flag);
                    line.add(VALUES.get(random.nextInt(VALUES.size())));
                }
            }
            plain += assertSame(line) ? 1 : 0;
        }
        assertThat(plain).as("lines read without picocli").isGreaterThan(1_000);
    }

    /** Whether {@code line} was read without picocli; when it was, picocli reads it the same. */
    private static boolean assertSame(List<String> line) {
        Optional<Map<String, List<String>>> plain = PlainArguments.given(line);
        if (plain.isEmpty()) {
            return false;
        }
        Map<String, List<String>> picocli;
        try {
            picocli = ServerCommand.given(KilnCommand.parse(ServerCommand.commandLine(), line));
        } catch (RuntimeException e) {
            throw new AssertionError("read without picocli, refused by it: " + line, e);
        }
        assertThat(plain.get()).as(String.join(" ", line)).isEqualTo(picocli);
        assertThat(List.copyOf(plain.get().keySet())).as("in the table's order").isEqualTo(List.copyOf(picocli.keySet()));
        return true;
    }
}
