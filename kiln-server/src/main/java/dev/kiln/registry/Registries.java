package dev.kiln.registry;

import dev.kiln.KilnException;
import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.LoadedAddons;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * One {@link Registry} per database, as Odoo's {@code Registry} registry: built on first use,
 * rebuilt when another process (or this one) changed the database's addons — noticed through the
 * signaling sequence, read on the request's own connection before the request runs.
 */
public final class Registries {

    private static final Logger LOG = LoggerFactory.getLogger(Registries.class);

    private final AddonLoader catalog;
    private final List<String> serverWide;
    private final Function<String, DataSource> databases;
    private final AddonInstaller installer;
    private final Map<String, Registry> registries = new ConcurrentHashMap<>();

    public Registries(AddonLoader catalog, List<String> serverWide, Function<String, DataSource> databases) {
        this.catalog = catalog;
        this.serverWide = List.copyOf(serverWide);
        this.databases = databases;
        this.installer = new AddonInstaller(catalog);
    }

    public AddonInstaller installer() {
        return installer;
    }

    /**
     * The registry of {@code db} as of {@code connection}'s view of the signaling sequence: the cached
     * one when nothing changed, a new one otherwise.
     */
    public Registry get(String db, Connection connection) throws SQLException {
        long sequence = sequence(connection);
        Registry current = registries.get(db);
        if (current != null && current.sequence() == sequence) {
            return current;
        }
        return registries.compute(db, (name, cached) ->
                cached != null && cached.sequence() == sequence ? cached : build(name, sequence));
    }

    /** Builds the registry of {@code db} now (Odoo's preload). */
    public Registry load(String db) {
        DataSource database = databases.apply(db);
        installer.prepare(database);
        try (Connection connection = database.getConnection()) {
            return get(db, connection);
        } catch (SQLException e) {
            throw KilnException.failure(db + ": cannot load the registry: " + e.getMessage());
        }
    }

    /** Forgets {@code db} (dropped or renamed). */
    public void evict(String db) {
        registries.remove(db);
    }

    private Registry build(String db, long sequence) {
        Set<String> names = new LinkedHashSet<>(serverWide);
        names.addAll(installer.installedNames(db, databases.apply(db)));
        LoadedAddons addons = catalog.load(new ArrayList<>(names));
        LOG.info("{}: registry loaded with {} addons: {}", db, addons.addons().size(), String.join(", ", addons.names()));
        return new Registry(db, addons, sequence);
    }

    private static long sequence(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("SELECT last_value FROM " + RegistrySchema.SIGNALING)) {
            row.next();
            return row.getLong(1);
        }
    }
}
