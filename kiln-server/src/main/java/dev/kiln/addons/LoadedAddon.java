package dev.kiln.addons;

import dev.kiln.api.Addon;
import dev.kiln.api.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * An addon once loaded: its manifest, its class loader (null for an addon without code), its entry
 * instance (null likewise), its {@code static/} folder when it has one, the cron jobs it declares
 * the services it offers to the external API and the models it declares or extends.
 */
public record LoadedAddon(Manifest manifest, ClassLoader classLoader, Addon instance, Optional<Path> staticFolder,
                          List<CronSpec> crons, List<ServiceSpec> services, List<ModelSpec> models) {

    public LoadedAddon {
        crons = List.copyOf(crons);
        services = List.copyOf(services);
        models = List.copyOf(models);
    }

    public String name() {
        return manifest.name();
    }
}
