package dev.kiln.addons;

import dev.kiln.api.Addon;
import dev.kiln.api.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * An addon once loaded: its manifest, its class loader (null for an addon without code), its entry
 * instance (null likewise), its {@code static/} folder when it has one, the cron jobs it declares
 * and the models it declares or extends (a service is an abstract model).
 */
public record LoadedAddon(Manifest manifest, ClassLoader classLoader, Addon instance, Optional<Path> staticFolder,
                          List<CronSpec> crons, List<ModelSpec> models) {

    public LoadedAddon {
        crons = List.copyOf(crons);
        models = List.copyOf(models);
    }

    public String name() {
        return manifest.name();
    }
}
