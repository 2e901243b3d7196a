package dev.kiln.addons;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.failure.KilnException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The watcher on a real folder with real inotify events; the check and the reload are recorded. */
class AddonWatcherTest {

    @TempDir
    Path root;
    private final List<Set<String>> checked = new CopyOnWriteArrayList<>();
    private final AtomicInteger reloads = new AtomicInteger();
    private final AtomicBoolean broken = new AtomicBoolean();
    private AddonWatcher watcher;

    @BeforeEach
    void watchAnAddonsFolderWithOneAddon() throws Exception {
        Files.createDirectories(root.resolve("shop/static/css"));
        Files.writeString(root.resolve("shop/manifest.json"), "{}");
        watcher = AddonWatcher.start(List.of(root), changed -> {
            checked.add(changed);
            if (broken.get()) {
                throw KilnException.failure("addon 'shop': broken");
            }
        }, "threaded", reloads::incrementAndGet);
        assertThat(watcher).isNotNull();
    }

    @AfterEach
    void close() {
        watcher.close();
    }

    @Test
    void aBurstOfSavesIsOneReload() throws Exception {
        for (int i = 0; i < 5; i++) {
            Files.writeString(root.resolve("shop/Shop" + i + ".java"), "class Shop" + i + " { }");
        }
        Files.writeString(root.resolve("shop/manifest.json"), "{\"version\": \"2.0\"}");

        await().atMost(Duration.ofSeconds(10)).until(() -> reloads.get() == 1);
        assertThat(checked).containsExactly(Set.of("shop"));
    }

    @Test
    void aResourceUnderSrcIsCompiledInSoItsChangeReloads() throws Exception {
        Files.createDirectories(root.resolve("shop/src/shop/templates"));
        await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5)).until(() -> reloads.get() == 0);
        Files.writeString(root.resolve("shop/src/shop/templates/page.html"), "<p>new</p>");

        await().atMost(Duration.ofSeconds(10)).until(() -> reloads.get() == 1);
        assertThat(checked).containsExactly(Set.of("shop"));
    }

    @Test
    void aNewAddonFolderWithItsLibIsSeenWithTheFilesWrittenBeforeItsWatch() throws Exception {
        Files.createDirectories(root.resolve("stock/lib"));
        Files.writeString(root.resolve("stock/lib/util.jar"), "not really a jar");
        Files.createDirectories(root.resolve("stock/migrations"));
        Files.writeString(root.resolve("stock/migrations/V1__init.sql"), "CREATE TABLE t (id int)");
        Files.writeString(root.resolve("stock/manifest.json"), "{}");

        await().atMost(Duration.ofSeconds(10)).until(() -> reloads.get() == 1);
        assertThat(checked).containsExactly(Set.of("stock"));
    }

    @Test
    void staticFilesEditorFilesAndOtherFilesReloadNothing() throws Exception {
        Files.writeString(root.resolve("shop/static/css/shop.css"), "body { }");
        Files.writeString(root.resolve("shop/static/Shop.java"), "class Shop { }");
        Files.writeString(root.resolve("shop/.#Shop.java"), "lock");
        Files.writeString(root.resolve("shop/Shop.java~"), "backup");
        Files.writeString(root.resolve("shop/.Shop.java.swp"), "swap");
        Files.writeString(root.resolve("shop/4913"), "probe");
        Files.writeString(root.resolve("shop/README.md"), "notes");
        Files.writeString(root.resolve("shop/other.jar"), "not the addon's jar");
        Files.createDirectories(root.resolve("shop/lib/nested"));
        Files.writeString(root.resolve("shop/lib/nested/deep.jar"), "not on the class path");

        Thread.sleep(3 * AddonWatcher.QUIET.toMillis());   // any reload for the files above would come now
        Files.writeString(root.resolve("shop/shop.jar"), "the addon's jar");

        await().atMost(Duration.ofSeconds(10)).until(() -> reloads.get() == 1);
        assertThat(checked).hasSize(1);
    }

    @Test
    void aFailedCheckReloadsNothingAndTheNextChangeTriesAgain() throws Exception {
        broken.set(true);
        Files.writeString(root.resolve("shop/Shop.java"), "class Shop {");
        await().atMost(Duration.ofSeconds(10)).until(() -> checked.size() == 1);
        assertThat(reloads).hasValue(0);

        broken.set(false);
        Files.writeString(root.resolve("shop/Shop.java"), "class Shop { }");
        await().atMost(Duration.ofSeconds(10)).until(() -> reloads.get() == 1);
        assertThat(checked).hasSize(2);
    }
}
