package dev.kiln.addons;

import static dev.kiln.addons.TestAddons.addon;
import static dev.kiln.addons.TestAddons.manifest;
import static dev.kiln.addons.TestAddons.sourceAddon;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.kiln.api.Addon;
import dev.kiln.api.Response;
import dev.kiln.failure.KilnException;
import java.io.IOException;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Source addons: {@code <addon>/src/**} compiled by Kiln at load, against kiln-api and the addon's
 * dependencies, cached under {@code <data_dir>/addons-cache} by a hash of what the classes are made of.
 */
class SourceAddonTest {

    @TempDir
    Path root;

    @TempDir
    Path dataDir;

    private static final String GREETER = """
            package greeter;

            import dev.kiln.api.*;
            import java.io.InputStream;
            import org.slf4j.LoggerFactory;

            public final class Greeter implements Addon {
                @Override public void register(AddonContext context) {
                    LoggerFactory.getLogger(Greeter.class).info("greeter registers");
                    context.routes(this);
                }

                @Route(value = "/greeter", auth = Route.Auth.NONE, methods = "GET")
                public Response greet(Request request) throws Exception {
                    try (InputStream in = Greeter.class.getResourceAsStream("greeting.txt")) {
                        return Response.text(new String(in.readAllBytes()).strip() + " " + Words.WORD);
                    }
                }
            }
            """;

    private static final String WORDS = "package greeter; final class Words { static final String WORD = \"%s\"; }";

    private Path greeter(String word) {
        return sourceAddon(root, "greeter", manifest("greeter.Greeter", "base"), Map.of(
                "greeter/Greeter.java", GREETER,
                "greeter/Words.java", WORDS.formatted(word),
                "greeter/greeting.txt", "Hello from a source addon,"));
    }

    private LoadedAddons load(String... names) {
        return AddonLoader.loadServerWide(List.of(root), dataDir, List.of(names));
    }

    private static String answer(LoadedAddons addons, String path) throws Throwable {
        RouteSpec route = addons.routes().stream().filter(r -> r.path().equals(path)).findFirst().orElseThrow();
        return new String(((Response) route.handler().handle(null)).bodyBytes(), StandardCharsets.UTF_8);
    }

    private List<Path> cacheEntries() throws IOException {
        Path cache = dataDir.resolve("addons-cache");
        if (!Files.isDirectory(cache)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(cache)) {
            return entries.sorted().toList();
        }
    }

    private KilnException failure(String... names) {
        try {
            load(names).close();
        } catch (KilnException e) {
            return e;
        }
        throw new AssertionError("loading " + List.of(names) + " did not fail");
    }

    @Test
    void aSourceAddonIsCompiledAtLoadAndItsRouteAnswersWithItsResources() throws Throwable {
        greeter("world");
        try (LoadedAddons loaded = load("greeter")) {
            assertThat(loaded.names()).containsExactly("base", "greeter");
            assertThat(answer(loaded, "/greeter")).isEqualTo("Hello from a source addon, world");
            ClassLoader loader = loaded.get("greeter").orElseThrow().classLoader();
            assertThat(loader.getResource("greeter/greeting.txt")).isNotNull();
            assertThat(loader.getResource("greeter/Greeter.java")).as("sources are not resources").isNull();
        }
        assertThat(cacheEntries()).singleElement().satisfies(entry ->
                assertThat(entry.getFileName().toString()).matches("greeter-[0-9a-f]{20}"));
    }

    @Test
    void anUnchangedAddonIsNotCompiledAgainAndAChangedOneIs() throws Throwable {
        greeter("world");
        load("greeter").close();
        Path entry = cacheEntries().getFirst();
        Path compiled = entry.resolve("greeter/Greeter.class");
        Object fileKey = Files.readAttributes(compiled, BasicFileAttributes.class).fileKey();

        try (LoadedAddons again = load("greeter")) {
            assertThat(answer(again, "/greeter")).endsWith("world");
        }
        assertThat(cacheEntries()).containsExactly(entry);
        assertThat(Files.readAttributes(compiled, BasicFileAttributes.class).fileKey())
                .as("the same class file, not a new one").isEqualTo(fileKey);

        greeter("again");
        try (LoadedAddons changed = load("greeter")) {
            assertThat(answer(changed, "/greeter")).isEqualTo("Hello from a source addon, again");
        }
        assertThat(cacheEntries()).hasSize(2).contains(entry);

        Files.writeString(root.resolve("greeter/src/greeter/greeting.txt"), "Hi,");
        try (LoadedAddons resourceChanged = load("greeter")) {
            assertThat(answer(resourceChanged, "/greeter")).isEqualTo("Hi, again");
        }
        assertThat(cacheEntries()).hasSize(3);
    }

    @Test
    void aCompileErrorNamesTheAddonFileLineAndMessageAndLoadsNothing() throws Throwable {
        greeter("world");
        Path words = root.resolve("greeter/src/greeter/Words.java");
        Files.writeString(words, "package greeter;\nfinal class Words {\n    static final String WORD = missing;\n}\n");

        AddonLoader catalog = AddonLoader.discover(List.of(root), dataDir);
        KilnException e = (KilnException) catchThrowable(() -> catalog.load(List.of("greeter")));
        assertThat(e.exitCode()).isEqualTo(KilnException.FAILURE);
        assertThat(e.getMessage()).startsWith("addon 'greeter' does not compile (1 error in " + root.resolve("greeter/src") + "):")
                .contains(words + ":3: cannot find symbol (symbol: variable missing, location: class greeter.Words)");
        assertThat(cacheEntries()).as("no cache entry, no temporary folder left").isEmpty();

        // nothing half-registered: the same loader loads the fixed addon, its routes once
        Files.writeString(words, WORDS.formatted("fixed"));
        try (LoadedAddons loaded = catalog.load(List.of("greeter"))) {
            assertThat(answer(loaded, "/greeter")).endsWith("fixed");
            assertThat(loaded.routes()).filteredOn(r -> r.path().equals("/greeter")).hasSize(1);
        }
    }

    @Test
    void compileErrorsAreCappedAtTen() {
        String broken = IntStream.rangeClosed(1, 12).mapToObj(i -> "    int f" + i + " = nothing" + i + ";")
                .collect(Collectors.joining("\n", "package many;\nfinal class Many {\n", "\n}\n"));
        sourceAddon(root, "many", manifest(null), Map.of("many/Many.java", broken));
        String message = failure("many").getMessage();
        assertThat(message).startsWith("addon 'many' does not compile (12 errors in ")
                .contains("Many.java:3: cannot find symbol", "Many.java:12: cannot find symbol", "... and 2 more")
                .doesNotContain("Many.java:13:");
        assertThat(message.lines()).hasSize(12);
    }

    @Test
    void aSourceAddonCompilesAgainstTheCodeOfItsJarAndSourceDependencies() throws Throwable {
        addon(root, "units", manifest(null), Map.of("units.Units", """
                package units;
                public final class Units { public static String of(int n) { return n + " units"; } }
                """));
        sourceAddon(root, "stock", manifest(null, "units"), Map.of("stock/Stock.java", """
                package stock;
                public final class Stock { public static String level() { return "stock: " + units.Units.of(3); } }
                """));
        sourceAddon(root, "shop", manifest("shop.Shop", "stock"), Map.of("shop/Shop.java", """
                package shop;
                import dev.kiln.api.*;
                public final class Shop implements Addon {
                    public void register(AddonContext context) { context.routes(this); }
                    @Route(value = "/shop", auth = Route.Auth.NONE)
                    public Response get(Request request) { return Response.text(stock.Stock.level() + ", " + units.Units.of(1)); }
                }
                """));
        try (LoadedAddons loaded = load("shop")) {
            assertThat(loaded.names()).containsExactly("units", "stock", "shop");
            assertThat(answer(loaded, "/shop")).isEqualTo("stock: 3 units, 1 units");
        }
        List<Path> first = cacheEntries();
        assertThat(first).hasSize(2);

        // a dependency's code changed: the dependant compiles again, against the new code
        Files.writeString(root.resolve("stock/src/stock/Stock.java"), """
                package stock;
                public final class Stock { public static String level() { return "stock: none"; } }
                """);
        try (LoadedAddons loaded = load("shop")) {
            assertThat(answer(loaded, "/shop")).isEqualTo("stock: none, 1 units");
        }
        assertThat(cacheEntries()).hasSize(4).containsAll(first);
    }

    @Test
    void aSourceAddonCannotCompileAgainstAnAddonItDoesNotDependOn() {
        sourceAddon(root, "stranger", manifest(null), Map.of("stranger/Thing.java", "package stranger; public class Thing {}"));
        sourceAddon(root, "user", manifest(null), Map.of("user/User.java",
                "package user;\npublic class User {\n    stranger.Thing thing;\n}\n"));
        assertThat(failure("stranger", "user").getMessage()).contains("User.java:3: package stranger does not exist");
    }

    @Test
    void anAddonWithBothAJarAndSourcesIsRefused() throws IOException {
        addon(root, "both", manifest(null), Map.of("both.A", "package both; public class A {}"));
        Files.createDirectories(root.resolve("both/src/both"));
        Files.writeString(root.resolve("both/src/both/A.java"), "package both; public class A {}");
        assertThatThrownBy(() -> load("both").close()).isInstanceOf(KilnException.class)
                .hasMessageContaining("addon 'both' holds both " + root.resolve("both/both.jar"))
                .hasMessageContaining("remove one");
    }

    @Test
    void withoutADataDirTheClassesGoToAPrivateTemporaryFolder() throws Throwable {
        greeter("world");
        try (LoadedAddons loaded = AddonLoader.loadServerWide(List.of(root), List.of("greeter"))) {
            assertThat(answer(loaded, "/greeter")).endsWith("world");
            Path classes = Path.of(((URLClassLoader) loaded.get("greeter").orElseThrow().classLoader()).getURLs()[0].toURI());
            assertThat(classes.getParent().getFileName().toString()).startsWith("kiln-addons-cache-");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(classes.getParent())))
                    .isEqualTo("rwx------");
        }
        assertThat(cacheEntries()).isEmpty();
    }

    @Test
    void theApiIsFoundWhereverItWasLoadedFrom() {
        Path api = AddonCompiler.codeOf(Addon.class);
        assertThat(Files.isDirectory(api) || api.toString().endsWith(".jar")).isTrue();
        assertThat(api.toString()).contains("kiln-api");
    }

    @Test
    void theCompilersWarmUpCompilesAnAddonAgainstTodaysApiAndWritesNoFile() throws IOException {
        Path here = Path.of("").toAbsolutePath();
        List<Path> before;
        try (Stream<Path> files = Files.list(here)) {
            before = files.sorted().toList();
        }
        assertThat(AddonCompiler.warmUp()).as("the warm-up's addon compiles against kiln-api").isTrue();
        try (Stream<Path> files = Files.list(here)) {
            assertThat(files.sorted().toList()).as("its classes are discarded, not written").isEqualTo(before);
        }
    }
}
