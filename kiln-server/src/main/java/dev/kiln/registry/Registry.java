package dev.kiln.registry;

import dev.kiln.addons.LoadedAddons;

/**
 * What one database offers: the server-wide addons and the addons installed in it, in dependency
 * order, with their routes. Built once per change (see {@link Registries}) and shared by every
 * request of the process to that database.
 *
 * @param sequence the signaling sequence this registry was built at
 */
public record Registry(String database, LoadedAddons addons, long sequence) {
}
