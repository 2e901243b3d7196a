package dev.kiln.addons;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The pre-flight of an autoreload ({@code --dev=reload}): whether the addons now on disk would load,
 * asked before the running code is replaced, so that a half-made change does not take the server
 * down. It throws {@link dev.kiln.failure.KilnException} with the one line a failed start would print; the
 * server then serves on with the code it has.
 */
@FunctionalInterface
public interface AddonCheck {

    /** @param changed the addons whose files changed (names of addon folders; some may be gone) */
    void check(Set<String> changed);

    /**
     * The check a start would make: the addons path, the {@code --load} addons and the changed ones,
     * source addons compiled into the cache under {@code dataDir} (so the restarted code finds them
     * compiled already).
     */
    static AddonCheck of(List<Path> addonsPath, Path dataDir, List<String> serverWide) {
        return changed -> AddonLoader.check(addonsPath, dataDir, serverWide, changed);
    }
}
