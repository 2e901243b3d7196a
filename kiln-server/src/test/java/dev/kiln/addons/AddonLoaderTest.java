package dev.kiln.addons;

import static dev.kiln.addons.TestAddons.addon;
import static dev.kiln.addons.TestAddons.manifest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.api.Addon;
import dev.kiln.api.Route;
import dev.kiln.failure.KilnException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;

class AddonLoaderTest {

    @TempDir
    Path root;
    @TempDir
    Path dataDir;

    private static String controller(String pkg, String path) {
        return """
                package %s;
                import dev.kiln.api.*;
                public final class Entry implements Addon {
                    public void register(AddonContext context) { context.routes(this); }
                    @Route(value = "%s", auth = Route.Auth.NONE, methods = "GET")
                    public Response get(Request request) { return Response.text("%s"); }
                }
                """.formatted(pkg, path, pkg);
    }

    private static KilnException failure(List<String> names, Path... path) {
        try {
            AddonLoader.loadServerWide(List.of(path), names).close();
        } catch (KilnException e) {
            return e;
        }
        throw new AssertionError("loading " + names + " did not fail");
    }

    @Test
    void missingDependencyNamesTheAddonAndItsManifest() {
        addon(root, "shop", manifest(null, "stock"), Map.of());
        KilnException e = failure(List.of("shop"), root);
        assertThat(e.exitCode()).isEqualTo(KilnException.FAILURE);
        assertThat(e.getMessage()).doesNotContain("\n")
                .contains("'shop'", "'stock'", root.resolve("shop/manifest.json").toString());
    }

    @Test
    void dependencyCycleNamesEveryAddonOfTheCycle() {
        addon(root, "a", manifest(null, "b"), Map.of());
        addon(root, "b", manifest(null, "c"), Map.of());
        addon(root, "c", manifest(null, "a"), Map.of());
        KilnException e = failure(List.of("a"), root);
        assertThat(e.getMessage()).doesNotContain("\n").contains("a -> b -> c -> a")
                .contains(root.resolve("a/manifest.json").toString());
    }

    @Test
    void sameAddonNameInTwoFoldersNamesBothFolders() throws Exception {
        Path one = Files.createDirectories(root.resolve("one"));
        Path two = Files.createDirectories(root.resolve("two"));
        addon(one, "shop", manifest(null), Map.of());
        addon(two, "shop", manifest(null), Map.of());
        KilnException e = failure(List.of("shop"), one, two);
        assertThat(e.getMessage()).doesNotContain("\n").contains("'shop'", one.resolve("shop").toString(), two.resolve("shop").toString());
    }

    @Test
    void unreadableManifestNamesTheAddonAndTheFile() {
        addon(root, "broken", "{\"version\": \"1.0\", \"depends\": [", Map.of());
        KilnException e = failure(List.of("broken"), root);
        assertThat(e.getMessage()).doesNotContain("\n").contains("'broken'", root.resolve("broken/manifest.json").toString(), "not valid JSON");
    }

    @Test
    void unknownManifestFieldIsRefused() {
        addon(root, "typo", "{\"version\": \"1.0\", \"depend\": [\"base\"]}", Map.of());
        KilnException e = failure(List.of("typo"), root);
        assertThat(e.getMessage()).contains("'typo'", "unknown field \"depend\"", root.resolve("typo/manifest.json").toString());
    }

    @Test
    void invalidManifestFieldTypeIsRefused() {
        addon(root, "bad", "{\"version\": \"1.0\", \"depends\": \"base\"}", Map.of());
        assertThat(failure(List.of("bad"), root).getMessage()).contains("'bad'", "\"depends\" must be a list");
        Path other = root.resolve("other");
        addon(other, "worse", "{\"version\": \"1.0\", \"auto_install\": \"yes\"}", Map.of());
        assertThat(failure(List.of("worse"), other).getMessage()).contains("'worse'", "auto_install");
    }

    @Test
    void twoAddonsClaimingTheSameRouteNamesBothAddonsAndThePath() {
        addon(root, "first", manifest("first.Entry"), Map.of("first.Entry", controller("first", "/same")));
        addon(root, "second", manifest("second.Entry", "first"), Map.of("second.Entry", controller("second", "/same")));
        KilnException e = failure(List.of("second"), root);
        assertThat(e.getMessage()).doesNotContain("\n").contains("'first'", "'second'", "/same",
                root.resolve("second/manifest.json").toString());
    }

    @Test
    void missingEntryClassNamesTheAddon() {
        addon(root, "ghost", manifest("ghost.Missing"), Map.of("ghost.Other", "package ghost; public class Other {}"));
        KilnException e = failure(List.of("ghost"), root);
        assertThat(e.getMessage()).doesNotContain("\n").contains("'ghost'", "ghost.Missing", root.resolve("ghost/manifest.json").toString());
    }

    @Test
    void entryClassThatIsNotAnAddonIsRefused() {
        addon(root, "plain", manifest("plain.Other"), Map.of("plain.Other", "package plain; public class Other {}"));
        assertThat(failure(List.of("plain"), root).getMessage()).contains("'plain'", "does not implement dev.kiln.api.Addon");
    }

    @Test
    void unknownAddonNameOnTheLoadListIsRefused() {
        assertThat(failure(List.of("nowhere"), root).getMessage()).contains("'nowhere'", "not on the addons path");
    }

    @Test
    void addonsLoadInDependencyOrderWithTheirRoutes() {
        addon(root, "top", manifest("top.Entry", "middle", "base"), Map.of("top.Entry", controller("top", "/top")));
        addon(root, "middle", manifest("middle.Entry", "base"), Map.of("middle.Entry", controller("middle", "/middle")));
        try (LoadedAddons loaded = AddonLoader.loadServerWide(List.of(root), List.of("top"))) {
            assertThat(loaded.names()).containsExactly("base", "middle", "top");
            assertThat(loaded.routes()).extracting(RouteSpec::path).contains("/middle", "/top", "/web/webclient/version_info");
            assertThat(loaded.routes()).filteredOn(r -> r.path().equals("/top")).singleElement()
                    .satisfies(r -> assertThat(r.auth()).isEqualTo(Route.Auth.NONE));
        }
    }

    @Test
    void theReloadCheckPassesForAddonsThatWouldLoad() {
        addon(root, "shop", manifest("shop.Entry", "base"), Map.of("shop.Entry", controller("shop", "/shop")));
        addon(root, "unused", manifest(null, "nowhere"), Map.of());   // never loaded: not the check's business
        AddonLoader.check(List.of(root), dataDir, List.of("base", "web"), Set.of("shop", "gone"));
    }

    @Test
    void theReloadCheckFailsAsAStartWouldForAChangedAddonOffTheLoadList() {
        addon(root, "first", manifest("first.Entry"), Map.of("first.Entry", controller("first", "/same")));
        addon(root, "second", manifest("second.Entry", "first"), Map.of("second.Entry", controller("second", "/same")));
        assertThatThrownBy(() -> AddonLoader.check(List.of(root), dataDir, List.of("first"), Set.of("second")))
                .isInstanceOf(KilnException.class).hasMessageContainingAll("'first'", "'second'", "/same");

        addon(root, "ghost", manifest("ghost.Missing"), Map.of("ghost.Other", "package ghost; public class Other {}"));
        assertThatThrownBy(() -> AddonLoader.check(List.of(root), dataDir, List.of("first"), Set.of("ghost")))
                .hasMessageContainingAll("'ghost'", "ghost.Missing", root.resolve("ghost/manifest.json").toString());
    }

    @Test
    void bundledAddonsAreFoundWithoutAnyConfiguredFolder() {
        try (LoadedAddons loaded = AddonLoader.loadServerWide(List.of(), List.of("base", "web", "hello"))) {
            assertThat(loaded.names()).containsExactly("base", "web", "hello");
            assertThat(loaded.staticFolders()).containsKey("web");
        }
    }

    @Test
    void twoSetsSharingAnAddonShareItsCodeAndEachHasOnlyItsOwnRoutes() {
        AddonLoader catalog = AddonLoader.discover(List.of());
        LoadedAddons serverWide = catalog.load(List.of("base", "web"));
        LoadedAddons withHello = catalog.load(List.of("hello"));

        assertThat(withHello.names()).containsExactly("base", "hello");
        assertThat(withHello.get("base").orElseThrow().classLoader())
                .isSameAs(serverWide.get("base").orElseThrow().classLoader());
        assertThat(withHello.routes()).extracting(RouteSpec::path).contains("/hello").doesNotContain("/web");
        assertThat(serverWide.routes()).extracting(RouteSpec::path).doesNotContain("/hello");
        assertThat(catalog.available()).containsKeys("base", "web", "hello");
    }

    @Test
    void anAddonCannotLoadJettyOrJacksonButSharesTheApi() throws Exception {
        try (LoadedAddons loaded = AddonLoader.loadServerWide(List.of(), List.of("hello"))) {
            ClassLoader hello = loaded.get("hello").orElseThrow().classLoader();
            assertThatThrownBy(() -> hello.loadClass("org.eclipse.jetty.server.Server")).isInstanceOf(ClassNotFoundException.class);
            assertThatThrownBy(() -> hello.loadClass("tools.jackson.databind.ObjectMapper")).isInstanceOf(ClassNotFoundException.class);
            assertThatThrownBy(() -> hello.loadClass("dev.kiln.addons.AddonLoader")).isInstanceOf(ClassNotFoundException.class);
            assertThat(hello.loadClass("dev.kiln.api.Addon")).isSameAs(Addon.class);
            assertThat(hello.loadClass("org.slf4j.Logger")).isSameAs(Logger.class);
            assertThat(hello.loadClass("java.sql.Connection")).isNotNull();
        }
    }

    @Test
    void anAddonSeesTheClassesOfItsDependenciesOnly() {
        addon(root, "lib", manifest(null), Map.of("lib.Shared", "package lib; public class Shared { public static String hi() { return \"hi\"; } }"));
        addon(root, "user", manifest("user.Entry", "lib"), Map.of("user.Entry", """
                package user;
                import dev.kiln.api.*;
                public final class Entry implements Addon {
                    public void register(AddonContext context) { context.routes(this); }
                    @Route(value = "/user", auth = Route.Auth.NONE)
                    public Response get(Request request) throws Exception {
                        return Response.text((String) Class.forName("lib.Shared").getMethod("hi").invoke(null));
                    }
                }
                """));
        addon(root, "stranger", manifest(null), Map.of("stranger.Thing", "package stranger; public class Thing {}"));
        try (LoadedAddons loaded = AddonLoader.loadServerWide(List.of(root), List.of("user", "stranger"))) {
            ClassLoader user = loaded.get("user").orElseThrow().classLoader();
            assertThat(user.loadClass("lib.Shared").getClassLoader()).isSameAs(loaded.get("lib").orElseThrow().classLoader());
            assertThatThrownBy(() -> user.loadClass("stranger.Thing")).isInstanceOf(ClassNotFoundException.class);
        } catch (ClassNotFoundException e) {
            throw new AssertionError(e);
        }
    }
}
