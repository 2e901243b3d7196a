package dev.kiln.addons;

import dev.kiln.KilnException;
import dev.kiln.api.Addon;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
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
 * order them by dependency, give each its class loader, instantiate its entry class and let it
 * register. Any failure stops here with a {@link KilnException} (exit 1) whose one-line message names
 * the addon(s) and the file to fix.
 */
public final class AddonLoader {

    private static final Logger LOG = LoggerFactory.getLogger(AddonLoader.class);

    /** One addon as loaded once per process: its class loader, entry instance and routes. */
    private record Loaded(LoadedAddon addon, List<RouteSpec> routes) { }

    private final Map<String, Manifest> available;
    /** Guarded by {@code this}: each addon's code is loaded and registered at most once per process. */
    private final Map<String, Loaded> loaded = new HashMap<>();

    private AddonLoader(Map<String, Manifest> available) {
        this.available = Map.copyOf(available);
    }

    /** Discovers every addon on {@code addonsPath} (the bundled folder appended) without loading any. */
    public static AddonLoader discover(List<Path> addonsPath) {
        return new AddonLoader(AddonsPath.discover(addonsPath));
    }

    /**
     * Loads {@code names} (the {@code --load} list) and their dependencies.
     *
     * @param addonsPath the configured folders; the bundled folder is appended
     */
    public static LoadedAddons loadServerWide(List<Path> addonsPath, List<String> names) {
        LoadedAddons addons = discover(addonsPath).load(names);
        LOG.info("{} addons loaded: {}", addons.addons().size(), String.join(", ", addons.names()));
        return addons;
    }

    /**
     * What an autoreload checks before it replaces the running code, as a start would: the addons
     * path is read again (every manifest valid, no name twice), then {@code serverWide} and the
     * {@code changed} addons still on the path are loaded with their dependencies, in class loaders
     * of their own (entry class found, constructed, {@code register} passed, no route claimed twice,
     * no service offered twice), and dropped: none of their routes or cron jobs runs here.
     *
     * @throws KilnException the one line a start would fail with, naming the addon and the file
     */
    public static void check(List<Path> addonsPath, List<String> serverWide, Set<String> changed) {
        Map<String, Manifest> available = AddonsPath.discover(addonsPath);
        Set<String> names = new LinkedHashSet<>(serverWide);
        changed.stream().filter(available::containsKey).forEach(names::add);
        AddonLoader trial = new AddonLoader(available);
        try (LoadedAddons addons = trial.load(List.copyOf(names))) {
            addons.services();
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
        AddonClassLoader loader = new AddonClassLoader(manifest.name(),
                AddonClassLoader.jarsOf(manifest.directory(), manifest.name()), AddonLoader.class.getClassLoader(),
                dependencyLoaders(manifest));
        Addon instance = null;
        List<RouteSpec> routes = List.of();
        List<CronSpec> crons = List.of();
        List<ServiceSpec> services = List.of();
        if (manifest.entry() != null) {
            instance = instantiate(manifest, loader);
            AddonRegistrar registrar = new AddonRegistrar(manifest);
            register(manifest, instance, registrar, loader);
            routes = List.copyOf(registrar.routes());
            crons = List.copyOf(registrar.crons());
            services = List.copyOf(registrar.services());
        }
        LOG.debug("loaded addon {} {} from {}", manifest.name(), manifest.version(), manifest.directory());
        return new Loaded(new LoadedAddon(manifest, loader, instance, manifest.staticFolder(), crons, services), routes);
    }

    /** The loaders of every addon {@code manifest} depends on, transitively, nearest first. */
    private List<AddonClassLoader> dependencyLoaders(Manifest manifest) {
        Set<String> seen = new LinkedHashSet<>();
        List<String> queue = new ArrayList<>(manifest.depends());
        while (!queue.isEmpty()) {
            String name = queue.removeFirst();
            if (seen.add(name) && available.containsKey(name)) {
                queue.addAll(available.get(name).depends());
            }
        }
        List<AddonClassLoader> result = new ArrayList<>();
        for (String name : seen) {
            Loaded dependency = loaded.get(name);
            if (dependency == null) {
                throw KilnException.failure("addon '" + manifest.name() + "' depends on '" + name
                        + "', which was not loaded before it (" + manifest.file() + ")");
            }
            result.add((AddonClassLoader) dependency.addon().classLoader());
        }
        return result;
    }

    private static Addon instantiate(Manifest manifest, ClassLoader loader) {
        Class<?> type;
        try {
            type = Class.forName(manifest.entry(), false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            throw KilnException.failure("addon '" + manifest.name() + "': entry class " + manifest.entry()
                    + " not found in " + manifest.directory().resolve(manifest.name() + ".jar") + " or its lib/ ("
                    + manifest.file() + ")");
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
