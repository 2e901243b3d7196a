package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.CronSpec;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.addons.RouteSpec;
import dev.kiln.failure.KilnException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code kiln scaffold NAME DIR}: what it writes compiles and registers; what it refuses leaves no trace. */
class ScaffoldCommandTest {

    @TempDir
    Path dir;

    @TempDir
    Path dataDir;

    private record Run(int code, String out, String err) { }

    private static Run kiln(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = KilnCommand.run(args, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private List<Path> everything() throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(p -> !p.equals(dir)).sorted().toList();
        }
    }

    @Test
    void scaffoldWritesASourceAddonThatCompilesWithItsRouteAndCronJob() throws IOException {
        Run run = kiln("scaffold", "hello_world", dir.toString());
        assertThat(run.code()).as(run.err()).isZero();
        Path addon = dir.resolve("hello_world");
        assertThat(run.out()).contains("addon 'hello_world' created in " + addon, "--addons-path=" + dir);
        assertThat(addon.resolve("manifest.json")).content().contains("\"entry\": \"hello_world.HelloWorldAddon\"");
        assertThat(addon.resolve("src/hello_world/HelloWorldAddon.java")).exists();
        assertThat(addon.resolve("migrations/V1__greeting.sql")).content().contains("CREATE TABLE hello_world_greeting");
        assertThat(addon.resolve("static/index.html")).exists();
        assertThat(addon.resolve("tests/HelloWorldTest.java")).exists();
        assertThat(dir.toFile().list()).containsExactly("hello_world");

        try (LoadedAddons loaded = AddonLoader.loadServerWide(List.of(dir), dataDir, List.of("hello_world"))) {
            assertThat(loaded.routes()).extracting(RouteSpec::path).contains("/hello_world");
            assertThat(loaded.crons()).containsKey("hello_world.check");
            assertThat(loaded.crons().get("hello_world.check")).extracting(CronSpec::addon).isEqualTo("hello_world");
            assertThat(loaded.staticFolders()).containsEntry("hello_world", addon.resolve("static"));
            ClassLoader loader = loaded.get("hello_world").orElseThrow().classLoader();
            assertThat(loader.getResource("HelloWorldTest.class")).as("tests/ is not part of the addon").isNull();
        }
    }

    @Test
    void scaffoldRefusesABadNameAndWritesNothing() throws IOException {
        for (String bad : List.of("Hello", "hello-world", "1hello", "_hello", "hello world", "class", "java", "hello.world", "")) {
            Run run = kiln("scaffold", bad, dir.toString());
            assertThat(run.code()).as(bad).isEqualTo(KilnException.USAGE);
            assertThat(run.err()).as(bad).startsWith("kiln: addon name '" + bad + "' is not valid: ").doesNotContain("\n\n");
        }
        assertThat(kiln("scaffold", "hello", dir.toString()).err()).contains("bundled with Kiln");
        assertThat(everything()).isEmpty();
    }

    @Test
    void scaffoldRefusesAnExistingFolderAndLeavesItAlone() throws IOException {
        Path existing = Files.createDirectories(dir.resolve("shop"));
        Files.writeString(existing.resolve("mine.txt"), "keep me");
        Run run = kiln("scaffold", "shop", dir.toString());
        assertThat(run.code()).isEqualTo(KilnException.USAGE);
        assertThat(run.err()).contains(existing + " already exists", "nothing was written");
        assertThat(everything()).containsExactly(existing, existing.resolve("mine.txt"));
    }

    @Test
    void scaffoldNeedsAName() {
        Run run = kiln("scaffold");
        assertThat(run.code()).isEqualTo(KilnException.USAGE);
        assertThat(run.err()).contains("kiln scaffold takes NAME [DIR]");
        assertThat(kiln("scaffold", "--help").out()).contains("kiln scaffold NAME [DIR]", "GET /NAME");
    }
}
