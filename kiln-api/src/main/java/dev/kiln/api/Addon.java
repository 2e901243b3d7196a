package dev.kiln.api;

/**
 * The entry point of an addon: the class named by {@code "entry"} in its {@code manifest.json}.
 * Kiln instantiates it once per load (public no-argument constructor) and calls
 * {@link #register} before the addon serves anything; everything the addon offers is declared there.
 */
public interface Addon {

    void register(AddonContext context);

    /**
     * Runs when the addon is installed in a database, after its migrations and in the same
     * transaction: an exception rolls the whole installation of this addon back.
     */
    default void onInstall(InstallContext context) throws Exception {
    }
}
