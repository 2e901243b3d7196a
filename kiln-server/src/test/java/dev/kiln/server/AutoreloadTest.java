package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code --dev=reload} with real kiln processes and real files: an addon rebuilt on the addons path
 * is served after an in-place restart (threaded) or a rolling reload (prefork); a broken manifest is
 * refused and the old code serves on; static files and editor droppings reload nothing; without
 * the option nothing is watched; and re-execs do not pile up inotify descriptors or watches.
 */
@Tag("process")
class AutoreloadTest {

    private static final String WATCHING = "--dev=reload: watching ";
    private static final String RESTARTED = "Restarting in place \\(--dev=reload: addons changed\\)";

    @TempDir
    Path dir;
    Path addons;
    Path greet;
    Path run;
    /** The jar of the greet addon answering "v1" and the one answering "v2" at /greet. */
    Path v1;
    Path v2;

    @BeforeEach
    void buildTheGreetAddon() throws IOException {
        addons = Files.createDirectories(dir.resolve("addons"));
        run = Files.createDirectories(dir.resolve("run"));
        v1 = greetJar("v1");
        v2 = greetJar("v2");
        greet = Files.createDirectories(addons.resolve("greet"));
        Files.writeString(greet.resolve("manifest.json"), TestAddons.manifest("greet.Greet", "base"));
        Files.copy(v1, greet.resolve("greet.jar"));
        Files.createDirectories(greet.resolve("static"));
        Files.writeString(greet.resolve("static/note.txt"), "first note");
    }

    @Test
    void aRebuiltJarIsServedAfterAnInPlaceRestartWithTheSamePid() throws Exception {
        try (KilnProcess kiln = start("--dev=reload")) {
            assertThat(kiln.get("/greet")).startsWith("HTTP/1.1 200").endsWith("v1");

            Files.copy(v2, greet.resolve("greet.jar"), StandardCopyOption.REPLACE_EXISTING);

            kiln.awaitLog("--dev=reload: greet/greet\\.jar changed; reloading \\(threaded mode\\)", 1);
            await().atMost(Duration.ofSeconds(30)).until(() -> answer(kiln).endsWith("v2"));
            assertThat(kiln.process().isAlive()).isTrue();
            assertThat(Files.readString(kiln.pidfile).trim()).isEqualTo(String.valueOf(kiln.pid()));
            assertThat(kiln.count(RESTARTED)).isEqualTo(1);
        }
    }

    @Test
    void aRebuiltJarIsServedByANewGenerationOfWorkersInPrefork() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(run, List.of(), "--workers=2", "--max-cron-threads=0", "--dev=reload",
                "--addons-path=" + addons, "--load=base,web,hello,greet")) {
            kiln.awaitHttpWorkers(2, 1);
            kiln.awaitLog(WATCHING, 1);
            Set<Long> old = PreforkServerTest.workerPids(kiln);
            assertThat(kiln.get("/greet")).endsWith("v1");

            Files.copy(v2, greet.resolve("greet.jar"), StandardCopyOption.REPLACE_EXISTING);

            kiln.awaitLog("--dev=reload: greet/greet\\.jar changed; reloading \\(prefork mode\\)", 1);
            kiln.awaitHttpWorkers(2, 2);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(PreforkServerTest.workerPids(kiln)).hasSize(2).doesNotContainAnyElementsOf(old));
            for (int i = 0; i < 10; i++) {
                assertThat(kiln.get("/greet")).startsWith("HTTP/1.1 200").endsWith("v2");
            }
            assertThat(kiln.process().isAlive()).isTrue();
            assertThat(kiln.log()).containsOnlyOnce(WATCHING);      // the master watches; the workers never do
        }
    }

    @Test
    void kilnEventedRestartsInPlaceWhenAnAddonChanges() throws Exception {
        try (KilnProcess kiln = KilnProcess.startEvented(run, "--addons-path=" + addons, "--load=base,web,hello,greet",
                "--dev=reload")) {
            assertThat(kiln.get("/greet")).startsWith("HTTP/1.1 200").endsWith("v1");

            Files.copy(v2, greet.resolve("greet.jar"), StandardCopyOption.REPLACE_EXISTING);

            kiln.awaitLog("--dev=reload: greet/greet\\.jar changed; reloading \\(evented mode\\)", 1);
            await().atMost(Duration.ofSeconds(30)).until(() -> answer(kiln).endsWith("v2"));
            kiln.awaitLog("Evented service \\(Jetty\\) running .*\\(socket kept across the restart\\)", 1);
            assertThat(kiln.process().isAlive()).as("same pid").isTrue();
        }
    }

    @Test
    void aBrokenManifestIsRefusedTheOldCodeServesOnAndTheFixReloads() throws Exception {
        try (KilnProcess kiln = start("--dev=reload")) {
            Files.writeString(greet.resolve("manifest.json"), "{\"version\": \"1.0\", \"depends\": [\"base\"");
            Files.copy(v2, greet.resolve("greet.jar"), StandardCopyOption.REPLACE_EXISTING);

            kiln.awaitLog("ERROR .*--dev=reload: not reloading after the change to greet/manifest\\.json, greet/greet\\.jar: "
                    + "addon 'greet': manifest " + greet.resolve("manifest.json") + " is not valid JSON.*; "
                    + "the previous code serves on until the next change", 1);
            assertThat(kiln.get("/greet")).startsWith("HTTP/1.1 200").endsWith("v1");
            assertThat(kiln.count("Restarting in place")).isZero();

            Files.writeString(greet.resolve("manifest.json"), TestAddons.manifest("greet.Greet", "base"));

            kiln.awaitLog("--dev=reload: greet/manifest\\.json changed; reloading \\(threaded mode\\)", 1);
            await().atMost(Duration.ofSeconds(30)).until(() -> answer(kiln).endsWith("v2"));
            assertThat(kiln.count(RESTARTED)).isEqualTo(1);
        }
    }

    @Test
    void aStaticFileOrAnEditorTempFileReloadsNothingAndTheNewContentIsServed() throws Exception {
        try (KilnProcess kiln = start("--dev=reload")) {
            assertThat(kiln.get("/greet/static/note.txt")).endsWith("first note");

            Files.writeString(greet.resolve("static/note.txt"), "second note");
            Files.writeString(greet.resolve("static/Greet.java"), "class Greet { }");   // a source, but static
            Files.writeString(greet.resolve(".#Greet.java"), "emacs lock");
            Files.writeString(greet.resolve("Greet.java~"), "a backup");
            Files.writeString(greet.resolve(".Greet.java.swp"), "vim swap");
            Files.writeString(greet.resolve("4913"), "vim probe");

            assertThat(kiln.get("/greet/static/note.txt")).startsWith("HTTP/1.1 200").endsWith("second note");
            // longer than the watcher's quiet window: a reload for the files above would come on its own
            Thread.sleep(1000);
            Files.writeString(greet.resolve("Greet.java"), "class Greet { }");

            kiln.awaitLog("--dev=reload: .* changed; reloading", 1);
            assertThat(kiln.log()).contains("--dev=reload: greet/Greet.java changed; reloading (threaded mode)");
            kiln.awaitLog("HTTP service \\(Jetty\\) running .*\\(socket kept across the restart\\)", 1);
            assertThat(kiln.count("changed; reloading")).isEqualTo(1);
            assertThat(kiln.count("Restarting in place")).isEqualTo(1);
            assertThat(kiln.get("/greet/static/note.txt")).endsWith("second note");
        }
    }

    @Test
    void anEditedSourceAddonIsCompiledAndServedAndACompileErrorKeepsTheOldCodeServing() throws Exception {
        // texts of their own: the compile cache of the test data dir outlives this run
        String first = "first " + java.util.UUID.randomUUID();
        String second = "second " + java.util.UUID.randomUUID();
        Path hi = TestAddons.sourceAddon(addons, "hi", TestAddons.manifest("hi.Hi", "base"), Map.of("hi/Hi.java", hiSource(first)));
        try (KilnProcess kiln = KilnProcess.start(run, "--addons-path=" + addons, "--load=base,web,hello,hi", "--dev=reload",
                "--log-handler=dev.kiln.addons.AddonWatcher:DEBUG")) {
            assertThat(kiln.get("/hi")).startsWith("HTTP/1.1 200").endsWith(first);
            // a watched folder holds a source addon: once serving, the compiler is warmed for the next save
            kiln.awaitLog("--dev=reload: the compiler is warm \\(\\d+ ms\\)", 1);

            Files.writeString(hi.resolve("src/hi/Hi.java"), hiSource(second).replace("Response.text", "Response.txt"));
            kiln.awaitLog("ERROR .*--dev=reload: not reloading after the change to hi/src/hi/Hi\\.java: addon 'hi' does not compile", 1);
            assertThat(kiln.log()).containsPattern("hi/Hi\\.java:9: cannot find symbol .*; the previous code serves on until the next change");
            assertThat(kiln.get("/hi")).as("the previous code serves on").endsWith(first);
            assertThat(kiln.count("Restarting in place")).isZero();

            Files.writeString(hi.resolve("src/hi/Hi.java"), hiSource(second));
            kiln.awaitLog(RESTARTED, 1);
            await().atMost(Duration.ofSeconds(30)).until(() -> answerOf(kiln, "/hi").endsWith(second));
            assertThat(kiln.process().isAlive()).isTrue();
            // compiled once, by the check before the restart: the restarted image found it in the cache
            assertThat(kiln.count("addon 'hi': compiled 1 source file")).isEqualTo(2);     // at the start, then the check
            kiln.awaitLog("--dev=reload: the compiler is warm", 2);       // and again in the restarted image
        }
    }

    @Test
    void withoutDevReloadAChangedJarChangesNothing() throws Exception {
        try (KilnProcess kiln = start()) {
            Files.copy(v2, greet.resolve("greet.jar"), StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(greet.resolve("manifest.json"), TestAddons.manifest("greet.Greet", "base", "web"));

            await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> answer(kiln).endsWith("v1"));
            assertThat(kiln.log()).doesNotContain("--dev=reload").doesNotContain("Restarting in place");
        }
    }

    @Test
    void tenReloadsLeaveOneInotifyDescriptorWithTheSameWatches() throws Exception {
        Files.createDirectories(greet.resolve("lib"));
        Files.createDirectories(greet.resolve("migrations"));
        try (KilnProcess kiln = start("--dev=reload")) {
            kiln.awaitLog(WATCHING, 1);
            List<Integer> fds = new ArrayList<>(List.of(inotifyFds(kiln.pid()).size()));
            List<Integer> watches = new ArrayList<>(List.of(inotifyWatches(kiln.pid())));
            for (int reload = 1; reload <= 10; reload++) {
                String text = reload % 2 == 1 ? "v2" : "v1";
                Files.copy(reload % 2 == 1 ? v2 : v1, greet.resolve("greet.jar"), StandardCopyOption.REPLACE_EXISTING);
                kiln.awaitLog(RESTARTED, reload);
                kiln.awaitLog(WATCHING, reload + 1);
                await().atMost(Duration.ofSeconds(30)).until(() -> answer(kiln).endsWith(text));
                fds.add(inotifyFds(kiln.pid()).size());
                watches.add(inotifyWatches(kiln.pid()));
            }
            assertThat(fds).as("inotify descriptors after each reload").containsOnly(1);
            // the addons folder, greet, greet/lib, greet/migrations; not static/
            assertThat(watches).as("inotify watches after each reload").containsOnly(4);
            assertThat(kiln.pid()).isEqualTo(Long.parseLong(Files.readString(kiln.pidfile).trim()));
        }
    }

    private KilnProcess start(String... options) throws IOException {
        List<String> args = new ArrayList<>(List.of("--addons-path=" + addons, "--load=base,web,hello,greet"));
        args.addAll(List.of(options));
        return KilnProcess.start(run, args.toArray(String[]::new));
    }

    /** The body of GET /greet, or what went wrong (a restart may be under way). */
    private static String answer(KilnProcess kiln) {
        return answerOf(kiln, "/greet");
    }

    private static String answerOf(KilnProcess kiln, String path) {
        try {
            return kiln.get(path);
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** The source of the hi addon: GET /hi answers {@code text}. */
    private static String hiSource(String text) {
        return """
                package hi;

                import dev.kiln.api.*;

                public final class Hi implements Addon {
                    @Override public void register(AddonContext context) { context.routes(this); }

                    @Route(value = "/hi", auth = Route.Auth.NONE, methods = "GET")
                    public Response hi(Request request) { return Response.text("%s"); }
                }
                """.formatted(text);
    }

    /** The greet addon's jar: GET /greet answers {@code text}. */
    private Path greetJar(String text) throws IOException {
        Path jar = dir.resolve("greet-" + text + ".jar");
        TestAddons.jar(Map.of("greet.Greet", """
                package greet;

                import dev.kiln.api.*;

                public final class Greet implements Addon {
                    @Override public void register(AddonContext context) { context.routes(this); }

                    @Route(value = "/greet", auth = Route.Auth.NONE, methods = "GET")
                    public Response greet(Request request) { return Response.text("%s"); }
                }
                """.formatted(text)), List.of(), jar);
        return jar;
    }

    /** The inotify descriptors of process {@code pid}: /proc/<pid>/fd links to anon_inode:inotify. */
    static List<Path> inotifyFds(long pid) throws IOException {
        List<Path> found = new ArrayList<>();
        try (var fds = Files.list(Path.of("/proc", String.valueOf(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals("anon_inode:inotify")) {
                        found.add(fd);
                    }
                } catch (IOException closedMeanwhile) {
                    // gone between the listing and the read: not open
                }
            }
        }
        return found;
    }

    /** The watches of every inotify descriptor of {@code pid}: its "inotify wd:" lines in /proc/<pid>/fdinfo. */
    static int inotifyWatches(long pid) throws IOException {
        int watches = 0;
        for (Path fd : inotifyFds(pid)) {
            Path info = Path.of("/proc", String.valueOf(pid), "fdinfo", fd.getFileName().toString());
            watches += (int) Files.readAllLines(info).stream().filter(line -> line.startsWith("inotify wd:")).count();
        }
        return watches;
    }
}
