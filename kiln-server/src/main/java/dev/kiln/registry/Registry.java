package dev.kiln.registry;

import dev.kiln.addons.CronSpec;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.models.Models;

import java.util.Map;
import java.util.Optional;

/**
 * What one database offers: the server-wide addons and the addons installed in it, in dependency
 * order, with their routes and the code of their cron jobs. Built once per change (see
 * {@link Registries}) and shared by every request and cron runner of the process on that database.
 *
 * @param sequence the signaling sequence this registry was built at
 * @param crons    the cron jobs' code by full name ({@code <addon>.<name>})
 * @param models   the models the addons declare, merged with their extensions, and the custom ones
 */
public record Registry(String database, LoadedAddons addons, long sequence, Map<String, CronSpec> crons, Models models) {

    public Registry {
        crons = Map.copyOf(crons);
    }

    public Optional<CronSpec> cron(String fullName) {
        return Optional.ofNullable(crons.get(fullName));
    }
}
