package dev.kiln.addons;

import dev.kiln.failure.KilnException;
import java.io.IOException;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The result of loading: addons in dependency order, their routes in registration order, and their
 * static folders by addon name. Immutable; the HTTP application is built from it.
 */
public record LoadedAddons(List<LoadedAddon> addons, List<RouteSpec> routes, Map<String, Path> staticFolders)
        implements AutoCloseable {

    public LoadedAddons {
        addons = List.copyOf(addons);
        routes = List.copyOf(routes);
        staticFolders = Collections.unmodifiableMap(new LinkedHashMap<>(staticFolders));
    }

    public List<String> names() {
        return addons.stream().map(LoadedAddon::name).toList();
    }

    /** The cron jobs of every addon, by full name ({@code <addon>.<name>}). */
    public Map<String, CronSpec> crons() {
        Map<String, CronSpec> crons = new LinkedHashMap<>();
        for (LoadedAddon addon : addons) {
            addon.crons().forEach(cron -> crons.put(cron.fullName(), cron));
        }
        return crons;
    }

    public Optional<LoadedAddon> get(String name) {
        return addons.stream().filter(a -> a.name().equals(name)).findFirst();
    }

    /** Closes the addons' class loaders (their jar files); the addons must not run any more. */
    @Override
    public void close() {
        for (LoadedAddon addon : addons) {
            if (addon.classLoader() instanceof URLClassLoader loader) {
                try {
                    loader.close();
                } catch (IOException ignored) {
                    // a jar that cannot be closed is released by the JVM at exit
                }
            }
        }
    }
}
