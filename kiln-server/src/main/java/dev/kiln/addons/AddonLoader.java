package dev.kiln.addons;

import dev.kiln.api.Addon;
import dev.kiln.api.ModelSpec;
import dev.kiln.failure.KilnException;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads addons as Odoo's {@code load_server_wide_modules()} does: discover them on the addons path,
 * order them by dependency, give each its class loader (compiling a source addon first, see
 * {@link AddonCompiler}), instantiate its entry class and let it register. Any failure stops here
 * with a {@link KilnException} (exit 1) whose message names the addon(s) and the file to fix, and
 * leaves nothing of the failing addon loaded: it is recorded only once registered, so a later load
 * (a reload after a fix) starts from the code that last loaded whole.
 */
public final class AddonLoader {

    private static final Logger LOG = LoggerFactory.getLogger(AddonLoader.class);

    /** One addon as loaded once per process: its class loader, entry instance and routes. */
    private record Loaded(LoadedAddon addon, List<RouteSpec> routes) { }

    private final Map<String, Manifest> available;
    private final AddonCompiler compiler;
    /** Guarded by {@code this}: each addon's code is loaded and registered at most once per process. */
    private final Map<String, Loaded> loaded = new HashMap<>();
    /** Guarded by {@code this}: the code identity of loaded addons that a source addon depends on. */
    private final Map<String, String> identities = new HashMap<>();

    private AddonLoader(Map<String, Manifest> available, Path dataDir) {
        this.available = Map.copyOf(available);
        this.compiler = new AddonCompiler(dataDir);
    }

    /**
     * Discovers every addon on {@code addonsPath} (the bundled folder appended) without loading any;
     * source addons are compiled into {@code <dataDir>/addons-cache}.
     */
    public static AddonLoader discover(List<Path> addonsPath, Path dataDir) {
        return new AddonLoader(AddonsPath.discover(addonsPath), dataDir);
    }

    /** As {@link #discover(List, Path)} without a data dir: source addons are compiled into a private temporary folder. */
    public static AddonLoader discover(List<Path> addonsPath) {
        return discover(addonsPath, null);
    }

    /**
     * Loads {@code names} (the {@code --load} list) and their dependencies.
     *
     * @param addonsPath the configured folders; the bundled folder is appended
     */
    public static LoadedAddons loadServerWide(List<Path> addonsPath, List<String> names) {
        return loadServerWide(addonsPath, null, names);
    }

    /** As {@link #loadServerWide(List, List)}, compiling source addons into {@code <dataDir>/addons-cache}. */
    public static LoadedAddons loadServerWide(List<Path> addonsPath, Path dataDir, List<String> names) {
        LoadedAddons addons = discover(addonsPath, dataDir).load(names);
        LOG.info("{} addons loaded: {}", addons.addons().size(), String.join(", ", addons.names()));
        return addons;
    }

    /**
     * What an autoreload checks before it replaces the running code, as a start would: the addons
     * path is read again (every manifest valid, no name twice), then {@code serverWide} and the
     * {@code changed} addons still on the path are loaded with their dependencies, in class loaders
     * of their own (entry class found, constructed, {@code register} passed, no route claimed twice,
     * no service offered twice), and dropped: none of their routes or cron jobs runs here. Source
     * addons are compiled into the cache under {@code dataDir} as a start would, so a compile error
     * fails the check and a successful compile is not repeated by the restarted code.
     *
     * @throws KilnException the one line a start would fail with, naming the addon and the file
     */
    public static void check(List<Path> addonsPath, Path dataDir, List<String> serverWide, Set<String> changed) {
        Map<String, Manifest> available = AddonsPath.discover(addonsPath);
        Set<String> names = new LinkedHashSet<>(serverWide);
        changed.stream().filter(available::containsKey).forEach(names::add);
        AddonLoader trial = new AddonLoader(available, dataDir);
        try (LoadedAddons ignored = trial.load(List.copyOf(names))) {
            // loaded and registered: what a start checks of the addons themselves
        } finally {
            trial.closeLoaders();
        }
    }

    /** Closes every class loader this loader made, including those of a load that failed half way. */
    private synchronized void closeLoaders() {
        for (Loaded one : loaded.values()) {
            try {
                ((AddonClassLoader) one.addon().classLoader()).close();
            } catch (IOException ignored) {
                // a jar that cannot be closed is released by the JVM at exit
            }
        }
    }

    /** Every addon found on the addons path, by name. */
    public Map<String, Manifest> available() {
        return available;
    }

    /**
     * The addons {@code names} and their dependencies, in dependency order, as one set whose routes
     * do not collide. Code already loaded for another set (the server-wide addons, another
     * database's registry) is shared, not loaded again.
     */
    public synchronized LoadedAddons load(List<String> names) {
        List<Manifest> ordered = DependencyGraph.order(available, names);
        List<LoadedAddon> addons = new ArrayList<>();
        List<RouteSpec> routes = new ArrayList<>();
        Map<String, Path> statics = new LinkedHashMap<>();
        for (Manifest manifest : ordered) {
            Loaded one = loaded.get(manifest.name());
            if (one == null) {
                one = loadOne(manifest);
                loaded.put(manifest.name(), one);
            }
            for (RouteSpec route : one.routes()) {
                checkUnclaimed(route, routes, available);
                routes.add(route);
            }
            one.addon().staticFolder().ifPresent(folder -> statics.put(manifest.name(), folder));
            addons.add(one.addon());
        }
        return new LoadedAddons(addons, routes, statics);
    }

    private Loaded loadOne(Manifest manifest) {
        List<String> dependencies = dependencies(manifest);
        List<AddonClassLoader> dependencyLoaders = dependencies.stream()
                .map(name -> (AddonClassLoader) loaded.get(name).addon().classLoader()).toList();
        URL[] code = AddonCompiler.isSourceAddon(manifest)
                ? compiledCode(manifest, dependencies, dependencyLoaders)
                : AddonClassLoader.jarsOf(manifest.directory(), manifest.name());
        AddonClassLoader loader = new AddonClassLoader(manifest.name(), code, AddonLoader.class.getClassLoader(),
                dependencyLoaders);
        try {
            return registered(manifest, loader);
        } catch (RuntimeException | LinkageError e) {
            close(loader);
            throw e;
        }
    }

    /** The folder a source addon's classes are compiled into (from the cache when unchanged), then its lib/ jars. */
    private URL[] compiledCode(Manifest manifest, List<String> dependencies, List<AddonClassLoader> dependencyLoaders) {
        Path jar = manifest.directory().resolve(manifest.name() + ".jar");
        if (Files.exists(jar)) {
            throw KilnException.failure("addon '" + manifest.name() + "' holds both " + jar + " and sources in "
                    + manifest.directory().resolve(AddonCompiler.SOURCE_FOLDER) + ": remove one (" + manifest.file() + ")");
        }
        List<Path> dependencyCode = new ArrayList<>();
        List<AddonCompiler.Dependency> identified = new ArrayList<>();
        for (int i = 0; i < dependencies.size(); i++) {
            List<Path> paths = dependencyLoaders.get(i).codePaths();
            dependencyCode.addAll(paths);
            String identity = identities.computeIfAbsent(dependencies.get(i), name -> AddonCompiler.identityOf(paths));
            identified.add(new AddonCompiler.Dependency(dependencies.get(i), identity));
        }
        List<Path> libJars = AddonClassLoader.libJarsOf(manifest.directory());
        AddonCompiler.Compiled compiled = compiler.compile(manifest, dependencyCode, identified, libJars);
        identities.put(manifest.name(), compiled.hash());
        List<Path> code = new ArrayList<>();
        code.add(compiled.classes());
        code.addAll(libJars);
        return AddonClassLoader.urls(code);
    }

    private static Loaded registered(Manifest manifest, AddonClassLoader loader) {
        Addon instance = null;
        List<RouteSpec> routes = List.of();
        List<CronSpec> crons = List.of();
        List<ModelSpec> models = List.of();
        if (manifest.entry() != null) {
            instance = instantiate(manifest, loader);
            AddonRegistrar registrar = new AddonRegistrar(manifest);
            register(manifest, instance, registrar, loader);
            routes = List.copyOf(registrar.routes());
            crons = List.copyOf(registrar.crons());
            models = List.copyOf(registrar.models());
        }
        LOG.debug("loaded addon {} {} from {}", manifest.name(), manifest.version(), manifest.directory());
        return new Loaded(new LoadedAddon(manifest, loader, instance, manifest.staticFolder(), crons, models),
                routes);
    }

    /** Every addon {@code manifest} depends on, transitively, nearest first; each already loaded. */
    private List<String> dependencies(Manifest manifest) {
        Set<String> seen = new LinkedHashSet<>();
        List<String> queue = new ArrayList<>(manifest.depends());
        while (!queue.isEmpty()) {
            String name = queue.removeFirst();
            if (seen.add(name) && available.containsKey(name)) {
                queue.addAll(available.get(name).depends());
            }
        }
        for (String name : seen) {
            if (loaded.get(name) == null) {
                throw KilnException.failure("addon '" + manifest.name() + "' depends on '" + name
                        + "', which was not loaded before it (" + manifest.file() + ")");
            }
        }
        return List.copyOf(seen);
    }

    private static void close(AddonClassLoader loader) {
        try {
            loader.close();
        } catch (IOException ignored) {
            // a jar that cannot be closed is released by the JVM at exit
        }
    }

    private static Addon instantiate(Manifest manifest, ClassLoader loader) {
        Class<?> type;
        try {
            type = Class.forName(manifest.entry(), false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            Path code = AddonCompiler.isSourceAddon(manifest)
                    ? manifest.directory().resolve(AddonCompiler.SOURCE_FOLDER)
                    : manifest.directory().resolve(manifest.name() + ".jar");
            throw KilnException.failure("addon '" + manifest.name() + "': entry class " + manifest.entry()
                    + " not found in " + code + " or its lib/ (" + manifest.file() + ")");
        }
        if (!Addon.class.isAssignableFrom(type)) {
            throw KilnException.failure("addon '" + manifest.name() + "': entry class " + manifest.entry()
                    + " does not implement dev.kiln.api.Addon (" + manifest.file() + ")");
        }
        try {
            return (Addon) type.getDeclaredConstructor().newInstance();
        } catch (InvocationTargetException e) {
            throw failed(manifest, "constructor of " + manifest.entry() + " failed", e.getCause());
        } catch (ReflectiveOperationException | LinkageError e) {
            throw failed(manifest, "entry class " + manifest.entry() + " needs a public no-argument constructor", e);
        }
    }

    private static void register(Manifest manifest, Addon instance, AddonRegistrar registrar, ClassLoader loader) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(loader);
        try {
            instance.register(registrar);
        } catch (KilnException e) {
            throw e;
        } catch (RuntimeException | LinkageError e) {
            throw failed(manifest, manifest.entry() + ".register failed", e);
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    private static void checkUnclaimed(RouteSpec route, List<RouteSpec> routes, Map<String, Manifest> byName) {
        for (RouteSpec other : routes) {
            if (other.overlaps(route)) {
                String who = other.addon().equals(route.addon())
                        ? "addon '" + route.addon() + "' claims " + route.path() + " twice (" + other.where() + " and " + route.where() + ")"
                        : "addons '" + other.addon() + "' and '" + route.addon() + "' both claim " + route.path()
                          + " [" + other.methodsText() + " / " + route.methodsText() + "]";
                throw KilnException.failure(who + " (" + byName.get(other.addon()).file()
                        + (other.addon().equals(route.addon()) ? "" : ", " + byName.get(route.addon()).file()) + ")");
            }
        }
    }

    private static KilnException failed(Manifest manifest, String what, Throwable cause) {
        String reason = cause == null ? "" : ": " + cause.getClass().getName()
                + (cause.getMessage() == null ? "" : ": " + cause.getMessage().lines().findFirst().orElse(""));
        return new KilnException(KilnException.FAILURE, "addon '" + manifest.name() + "': " + what + reason
                + " (" + manifest.file() + ")", cause);
    }
}
