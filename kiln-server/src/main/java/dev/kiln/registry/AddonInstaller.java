package dev.kiln.registry;

import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.LoadedAddon;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.addons.Manifest;
import dev.kiln.api.InstallContext;
import dev.kiln.cron.store.CronSignals;
import dev.kiln.cron.store.CronStore;
import dev.kiln.db.ConnectionPools;
import dev.kiln.failure.KilnException;
import dev.kiln.models.ModelSchema;
import dev.kiln.models.Models;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Installs and updates addons in one database, as Odoo's {@code -i} and {@code -u}. Each addon is
 * installed in its own transaction — its pending migrations, its cron jobs, its install hook and its
 * new state together — so a failing script leaves the database as it was before that addon. Installations
 * in one database never overlap, even from several processes (an advisory lock). Once done, the
 * signaling sequence moves so every process rebuilds its registry before its next request.
 */
public final class AddonInstaller {

    private static final Logger LOG = LoggerFactory.getLogger(AddonInstaller.class);

    private final AddonLoader catalog;
    private final ConnectionPools pools;
    /** Databases whose Kiln tables this process has checked. */
    private final Set<String> prepared = ConcurrentHashMap.newKeySet();

    public AddonInstaller(AddonLoader catalog, ConnectionPools pools) {
        this.catalog = catalog;
        this.pools = pools;
    }

    /** Creates Kiln's tables in {@code db} if missing, once per process (a database made outside Kiln has none). */
    public void prepare(String db) {
        if (prepared.contains(db)) {
            return;
        }
        try (Connection connection = pools.connection(db)) {
            RegistrySchema.ensure(connection);
            connection.commit();
        } catch (SQLException e) {
            throw KilnException.failure(db + ": cannot prepare Kiln's tables: " + e.getMessage());
        }
        prepared.add(db);
    }

    /** Forgets that {@code db} was prepared (dropped, or about to be recreated). */
    void forget(String db) {
        prepared.remove(db);
    }

    /**
     * Installs {@code names} with their dependencies, then every {@code auto_install} addon whose
     * dependencies are all installed. Returns the addons newly installed, in order.
     */
    public List<String> install(String db, Collection<String> names) {
        prepare(db);
        Set<String> installed = new LinkedHashSet<>(installedNames(db));
        List<String> done = new ArrayList<>();
        List<String> wanted = new ArrayList<>(names);
        while (!wanted.isEmpty()) {
            LoadedAddons addons = catalog.load(wanted);
            for (LoadedAddon addon : addons.addons()) {
                if (!installed.contains(addon.name())) {
                    apply(db, addon, true, addons.addons());
                    installed.add(addon.name());
                    done.add(addon.name());
                }
            }
            wanted = autoInstallable(installed);
        }
        if (!done.isEmpty()) {
            signalChange(db);
            LOG.info("{}: installed {}", db, String.join(", ", done));
        }
        return done;
    }

    /** Applies the pending migrations of {@code names} (all installed addons for {@code all}). */
    public List<String> update(String db, Collection<String> names) {
        prepare(db);
        List<String> installed = installedNames(db);
        List<String> targets = names.contains("all") ? installed
                : names.stream().filter(installed::contains).toList();
        for (String name : names) {
            if (!name.equals("all") && !installed.contains(name)) {
                LOG.warn("{}: addon '{}' is not installed; -u skips it (use -i to install it)", db, name);
            }
        }
        List<String> done = new ArrayList<>();
        if (!targets.isEmpty()) {
            LoadedAddons loaded = catalog.load(installed);
            for (LoadedAddon addon : loaded.addons()) {
                if (targets.contains(addon.name())) {
                    apply(db, addon, false, loaded.addons());
                    done.add(addon.name());
                }
            }
            signalChange(db);
            LOG.info("{}: updated {}", db, String.join(", ", done));
        }
        return done;
    }

    /** The addons installed in {@code db}, those still on the addons path, in dependency order. */
    public List<String> installedNames(String db) {
        try (Connection connection = pools.connection(db)) {
            List<String> names = installedNames(db, connection);
            connection.commit();
            return names;
        } catch (SQLException e) {
            throw KilnException.failure(db + ": cannot read the installed addons: " + e.getMessage());
        }
    }

    /**
     * {@link #installedNames(String)} read on {@code connection}, the caller's: a request that finds
     * the registry to build builds it on the connection it holds, never waiting for a second one
     * (requests holding every connection while one of them waits for another would stall the pool).
     */
    public List<String> installedNames(String db, Connection connection) throws SQLException {
        List<String> names = new ArrayList<>();
        try (Statement statement = connection.createStatement()) {
            try (ResultSet prepared = statement.executeQuery("SELECT to_regclass('kiln_addon') IS NOT NULL")) {
                if (!prepared.next() || !prepared.getBoolean(1)) {
                    return names;            // a database Kiln has not prepared yet: nothing installed
                }
            }
            try (ResultSet rows = statement.executeQuery("SELECT name FROM kiln_addon WHERE state = 'installed' ORDER BY name")) {
                while (rows.next()) {
                    names.add(rows.getString(1));
                }
            }
        }
        List<String> missing = names.stream().filter(n -> !catalog.available().containsKey(n)).toList();
        if (!missing.isEmpty()) {
            LOG.warn("{}: installed addons not found on the addons path, skipped: {}", db, String.join(", ", missing));
            names.removeAll(missing);
        }
        return names;
    }

    private List<String> autoInstallable(Set<String> installed) {
        List<String> ready = new ArrayList<>();
        for (Manifest manifest : catalog.available().values()) {
            if (manifest.autoInstall() && !installed.contains(manifest.name())
                    && !manifest.depends().isEmpty() && installed.containsAll(manifest.depends())) {
                ready.add(manifest.name());
            }
        }
        return ready.stream().sorted().toList();
    }

    /** Installs or updates {@code addon}; {@code loaded} holds it and, before it, the addons its models may use. */
    private void apply(String db, LoadedAddon addon, boolean install, List<LoadedAddon> loaded) {
        List<Migration> scripts = Migration.of(addon.name(), addon.manifest().directory());
        try (Connection connection = pools.connection(db)) {
            try {
                lock(connection);
                if (install && isInstalled(connection, addon.name())) {
                    connection.rollback();     // another process installed it meanwhile
                    return;
                }
                int applied = migrate(connection, addon.name(), scripts);
                ModelSchema.apply(connection, Models.of(install ? loaded.subList(0, loaded.indexOf(addon) + 1) : loaded), addon);
                CronStore.declare(connection, addon.name(), addon.crons());
                if (install && addon.instance() != null) {
                    addon.instance().onInstall(context(db, connection));
                }
                if (install && withDemo(connection)) {
                    loadDemo(connection, addon);
                }
                markInstalled(connection, addon);
                connection.commit();
                LOG.info("{}: addon {} {} {} ({} migration{})", db, addon.name(), addon.manifest().version(),
                        install ? "installed" : "updated", applied, applied == 1 ? "" : "s");
            } catch (Exception e) {
                connection.rollback();
                throw e;
            }
        } catch (KilnException e) {
            throw e;
        } catch (Exception e) {
            throw new KilnException(KilnException.FAILURE, db + ": " + (install ? "installing" : "updating")
                    + " addon '" + addon.name() + "' failed, nothing of it was applied: " + oneLine(e), e);
        }
    }

    /**
     * Makes {@code connection}'s database one with demo data (Odoo's {@code --with-demo}): every
     * addon installed in it from now on loads its {@code demo/*.sql}, in name order, after its
     * migrations and tables, in its install's transaction.
     */
    public static void markWithDemo(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE IF NOT EXISTS kiln_demo (addon text PRIMARY KEY, loaded_at timestamptz NOT NULL DEFAULT now())");
        }
    }

    private static boolean withDemo(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("SELECT to_regclass('kiln_demo') IS NOT NULL")) {
            row.next();
            return row.getBoolean(1);
        }
    }

    private static void loadDemo(Connection connection, LoadedAddon addon) throws SQLException, java.io.IOException {
        java.nio.file.Path folder = addon.manifest().directory().resolve("demo");
        List<java.nio.file.Path> scripts = new ArrayList<>();
        if (java.nio.file.Files.isDirectory(folder)) {
            try (var files = java.nio.file.Files.list(folder)) {
                files.filter(f -> f.getFileName().toString().endsWith(".sql")).sorted().forEach(scripts::add);
            }
        }
        for (java.nio.file.Path script : scripts) {
            try (Statement statement = connection.createStatement()) {
                statement.execute(java.nio.file.Files.readString(script));
            } catch (SQLException e) {
                throw new SQLException("demo data " + script.getFileName() + ": " + e.getMessage(), e.getSQLState(), e);
            }
        }
        try (PreparedStatement record = connection.prepareStatement("INSERT INTO kiln_demo (addon) VALUES (?) ON CONFLICT DO NOTHING")) {
            record.setString(1, addon.name());
            record.executeUpdate();
        }
    }

    /**
     * Says (one WARN line per addon) which installed addons of {@code addons} have migrations this
     * database has not applied: code newer than the database, after an upgrade of Kiln or of an
     * addon, until {@code -u} applies them.
     */
    void warnOfPendingMigrations(String db, Connection connection, LoadedAddons addons) {
        try {
            Map<String, Set<String>> applied = new HashMap<>();
            try (Statement statement = connection.createStatement();
                 ResultSet rows = statement.executeQuery("SELECT addon, version FROM kiln_migration")) {
                while (rows.next()) {
                    applied.computeIfAbsent(rows.getString(1), a -> new java.util.HashSet<>()).add(rows.getString(2));
                }
            }
            for (LoadedAddon addon : addons.addons()) {
                Set<String> done = applied.get(addon.name());
                if (done == null) {
                    continue;              // server-wide, not installed here
                }
                List<String> pending = Migration.of(addon.name(), addon.manifest().directory()).stream()
                        .filter(m -> !done.contains(m.version())).map(m -> m.file().getFileName().toString()).toList();
                if (!pending.isEmpty()) {
                    LOG.warn("{}: addon {} has {} migration{} not applied ({}): run kiln -d {} -u {}", db, addon.name(),
                            pending.size(), pending.size() == 1 ? "" : "s", String.join(", ", pending), db, addon.name());
                }
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warn("{}: cannot compare the applied migrations with the addons' own: {}", db, e.getMessage());
        }
    }

    private static int migrate(Connection connection, String addon, List<Migration> scripts) throws SQLException {
        Map<String, String> applied = new HashMap<>();
        try (PreparedStatement query = connection.prepareStatement("SELECT version, checksum FROM kiln_migration WHERE addon = ?")) {
            query.setString(1, addon);
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) {
                    applied.put(rows.getString(1), rows.getString(2));
                }
            }
        }
        int count = 0;
        for (Migration script : scripts) {
            String checksum = applied.get(script.version());
            if (checksum != null) {
                if (!checksum.equals(script.checksum())) {
                    throw KilnException.failure("addon '" + addon + "': migration " + script.file()
                            + " changed after it was applied; add a new version instead of editing it");
                }
                continue;
            }
            try (Statement statement = connection.createStatement()) {
                statement.execute(script.sql());
            } catch (SQLException e) {
                throw new SQLException(script.file() + ": " + e.getMessage(), e.getSQLState(), e);
            }
            try (PreparedStatement record = connection.prepareStatement(
                    "INSERT INTO kiln_migration (addon, version, script, checksum) VALUES (?, ?, ?, ?)")) {
                record.setString(1, addon);
                record.setString(2, script.version());
                record.setString(3, script.file().getFileName().toString());
                record.setString(4, script.checksum());
                record.executeUpdate();
            }
            count++;
        }
        return count;
    }

    private static void lock(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("SELECT pg_advisory_xact_lock(" + RegistrySchema.Locks.INSTALL + ")");
        }
    }

    private static boolean isInstalled(Connection connection, String name) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement("SELECT 1 FROM kiln_addon WHERE name = ? AND state = 'installed'")) {
            query.setString(1, name);
            try (ResultSet rows = query.executeQuery()) {
                return rows.next();
            }
        }
    }

    private static void markInstalled(Connection connection, LoadedAddon addon) throws SQLException {
        try (PreparedStatement upsert = connection.prepareStatement("""
                INSERT INTO kiln_addon (name, state, version, installed_at, updated_at)
                VALUES (?, 'installed', ?, now(), now())
                ON CONFLICT (name) DO UPDATE SET state = 'installed', version = EXCLUDED.version,
                    installed_at = COALESCE(kiln_addon.installed_at, now()), updated_at = now()""")) {
            upsert.setString(1, addon.name());
            upsert.setString(2, addon.manifest().version());
            upsert.executeUpdate();
        }
    }

    /** Moves the sequence every process compares before serving a request to {@code db}. */
    private void signalChange(String db) {
        try (Connection connection = pools.connection(db); Statement statement = connection.createStatement()) {
            statement.execute("SELECT nextval('" + RegistrySchema.SIGNALING + "')");
            connection.commit();
        } catch (SQLException e) {
            throw KilnException.failure(db + ": cannot signal the registry change: " + e.getMessage());
        }
        RegistrySignals.notifyChange(pools, db);
        CronSignals.wake(pools, db);          // after the registries: a woken runner finds the jobs' code
    }

    private static InstallContext context(String db, Connection connection) {
        return new InstallContext() {
            @Override
            public String database() {
                return db;
            }

            @Override
            public Connection connection() {
                return connection;
            }
        };
    }

    private static String oneLine(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
        return message.lines().findFirst().orElse(message);
    }
}
