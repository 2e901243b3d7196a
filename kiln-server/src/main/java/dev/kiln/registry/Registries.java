package dev.kiln.registry;

import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.api.ModelSpec;
import dev.kiln.auth.Credentials;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Notifications;
import dev.kiln.failure.KilnException;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.models.CustomModels;
import dev.kiln.models.Models;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One {@link Registry} per database, as Odoo's {@code Registry} registry: built on first use,
 * rebuilt when another process (or this one) changed the database's addons — noticed through the
 * signaling sequence, read on the request's own connection before the request runs whenever a change
 * may have happened unheard (see {@link RegistrySignals}).
 */
public final class Registries {

    private static final Logger LOG = LoggerFactory.getLogger(Registries.class);

    private final AddonLoader catalog;
    private final List<String> serverWide;
    private final ConnectionPools pools;
    private final AddonInstaller installer;
    private final Map<String, Registry> registries = new ConcurrentHashMap<>();
    private final AtomicInteger loading = new AtomicInteger();
    /** Databases whose cached registry must be checked against the sequence before it is used. */
    private final Set<String> unverified = ConcurrentHashMap.newKeySet();
    private final RegistrySignals signals;
    /** The external API's credential checks that succeeded: Odoo's cache of {@code _check_uid_passwd}. */
    private final Credentials credentials;
    /** The signal of a change to a user's credentials, with the database's name: see {@link #credentialsChanged}. */
    public static final String CREDENTIALS_CHANNEL = "kiln_credentials";

    /**
     * @param notifications the process's listener, which this subscribes to (a listener never
     *                      started, as a command-line tool's, makes every request read the sequence)
     */
    public Registries(AddonLoader catalog, List<String> serverWide, ConnectionPools pools, Notifications notifications) {
        this.catalog = catalog;
        this.serverWide = List.copyOf(serverWide);
        this.pools = pools;
        this.installer = new AddonInstaller(catalog, pools);
        this.credentials = new Credentials(notifications::listening);
        this.signals = new RegistrySignals(notifications, db -> {
            unverified.add(db);
            credentials.forget(db);
        }, () -> {
            unverified.addAll(registries.keySet());
            credentials.forgetAll();
        });
        notifications.subscribe(CREDENTIALS_CHANNEL, new Notifications.Subscriber() {
            @Override
            public void notified(List<String> databases) {
                databases.forEach(credentials::forget);
            }

            @Override
            public void catchUp() {
                credentials.forgetAll();
            }
        });
    }

    /** Every addon's static folder, whether installed anywhere or not (Odoo serves them all). */
    public Map<String, Path> staticFolders() {
        Map<String, Path> folders = new TreeMap<>();
        catalog.available().forEach((name, manifest) -> manifest.staticFolder().ifPresent(folder -> folders.put(name, folder)));
        return folders;
    }

    /** Creates Kiln's tables in {@code db} once per process (a database made outside Kiln has none). */
    public void prepare(String db) {
        installer.prepare(db);
    }

    public AddonInstaller installer() {
        return installer;
    }

    /**
     * The registry of {@code db} as of {@code connection}'s view of the signaling sequence: the cached
     * one when nothing changed, a new one otherwise.
     */
    public Registry get(String db, Connection connection) throws SQLException {
        Registry known = registries.get(db);
        if (known != null && signals.listening() && !unverified.contains(db)) {
            return known;
        }
        unverified.remove(db);      // before the read: a change heard from now on marks it again
        long sequence = sequence(connection);
        Registry current = registries.get(db);
        if (current != null && current.sequence() == sequence) {
            return current;
        }
        return registries.compute(db, (name, cached) ->
                cached != null && cached.sequence() == sequence ? cached : build(name, sequence, connection));
    }

    /**
     * The registry of {@code db} as this process last knew it, without asking the database whether
     * it is still current: enough to tell where a request's route will run.
     */
    public java.util.Optional<Registry> known(String db) {
        return java.util.Optional.ofNullable(registries.get(db));
    }

    /** Builds the registry of {@code db} now (Odoo's preload). */
    public Registry load(String db) {
        prepare(db);
        try (Connection connection = pools.connection(db)) {
            return get(db, connection);
        } catch (SQLException e) {
            throw KilnException.failure(db + ": cannot load the registry: " + e.getMessage());
        }
    }

    /**
     * Builds the registry of {@code db} again from the addons installed now, whatever the sequence
     * says: for a reader that found an installed addon missing (its installation committed, the
     * sequence not moved yet).
     */
    public Registry reload(String db) {
        registries.remove(db);
        return load(db);
    }

    /** The credential checks that succeeded in this process, forgotten when a user or key of their database changes. */
    public Credentials credentials() {
        return credentials;
    }

    /**
     * A user's credentials in {@code db} changed (a key revoked) and the change committed: this
     * process forgets the checks it remembered there, and every other hears it ({@link Credentials}).
     */
    public void credentialsChanged(String db) {
        credentials.forget(db);
        signalCredentials(pools, db);
    }

    /** Tells every Kiln process that a user's credentials in {@code db} changed; a failure is logged. */
    public static void signalCredentials(ConnectionPools pools, String db) {
        try {
            pools.notifyServer(CREDENTIALS_CHANNEL, db);
        } catch (SQLException e) {
            LOG.warn("{}: the other processes were not told of a credentials change ({}); they see it within {} s",
                    db, e.getMessage(), Credentials.KEPT_FOR.toSeconds());
        }
    }

    /**
     * {@code db}'s models changed in a transaction that committed: the next request there reads the
     * sequence and builds the registry again, whether or not the notification came back yet.
     */
    void changed(String db) {
        unverified.add(db);
    }

    /**
     * The registry of {@code db} as of the sequence on {@code connection}, read now: for a caller
     * that found its registry lacking something another process may have just added.
     */
    public Registry current(String db, Connection connection) throws SQLException {
        unverified.add(db);
        return get(db, connection);
    }

    /** Forgets {@code db} (dropped or renamed). */
    public void evict(String db) {
        credentials.forget(db);
        registries.remove(db);
        unverified.remove(db);
        installer.forget(db);
    }

    /** Registries being built now: the readiness probe is not ready while one is. */
    public int loading() {
        return loading.get();
    }

    /** Builds on the caller's {@code connection}: see {@link AddonInstaller#installedNames(String, Connection)}. */
    private Registry build(String db, long sequence, Connection connection) {
        loading.incrementAndGet();
        try {
            return buildNow(db, sequence, connection);
        } finally {
            loading.decrementAndGet();
        }
    }

    private Registry buildNow(String db, long sequence, Connection connection) {
        Set<String> names = new LinkedHashSet<>(serverWide);
        try {
            names.addAll(installer.installedNames(db, connection));
        } catch (SQLException e) {
            throw new KilnException(KilnException.FAILURE, db + ": cannot read the installed addons: " + e.getMessage(), e);
        }
        LoadedAddons addons = catalog.load(new ArrayList<>(names));
        installer.warnOfPendingMigrations(db, connection, addons);
        List<ModelSpec> custom;
        try {
            custom = CustomModels.read(connection);
        } catch (SQLException e) {
            throw new KilnException(KilnException.FAILURE, db + ": cannot read the custom models: " + e.getMessage(), e);
        }
        Registry registry = new Registry(db, addons, sequence, addons.crons(), Models.of(addons.addons(), custom));
        LOG.info("{}: registry loaded with {} addons: {}{}", db, addons.addons().size(), String.join(", ", addons.names()),
                custom.isEmpty() ? "" : " and " + custom.size() + " custom models");
        KilnMetrics.registryLoaded(db);
        return registry;
    }

    private static long sequence(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("SELECT last_value FROM " + RegistrySchema.SIGNALING)) {
            row.next();
            return row.getLong(1);
        }
    }
}
