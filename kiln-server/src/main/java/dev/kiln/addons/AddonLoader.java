package dev.kiln.addons;

import dev.kiln.KilnException;
import dev.kiln.api.Addon;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

    private AddonLoader() { }

    /**
     * Loads {@code names} (the {@code --load} list) and their dependencies.
     *
     * @param addonsPath the configured folders; the bundled folder is appended
     */
    public static LoadedAddons loadServerWide(List<Path> addonsPath, List<String> names) {
        Map<String, Manifest> available = AddonsPath.discover(addonsPath);
        List<Manifest> ordered = DependencyGraph.order(available, names);
        return load(ordered);
    }

    /** Loads already ordered manifests (dependencies first). */
    public static LoadedAddons load(List<Manifest> ordered) {
        ClassLoader server = AddonLoader.class.getClassLoader();
        Map<String, AddonClassLoader> loaders = new HashMap<>();
        Map<String, Manifest> byName = new HashMap<>();
        List<LoadedAddon> loaded = new ArrayList<>();
        List<RouteSpec> routes = new ArrayList<>();
        Map<String, Path> statics = new LinkedHashMap<>();
        for (Manifest manifest : ordered) {
            byName.put(manifest.name(), manifest);
            AddonClassLoader loader = new AddonClassLoader(manifest.name(),
                    AddonClassLoader.jarsOf(manifest.directory(), manifest.name()), server,
                    dependencyLoaders(manifest, byName, loaders));
            loaders.put(manifest.name(), loader);
            Addon instance = null;
            if (manifest.entry() != null) {
                instance = instantiate(manifest, loader);
                AddonRegistrar registrar = new AddonRegistrar(manifest);
                register(manifest, instance, registrar, loader);
                for (RouteSpec route : registrar.routes()) {
                    checkUnclaimed(route, routes, byName);
                    routes.add(route);
                }
            }
            Path statik = manifest.directory().resolve("static");
            Optional<Path> staticFolder = Files.isDirectory(statik) ? Optional.of(statik) : Optional.empty();
            staticFolder.ifPresent(p -> statics.put(manifest.name(), p));
            loaded.add(new LoadedAddon(manifest, loader, instance, staticFolder));
            LOG.debug("loaded addon {} {} from {}", manifest.name(), manifest.version(), manifest.directory());
        }
        LOG.info("{} addons loaded: {}", loaded.size(), String.join(", ", loaded.stream().map(LoadedAddon::name).toList()));
        return new LoadedAddons(loaded, routes, statics);
    }

    /** The loaders of every addon {@code manifest} depends on, transitively, nearest first. */
    private static List<AddonClassLoader> dependencyLoaders(Manifest manifest, Map<String, Manifest> byName,
                                                            Map<String, AddonClassLoader> loaders) {
        Set<String> seen = new LinkedHashSet<>();
        List<String> queue = new ArrayList<>(manifest.depends());
        while (!queue.isEmpty()) {
            String name = queue.removeFirst();
            if (seen.add(name) && byName.containsKey(name)) {
                queue.addAll(byName.get(name).depends());
            }
        }
        List<AddonClassLoader> result = new ArrayList<>();
        for (String name : seen) {
            AddonClassLoader loader = loaders.get(name);
            if (loader == null) {
                throw KilnException.failure("addon '" + manifest.name() + "' depends on '" + name
                        + "', which was not loaded before it (" + manifest.file() + ")");
            }
            result.add(loader);
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
