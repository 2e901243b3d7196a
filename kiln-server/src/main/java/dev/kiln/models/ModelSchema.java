package dev.kiln.models;

import dev.kiln.addons.LoadedAddon;
import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.failure.KilnException;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The tables of an addon's models, made or completed when it is installed or updated, in its
 * transaction and after its migrations: the table with {@code id} and the log columns, a column
 * per stored field (a many2one's referencing the comodel's table), a relation table per
 * many2many, the indexes asked for, and {@code NOT NULL} on required columns that hold no empty
 * value yet. A column of another kind than its field's type stops the install or update: Kiln does
 * not convert columns. Nothing is dropped: a column an addon no longer declares stays, unread, and a
 * field no longer required keeps its {@code NOT NULL} until a migration drops it. A custom model or
 * field an addon now declares becomes the addon's (state {@code base}): removing it over the API no
 * longer drops what the addon uses. Then the rows
 * of {@code ir_model} and {@code ir_model_fields} that describe the models are written again; the
 * rows of custom models and fields ({@link CustomModels}) are left as they are.
 */
public final class ModelSchema {

    private ModelSchema() { }

    /** Applies {@code addon}'s declarations; {@code models} are the database's with {@code addon} among them. */
    public static void apply(Connection connection, Models models, LoadedAddon addon) throws SQLException {
        if (addon.models().isEmpty()) {
            return;
        }
        for (ModelSpec spec : addon.models()) {
            Model model = models.require(spec.name());
            if (model.isAbstract()) {
                continue;                        // methods only: nothing to store
            }
            if (!spec.isExtension()) {
                execute(connection, "CREATE TABLE IF NOT EXISTS " + model.table() + " (id serial PRIMARY KEY)");
                for (String log : Model.LOG_FIELDS) {
                    column(connection, models, model.table(), model.fields().get(log));
                }
            }
            for (Field field : spec.fields().values()) {
                column(connection, models, model.table(), model.fields().get(field.name()));
            }
        }
        if (models.get("ir.model").isPresent() && models.get("ir.model.fields").isPresent()) {
            for (ModelSpec spec : addon.models()) {
                describe(connection, models.require(spec.name()), addon.name());
            }
        }
    }

    /**
     * The column of {@code field} on {@code table} (or its relation table), with its index and
     * {@code NOT NULL} as above. A comodel {@code models} does not have yet is a custom model made in
     * the same transaction, on the table its name makes.
     */
    static void column(Connection connection, Models models, String table, Field field) throws SQLException {
        if (field.type() == Field.Type.ONE2MANY) {
            return;                      // the comodel's many2one is the column
        }
        String comodelTable = field.comodel() == null ? null
                : models.get(field.comodel()).map(Model::table).orElse(field.comodel().replace('.', '_'));
        if (field.type() == Field.Type.MANY2MANY) {
            String[] columns = Models.relationColumns(table, field);
            execute(connection, "CREATE TABLE IF NOT EXISTS " + field.relationTable() + " (" + columns[0] + " integer NOT NULL"
                    + " REFERENCES " + table + "(id) ON DELETE CASCADE, " + columns[1] + " integer NOT NULL REFERENCES "
                    + comodelTable + "(id) ON DELETE CASCADE, PRIMARY KEY (" + columns[0] + ", " + columns[1] + "))");
            execute(connection, "CREATE INDEX IF NOT EXISTS " + field.relationTable() + "_" + columns[1] + "_idx ON "
                    + field.relationTable() + " (" + columns[1] + ")");
            return;
        }
        String type = switch (field.type()) {
            case INTEGER -> "integer";
            case FLOAT, MONETARY -> "double precision";
            case BOOLEAN -> "boolean";
            case DATE -> "date";
            case DATETIME -> "timestamp";
            case MANY2ONE -> "integer REFERENCES " + comodelTable + "(id) ON DELETE "
                    + (field.ondelete() == null ? "SET NULL" : field.ondelete().toUpperCase(java.util.Locale.ROOT));
            default -> "text";
        };
        execute(connection, "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + field.name() + " " + type);
        checkKind(connection, table, field);
        if (field.isIndexed() || field.type() == Field.Type.MANY2ONE && !Model.LOG_FIELDS.contains(field.name())) {
            execute(connection, "CREATE INDEX IF NOT EXISTS " + table + "_" + field.name() + "_idx ON " + table + " (" + field.name() + ")");
        }
        if (field.isRequired() && !has(connection, "SELECT 1 FROM " + table + " WHERE " + field.name() + " IS NULL LIMIT 1")) {
            execute(connection, "ALTER TABLE " + table + " ALTER COLUMN " + field.name() + " SET NOT NULL");
        }
    }

    /**
     * The column of {@code field} holds what the field's type does: a column of another kind (an
     * integer field on a text column, made so before the field changed type) stops the install or
     * update, naming the migration to write. Kiln does not convert a column itself. Types of one
     * kind pass: {@code varchar} for a char field, {@code bigint} for an integer, {@code numeric}
     * for a float, {@code timestamptz} for a datetime.
     */
    private static void checkKind(Connection connection, String table, Field field) throws SQLException {
        String found;
        try (PreparedStatement query = connection.prepareStatement("""
                SELECT t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = to_regclass(?) AND a.attname = ? AND NOT a.attisdropped""")) {
            query.setString(1, table);
            query.setString(2, field.name());
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) {
                    return;
                }
                found = row.getString(1);
            }
        }
        Set<String> kind = switch (field.type()) {
            case INTEGER, MANY2ONE -> Set.of("int2", "int4", "int8");
            case FLOAT, MONETARY -> Set.of("float4", "float8", "numeric");
            case BOOLEAN -> Set.of("bool");
            case DATE -> Set.of("date");
            case DATETIME -> Set.of("timestamp", "timestamptz");
            default -> Set.of("text", "varchar", "bpchar");
        };
        if (!kind.contains(found)) {
            throw KilnException.failure("field " + table + "." + field.name() + " is a " + field.type().odooName()
                    + " field but its column is of type " + found + ": convert it in a migration first (ALTER TABLE " + table
                    + " ALTER COLUMN " + field.name() + " TYPE ... USING ...)");
        }
    }

    /** {@code ir_model} and {@code ir_model_fields} rows of {@code model}, written again. */
    private static void describe(Connection connection, Model model, String addon) throws SQLException {
        long id;
        try (PreparedStatement upsert = connection.prepareStatement("""
                INSERT INTO ir_model (model, name, info, state, modules, create_date, write_date)
                VALUES (?, ?, ?, 'base', ?, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
                ON CONFLICT (model) DO UPDATE SET name = excluded.name, info = excluded.info, state = 'base',
                    modules = CASE WHEN ir_model.modules LIKE '%' || ? || '%' THEN ir_model.modules
                                   ELSE ir_model.modules || ', ' || ? END,
                    write_date = excluded.write_date
                RETURNING id""")) {
            upsert.setString(1, model.name());
            upsert.setString(2, model.description());
            upsert.setString(3, model.description());
            upsert.setString(4, model.addon());
            upsert.setString(5, addon);
            upsert.setString(6, addon);
            try (ResultSet row = upsert.executeQuery()) {
                row.next();
                id = row.getLong(1);
            }
        }
        List<String> names = new ArrayList<>();
        try (PreparedStatement upsert = connection.prepareStatement("""
                INSERT INTO ir_model_fields (model_id, model, name, field_description, help, ttype, relation, relation_field,
                    required, readonly, store, "index", state, create_date, write_date)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'base', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
                ON CONFLICT (model, name) DO UPDATE SET field_description = excluded.field_description, help = excluded.help,
                    ttype = excluded.ttype, relation = excluded.relation, relation_field = excluded.relation_field,
                    required = excluded.required, readonly = excluded.readonly, store = excluded.store,
                    "index" = excluded."index", state = 'base', write_date = excluded.write_date""")) {
            for (Field field : model.fields().values()) {
                if (field.type() == Field.Type.PASSWORD) {
                    continue;
                }
                names.add(field.name());
                upsert.setLong(1, id);
                upsert.setString(2, model.name());
                upsert.setString(3, field.name());
                upsert.setString(4, field.string());
                upsert.setString(5, field.help());
                upsert.setString(6, field.type().odooName());
                upsert.setString(7, field.comodel());
                upsert.setString(8, field.inverse());
                upsert.setBoolean(9, field.isRequired());
                upsert.setBoolean(10, field.isReadonly());
                upsert.setBoolean(11, field.stored() && !field.name().equals("display_name"));
                upsert.setBoolean(12, field.isIndexed());
                upsert.addBatch();
            }
            upsert.executeBatch();
        }
        try (PreparedStatement stale = connection.prepareStatement(
                "DELETE FROM ir_model_fields WHERE model = ? AND NOT (name = ANY(?)) AND state IS DISTINCT FROM 'manual'")) {
            stale.setString(1, model.name());
            stale.setArray(2, connection.createArrayOf("text", names.toArray()));
            stale.executeUpdate();
        }
    }

    private static boolean has(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(sql)) {
            return row.next();
        }
    }

    static void execute(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }
}
