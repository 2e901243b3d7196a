package dev.kiln.addons;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --dev=reload}: watches the folders of the addons path (not the bundled one: it changes only
 * with Kiln itself, which a restart installs) and asks the server to reload when an addon's code
 * changed: a {@code .java} source, its {@code <name>.jar} or {@code lib/*.jar}, its
 * {@code manifest.json}, a {@code migrations/*.sql} script, or an addon folder came or went. Files
 * under {@code static/} are served from disk, so they are not even watched; editor droppings
 * ({@code *~}, {@code .#*}, {@code *.swp}, vim's {@code 4913}, dotfiles) are ignored.
 *
 * <p>One {@link WatchService} (inotify on Linux: events, not a scan of every file) has every folder
 * of every addon registered, and new folders as they appear. A burst of saves (a build writing a jar,
 * an IDE saving ten files) is one reload: the watcher waits for {@link #QUIET} without a change.
 * Then the {@link AddonCheck} decides: when the addons on disk would not load, it logs the one line
 * a start would fail with and the server serves on with the code it has; the next change tries
 * again. Otherwise it runs {@code reload}, once.
 *
 * <p>{@link #close} releases the inotify descriptor and its watches; the server closes the watcher
 * when it stops and before a re-exec, whose new image starts its own.
 */
public final class AddonWatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AddonWatcher.class);
    /** How long the addons must stay unchanged before a burst of changes counts as done. */
    static final Duration QUIET = Duration.ofMillis(100);
    /** A burst that never pauses (a build in a loop) still reloads once this long after it began. */
    private static final Duration LONGEST_BURST = Duration.ofSeconds(5);
    /** How many changed files the reload's log line names. */
    private static final int NAMED = 3;

    private final List<Path> roots;
    private final AddonCheck check;
    private final String mode;
    private final Runnable reload;
    private final WatchService service;
    /** The folder of each registration; only the watcher's thread touches it once started. */
    private final Map<WatchKey, Path> folders = new HashMap<>();
    private boolean warnedLimit;
    private Thread thread;

    private AddonWatcher(List<Path> roots, AddonCheck check, String mode, Runnable reload) throws IOException {
        this.roots = List.copyOf(roots);
        this.check = check;
        this.mode = mode;
        this.reload = reload;
        this.service = FileSystems.getDefault().newWatchService();
    }

    /**
     * Starts watching the folders of {@code addonsPath} other than the bundled one; null when none is
     * left to watch (said in the log).
     *
     * @param mode   the server mode, for the log ("threaded", "prefork")
     * @param reload asks the server to reload; called from the watcher's thread after the check passed
     */
    public static AddonWatcher start(List<Path> addonsPath, AddonCheck check, String mode, Runnable reload) {
        List<Path> roots = watched(addonsPath);
        if (roots.isEmpty()) {
            LOG.warn("--dev=reload: no folder to watch (the addons path holds only the bundled addons); see --addons-path");
            return null;
        }
        AddonWatcher watcher;
        try {
            watcher = new AddonWatcher(roots, check, mode, reload);
        } catch (IOException e) {
            LOG.error("--dev=reload: cannot watch the addons path ({}); addons will not be reloaded", e.toString());
            return null;
        }
        for (Path root : roots) {
            watcher.register(root, new LinkedHashSet<>());
        }
        watcher.thread = Thread.ofPlatform().daemon().name("kiln-addon-watcher").start(watcher::run);
        LOG.info("--dev=reload: watching {} for changed addons", String.join(", ", roots.stream().map(Path::toString).toList()));
        return watcher;
    }

    /**
     * When a watched folder holds a source addon, compiles a throwaway addon on a thread of its own,
     * so that the compile of the next change (the pre-flight, {@link AddonCheck}) finds the compiler
     * warm. Called once the server serves, not to compete with its start.
     */
    public void warmUpCompiler() {
        if (roots.stream().noneMatch(AddonWatcher::holdsSourceAddon)) {
            return;
        }
        Thread.ofPlatform().daemon().name("kiln-compiler-warm-up").start(() -> {
            long started = System.nanoTime();
            if (AddonCompiler.warmUp()) {
                LOG.debug("--dev=reload: the compiler is warm ({} ms)", (System.nanoTime() - started) / 1_000_000);
            }
        });
    }

    private static boolean holdsSourceAddon(Path root) {
        try (Stream<Path> addons = Files.list(root)) {
            return addons.anyMatch(addon -> Files.isDirectory(addon.resolve(AddonCompiler.SOURCE_FOLDER)));
        } catch (IOException e) {
            return false;
        }
    }

    /** The configured folders that exist, without the bundled one. */
    static List<Path> watched(List<Path> addonsPath) {
        List<Path> roots = new ArrayList<>(AddonsPath.folders(addonsPath));
        AddonsPath.bundled().ifPresent(bundled -> roots.removeIf(root -> sameFile(root, bundled)));
        roots.removeIf(root -> !Files.isDirectory(root));
        return roots;
    }

    @Override
    public void close() {
        try {
            service.close();
        } catch (IOException e) {
            LOG.warn("--dev=reload: closing the watch service: {}", e.toString());
        }
        if (thread != null && thread != Thread.currentThread()) {
            try {
                thread.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The watcher's loop: one burst of changes at a time, until closed; it logs and goes on after any failure. */
    private void run() {
        while (true) {
            try {
                Set<Path> changed = new LinkedHashSet<>();
                collect(service.take(), changed);
                if (changed.isEmpty()) {
                    continue;
                }
                long burstEnd = System.nanoTime() + LONGEST_BURST.toNanos();
                WatchKey next;
                while (System.nanoTime() < burstEnd && (next = service.poll(QUIET.toMillis(), TimeUnit.MILLISECONDS)) != null) {
                    collect(next, changed);
                }
                reloadFor(changed);
            } catch (ClosedWatchServiceException | InterruptedException e) {
                return;                       // closed: the server stops or re-execs
            } catch (RuntimeException e) {
                LOG.error("--dev=reload: the addon watcher failed ({}); going on", e.toString(), e);
            }
        }
    }

    private void reloadFor(Set<Path> changed) {
        Set<String> addons = new LinkedHashSet<>();
        List<String> named = new ArrayList<>();
        for (Path file : changed) {
            Path relative = relative(file);
            addons.add(relative.getName(0).toString());
            if (named.size() < NAMED) {
                named.add(relative.toString());
            }
        }
        String files = String.join(", ", named) + (changed.size() > NAMED ? " and " + (changed.size() - NAMED) + " more" : "");
        try {
            check.check(addons);
        } catch (RuntimeException | LinkageError e) {
            LOG.error("--dev=reload: not reloading after the change to {}: {}; the previous code serves on until the next change",
                    files, e.getMessage() == null ? e.toString() : e.getMessage());
            return;
        }
        LOG.info("--dev=reload: {} changed; reloading ({} mode)", files, mode);
        reload.run();
    }

    /** Adds to {@code changed} what the events of {@code key} say changed, and watches new folders. */
    private void collect(WatchKey key, Set<Path> changed) {
        Path folder = folders.get(key);
        for (WatchEvent<?> event : key.pollEvents()) {
            if (folder == null) {
                continue;
            }
            if (event.kind() == StandardWatchEventKinds.OVERFLOW) {
                changed.add(folder);          // events were lost: something changed in there
                continue;
            }
            Path path = folder.resolve((Path) event.context());
            if (ignored(path)) {
                continue;
            }
            boolean created = event.kind() == StandardWatchEventKinds.ENTRY_CREATE;
            boolean deleted = event.kind() == StandardWatchEventKinds.ENTRY_DELETE;
            int known = changed.size();
            if (created && Files.isDirectory(path) && !underStatic(path)) {
                register(path, changed);      // its files may have been written before the watch
            }
            if (counts(path) || ((created || deleted) && changed.size() == known && cameOrWent(path))) {
                changed.add(path);            // a new folder is named by its files when it has any
            }
        }
        if (!key.reset()) {
            folders.remove(key);              // the folder is gone
        }
    }

    /**
     * Registers {@code top} and every folder under it but {@code static/} and dotted ones; the files
     * found in a folder that just appeared are changes. A folder that vanished meanwhile is skipped.
     */
    private void register(Path top, Set<Path> changed) {
        boolean fresh = !roots.contains(top);
        try {
            Files.walkFileTree(top, EnumSet.of(FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attributes) {
                    if (!roots.contains(dir) && (ignored(dir) || underStatic(dir))) {
                        return FileVisitResult.SKIP_SUBTREE;
                    }
                    watch(dir);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                    if (fresh && !ignored(file) && counts(file)) {
                        changed.add(file);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            LOG.warn("--dev=reload: cannot watch {} ({})", top, e.toString());
        }
    }

    private void watch(Path dir) {
        try {
            folders.put(dir.register(service, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE,
                    StandardWatchEventKinds.ENTRY_MODIFY), dir);
        } catch (ClosedWatchServiceException e) {
            throw e;
        } catch (IOException e) {
            // the JDK's words for inotify's per-user limits (ENOSPC, EMFILE): say how to raise them,
            // once, and watch what can be watched; any other failure is a folder gone meanwhile
            if (String.valueOf(e.getMessage()).contains("inotify") && !warnedLimit) {
                warnedLimit = true;
                LOG.warn("--dev=reload: cannot watch {} ({}): changes there are not seen; raise fs.inotify.max_user_watches "
                        + "or fs.inotify.max_user_instances (sysctl)", dir, e.getMessage());
            } else {
                LOG.debug("--dev=reload: cannot watch {}: {}", dir, e.toString());
            }
        }
    }

    /**
     * Whether a change of {@code path} asks for a reload: a source anywhere in an addon (but
     * static/), any file under its src/ (resources go into its class path), the addon's manifest,
     * its jar, a jar of its lib/, an SQL script of its migrations/.
     */
    private boolean counts(Path path) {
        Path relative = relative(path);
        int depth = relative.getNameCount();
        if (depth < 2 || underStatic(path)) {
            return false;
        }
        String addon = relative.getName(0).toString();
        String name = relative.getFileName().toString();
        String folder = depth == 3 ? relative.getName(1).toString() : "";
        return name.endsWith(".java")
                || (depth > 2 && relative.getName(1).toString().equals("src") && !Files.isDirectory(path))   // a resource
                || (depth == 2 && (name.equals(Manifest.FILE_NAME) || name.equals(addon + ".jar")))
                || (folder.equals("lib") && name.endsWith(".jar"))
                || (folder.equals("migrations") && name.endsWith(".sql"));
    }

    /**
     * An addon folder that came or went, or a {@code static/} folder that appeared: the server
     * learns an addon's static folder when it loads the addon.
     */
    private boolean cameOrWent(Path path) {
        return switch (relative(path).getNameCount()) {
            case 1 -> Files.isDirectory(path) || folders.containsValue(path);
            case 2 -> path.getFileName().toString().equals("static") && Files.isDirectory(path);
            default -> false;
        };
    }

    /** Whether {@code path} is an addon's static/ folder or under it. */
    private boolean underStatic(Path path) {
        Path relative = relative(path);
        return relative.getNameCount() >= 2 && relative.getName(1).toString().equals("static");
    }

    /** Editor droppings and hidden files, anywhere below a watched folder. */
    private static boolean ignored(Path path) {
        String name = path.getFileName().toString();
        return name.startsWith(".") || name.endsWith("~") || name.endsWith(".swp") || name.endsWith(".swx")
                || name.equals("4913");
    }

    /** {@code path} from its addons path folder: {@code <addon>/...}. */
    private Path relative(Path path) {
        Path best = null;
        for (Path root : roots) {
            if (path.startsWith(root) && (best == null || root.getNameCount() > best.getNameCount())) {
                best = root;
            }
        }
        return best == null || best.equals(path) ? path.getFileName() : best.relativize(path);
    }

    private static boolean sameFile(Path a, Path b) {
        try {
            return a.equals(b) || Files.isSameFile(a, b);
        } catch (IOException e) {
            return false;
        }
    }
}
