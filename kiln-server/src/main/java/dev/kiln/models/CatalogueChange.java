package dev.kiln.models;

import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;
import dev.kiln.failure.KilnException;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One call that changes the catalogue ({@code create}, {@code write} or {@code unlink} of
 * {@code ir.model} or {@code ir.model.fields}), in its transaction: the checks, the standard method
 * for the rows, the table or column, and the registry told ({@link CustomModels}).
 */
final class CatalogueChange {
    private final Models models;
    private final RpcCall call;
    private final Connection connection;

    /** Checks {@code operation}'s access first: a user without it learns nothing of the catalogue. */
    CatalogueChange(Models models, String model, RpcCall call, String operation) throws SQLException {
        this.models = models;
        this.call = call;
        this.connection = call.env().connection();
        Access.of(connection, call.uid()).check(models.require(model), operation);
    }

    Object createModels(ModelSpec.Method standard) throws Exception {
        List<Map<String, Object>> list = valsList();
        if (list == null) {
            return standard.call(call);          // the standard method says what is wrong
        }
        List<Object> ids = new ArrayList<>();
        List<Map.Entry<Long, Object>> fields = new ArrayList<>();
        for (Map<String, Object> vals : list) {
            String name = vals.get("model") instanceof String text ? text : null;
            if (name == null || !CustomModels.MODEL_NAME.matcher(name).matches() || name.length() > 63) {
                throw RpcFault.validationError("The model name must start with 'x_' and contain only lowercase letters, "
                        + "digits, underscores and dots (at most 63 characters), not " + Domain.repr(vals.get("model")));
            }
            if (models.get(name).isPresent() || exists(name.replace('.', '_'))) {
                throw RpcFault.validationError("The model name must be unique: " + name + " exists already");
            }
            manual(vals, "model");
            vals.remove("modules");
            Object commands = vals.remove("field_id");
            long id = created(standard, vals);
            String table = name.replace('.', '_');
            ModelSchema.execute(connection, "CREATE TABLE " + table + " (id serial PRIMARY KEY,"
                    + " create_uid integer REFERENCES res_users (id) ON DELETE SET NULL, create_date timestamp,"
                    + " write_uid integer REFERENCES res_users (id) ON DELETE SET NULL, write_date timestamp)");
            describeImplicit(id, name);
            if (commands != null) {
                fields.add(Map.entry(id, commands));
            }
            ids.add((int) id);
        }
        for (Map.Entry<Long, Object> made : fields) {
            for (Map<String, Object> vals : createCommands(made.getValue())) {
                vals.put("model_id", made.getKey());
                models.require("ir.model.fields").methods().get("create").method()
                        .call(new RpcCall(call.env(), call.uid(), List.of(List.of(vals)), Map.of()));
            }
        }
        changed();
        return single() ? ids.getFirst() : ids;
    }

    Object createFields(ModelSpec.Method standard) throws Exception {
        List<Map<String, Object>> list = valsList();
        if (list == null) {
            return standard.call(call);
        }
        List<Object> ids = new ArrayList<>();
        for (Map<String, Object> vals : list) {
            String[] owner = owner(vals);              // id, name, state of the model
            String model = owner[1];
            Model declared = models.get(model).orElse(null);
            if (declared == null && !"manual".equals(owner[2])) {
                throw RpcFault.userError("Model " + model + " is not loaded: it takes no fields");
            }
            if (declared != null && declared.isAbstract()) {
                throw RpcFault.userError("Model " + model + " has no records: it takes no fields");
            }
            String name = vals.get("name") instanceof String text ? text : null;
            if (name == null || !CustomModels.FIELD_NAME.matcher(name).matches() || name.length() > 63) {
                throw RpcFault.validationError("Custom fields must have a name that starts with 'x_' and contains only "
                        + "lowercase letters, digits and underscores (at most 63 characters), not " + Domain.repr(vals.get("name")));
            }
            if (declared != null && declared.fields().containsKey(name) || described(model, name)) {
                throw RpcFault.validationError("Field names must be unique per model: " + model + "." + name + " exists already");
            }
            manual(vals, "field");
            String ttype = vals.get("ttype") instanceof String text ? text : null;
            String relation = vals.get("relation") instanceof String text ? text : null;
            String inverse = vals.get("relation_field") instanceof String text ? text : null;
            if (CustomModels.RELATIONAL.contains(ttype)) {
                relationOf(model, relation, ttype, inverse);
            }
            Object table = vals.remove("relation_table");
            if (table != null && !Values.isFalse(table) && !table.equals(CustomModels.relationTable(model, name))) {
                throw RpcFault.userError("Kiln names a custom many2many's table itself: " + CustomModels.relationTable(model, name));
            }
            Field field = CustomModels.field(model, name, ttype, text(vals.get("field_description")), text(vals.get("help")), relation,
                    inverse, truth(vals.get("required")), truth(vals.get("readonly")), truth(vals.get("index")));
            vals.put("model_id", Long.parseLong(owner[0]));
            vals.put("model", model);
            vals.putIfAbsent("field_description", field.string());
            vals.put("store", field.stored());
            long id = created(standard, vals);
            try {
                ModelSchema.column(connection, models, model.replace('.', '_'), field);
            } catch (KilnException leftover) {         // a column of that name, of another kind, is there already
                throw RpcFault.validationError(leftover.getMessage());
            }
            ids.add((int) id);
        }
        changed();
        return single() ? ids.getFirst() : ids;
    }

    Object relabel(ModelSpec.Method standard, boolean ofModels) throws Exception {
        Params p = Params.bind(call, "write", 2, "ids", "vals");
        List<Long> ids = Params.ids(p.get("ids"));
        if (p.get("vals") instanceof Map<?, ?> vals) {
            Set<String> allowed = ofModels ? CustomModels.MODEL_LABELS : CustomModels.FIELD_LABELS;
            for (Object key : vals.keySet()) {
                if (!allowed.contains(String.valueOf(key))) {
                    throw RpcFault.userError("Only the " + String.join(" and ", new TreeSet<>(allowed)) + " of a custom "
                            + (ofModels ? "model" : "field") + " change over the API, not " + key);
                }
            }
            for (String[] row : rows(ofModels ? "ir_model" : "ir_model_fields", ids)) {
                if (!"manual".equals(row[1])) {
                    throw RpcFault.userError((ofModels ? "Model " : "Field ") + row[0] + " comes from an addon: "
                            + "only custom ones change over the API");
                }
            }
        }
        Object result = standard.call(call);
        changed();
        return result;
    }

    Object unlinkModels(ModelSpec.Method standard) throws Exception {
        List<Long> ids = Params.ids(Params.bind(call, "unlink", 1, "ids").get("ids"));
        List<String> names = new ArrayList<>();
        for (String[] row : rows("ir_model", ids)) {
            if (!"manual".equals(row[1])) {
                throw RpcFault.userError("Model '" + row[0] + "' contains module data and cannot be removed");
            }
            names.add(row[0]);
        }
        String pointing = first("SELECT model || '.' || name FROM ir_model_fields WHERE relation = ANY(?) AND NOT (model = ANY(?))",
                names, names);
        if (pointing != null) {
            throw RpcFault.userError("Field " + pointing + " points to a model being removed: remove the field first");
        }
        List<String> relations = new ArrayList<>();
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT model, name FROM ir_model_fields WHERE model = ANY(?) AND ttype = 'many2many' AND state = 'manual'")) {
            query.setArray(1, connection.createArrayOf("text", names.toArray()));
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) {
                    relations.add(CustomModels.relationTable(rows.getString(1), rows.getString(2)));
                }
            }
        }
        Object result = standard.call(call);     // access, then the rows (their fields' rows cascade)
        for (String relation : relations) {
            ModelSchema.execute(connection, "DROP TABLE IF EXISTS " + relation);
        }
        for (String name : names) {
            ModelSchema.execute(connection, "DROP TABLE IF EXISTS " + name.replace('.', '_'));
        }
        changed();
        return result;
    }

    Object unlinkFields(ModelSpec.Method standard) throws Exception {
        List<Long> ids = Params.ids(Params.bind(call, "unlink", 1, "ids").get("ids"));
        List<String[]> fields = new ArrayList<>();
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT model, name, ttype, state, id FROM ir_model_fields WHERE id = ANY(?) ORDER BY id")) {
            query.setArray(1, connection.createArrayOf("bigint", ids.toArray()));
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) {
                    if (!"manual".equals(rows.getString(4))) {
                        throw RpcFault.userError("Field " + rows.getString(1) + "." + rows.getString(2)
                                + " comes from an addon and cannot be removed");
                    }
                    fields.add(new String[] {rows.getString(1), rows.getString(2), rows.getString(3)});
                }
            }
        }
        for (String[] field : fields) {
            try (PreparedStatement query = connection.prepareStatement("""
                    SELECT model || '.' || name FROM ir_model_fields
                    WHERE ttype = 'one2many' AND relation = ? AND relation_field = ? AND NOT (id = ANY(?)) LIMIT 1""")) {
                query.setString(1, field[0]);
                query.setString(2, field[1]);
                query.setArray(3, connection.createArrayOf("bigint", ids.toArray()));
                try (ResultSet row = query.executeQuery()) {
                    if (row.next()) {
                        throw RpcFault.userError("Field " + row.getString(1) + " is the other side of " + field[0] + "."
                                + field[1] + ": remove it first");
                    }
                }
            }
        }
        Object result = standard.call(call);
        for (String[] field : fields) {
            String table = field[0].replace('.', '_');
            switch (field[2]) {
                case "one2many" -> { }                  // the comodel's many2one is the column
                case "many2many" -> ModelSchema.execute(connection, "DROP TABLE IF EXISTS " + CustomModels.relationTable(field[0], field[1]));
                default -> ModelSchema.execute(connection, "ALTER TABLE " + table + " DROP COLUMN IF EXISTS " + field[1]);
            }
        }
        changed();
        return result;
    }

    /** create's values, one dict or a list of them; null when they are neither (the standard method refuses them). */
    private List<Map<String, Object>> valsList() {
        Object given = Params.bind(call, "create", 1, "vals_list").get("vals_list");
        List<?> list = given instanceof Map<?, ?> one ? List.of(one) : given instanceof List<?> many ? many : null;
        if (list == null || !list.stream().allMatch(v -> v instanceof Map<?, ?>)) {
            return null;
        }
        List<Map<String, Object>> copies = new ArrayList<>();
        for (Object item : list) {
            Map<String, Object> copy = new LinkedHashMap<>();
            ((Map<?, ?>) item).forEach((k, v) -> copy.put(String.valueOf(k), v));
            copies.add(copy);
        }
        return copies;
    }

    /** execute_kw's one dict gets one id, as the standard create answers it. */
    private boolean single() {
        return !call.args().isEmpty() && call.args().getFirst() instanceof Map<?, ?>;
    }

    private long created(ModelSpec.Method standard, Map<String, Object> vals) throws Exception {
        Object made = standard.call(call.withArg(0, "vals_list", List.of(vals)));
        return ((Number) ((List<?>) made).getFirst()).longValue();
    }

    /** {@code state} is {@code manual}, given so or not: the API makes custom models and fields only. */
    private static void manual(Map<String, Object> vals, String what) {
        Object state = vals.getOrDefault("state", "manual");
        if (!"manual".equals(state)) {
            throw RpcFault.userError("Only custom " + what + "s (state 'manual') are made over the API; the others come "
                    + "from addons, not " + Domain.repr(state));
        }
        vals.put("state", "manual");
    }

    /** The values of field_id's commands when a model is made: only (0, 0, values). */
    private static List<Map<String, Object>> createCommands(Object commands) {
        if (Values.isFalse(commands)) {
            return List.of();
        }
        List<Map<String, Object>> all = new ArrayList<>();
        if (commands instanceof List<?> list) {
            for (Object command : list) {
                if (command instanceof List<?> c && c.size() == 3 && c.getFirst() instanceof Number n && n.intValue() == 0
                        && c.get(2) instanceof Map<?, ?> vals) {
                    Map<String, Object> copy = new LinkedHashMap<>();
                    vals.forEach((k, v) -> copy.put(String.valueOf(k), v));
                    all.add(copy);
                    continue;
                }
                throw RpcFault.badArguments("field_id takes (0, 0, values) commands when a model is made, not "
                        + Domain.repr(command));
            }
            return all;
        }
        throw RpcFault.badArguments("field_id takes a list of (0, 0, values) commands, not " + Domain.repr(commands));
    }

    /** The model a new field goes on, from model_id or model: its id, name and state. */
    private String[] owner(Map<String, Object> vals) throws SQLException {
        Object id = vals.get("model_id");
        if (id instanceof List<?> pair && !pair.isEmpty()) {
            id = pair.getFirst();
        }
        String sql = id instanceof Number ? "SELECT id, model, state FROM ir_model WHERE id = ?"
                : "SELECT id, model, state FROM ir_model WHERE model = ?";
        Object key = id instanceof Number number ? (Object) number.longValue() : vals.get("model");
        if (!(key instanceof Long) && !(key instanceof String)) {
            throw RpcFault.validationError("Missing required value for the field 'Model' (model_id).\n"
                    + "Model: 'Fields' (ir.model.fields)");
        }
        try (PreparedStatement query = connection.prepareStatement(sql)) {
            query.setObject(1, key);
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) {
                    throw RpcFault.missingError("Record does not exist or has been deleted.\n(Record: ir.model("
                            + key + "), User: " + call.uid() + ")");
                }
                return new String[] {row.getString(1), row.getString(2), row.getString(3)};
            }
        }
    }

    /** A relational field's comodel exists (and a one2many's inverse is a many2one to {@code model} on it). */
    private void relationOf(String model, String relation, String ttype, String inverse) throws SQLException {
        boolean known = relation != null && (models.get(relation).filter(m -> !m.isAbstract()).isPresent()
                || relation.equals(model) || first("SELECT model FROM ir_model WHERE model = ? AND state = 'manual'",
                relation) != null);
        if (!known) {
            throw RpcFault.validationError("Unknown model name '" + relation + "' in Related Model");
        }
        if (!ttype.equals("one2many")) {
            return;
        }
        Field declared = models.get(relation).map(m -> m.fields().get(inverse)).orElse(null);
        boolean many2one = declared != null ? declared.type() == Field.Type.MANY2ONE && model.equals(declared.comodel())
                : inverse != null && first("SELECT name FROM ir_model_fields WHERE model = ? AND name = ? AND ttype = "
                + "'many2one' AND relation = ?", relation, inverse, model) != null;
        if (!many2one) {
            throw RpcFault.validationError("Many2one " + inverse + " on model " + relation + " does not exist: a one2many "
                    + "needs a many2one to " + model + " as its relation_field");
        }
    }

    /** The catalogue rows for what every model has (state base, as Odoo writes them). */
    private void describeImplicit(long id, String model) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO ir_model_fields (model_id, model, name, field_description, ttype, relation, required, readonly,
                    store, "index", state, create_date, write_date)
                VALUES (?, ?, ?, ?, ?, ?, false, true, ?, false, 'base', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')""")) {
            for (String[] implicit : new String[][] {{"id", "ID", "integer", null}, {"display_name", "Display Name", "char", null},
                    {"create_uid", "Created by", "many2one", "res.users"}, {"create_date", "Created on", "datetime", null},
                    {"write_uid", "Last Updated by", "many2one", "res.users"},
                    {"write_date", "Last Updated on", "datetime", null}}) {
                insert.setLong(1, id);
                insert.setString(2, model);
                insert.setString(3, implicit[0]);
                insert.setString(4, implicit[1]);
                insert.setString(5, implicit[2]);
                insert.setString(6, implicit[3]);
                insert.setBoolean(7, !implicit[0].equals("display_name"));
                insert.addBatch();
            }
            insert.executeBatch();
        }
    }

    /** Name and state of each row of {@code table} among {@code ids}. */
    private List<String[]> rows(String table, List<Long> ids) throws SQLException {
        String name = table.equals("ir_model") ? "model" : "model || '.' || name";
        List<String[]> rows = new ArrayList<>();
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT " + name + ", state FROM " + table + " WHERE id = ANY(?) ORDER BY id")) {
            query.setArray(1, connection.createArrayOf("bigint", ids.toArray()));
            try (ResultSet row = query.executeQuery()) {
                while (row.next()) {
                    rows.add(new String[] {row.getString(1), row.getString(2)});
                }
            }
        }
        return rows;
    }

    private boolean exists(String table) throws SQLException {
        return first("SELECT relname FROM pg_class WHERE oid = to_regclass(?)", table) != null;
    }

    private boolean described(String model, String name) throws SQLException {
        return first("SELECT name FROM ir_model_fields WHERE model = ? AND name = ?", model, name) != null;
    }

    /** The first column of the first row of {@code sql}, or null; a list parameter is bound as a text array. */
    private String first(String sql, Object... params) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                if (params[i] instanceof List<?> list) {
                    query.setArray(i + 1, connection.createArrayOf("text", list.toArray()));
                } else {
                    query.setObject(i + 1, params[i]);
                }
            }
            try (ResultSet row = query.executeQuery()) {
                return row.next() ? row.getString(1) : null;
            }
        }
    }

    /** Tells the env that the database's models changed: every process builds its registry again. */
    private void changed() throws SQLException {
        if (!(call.env() instanceof CustomModels.ModelsChanged env)) {
            throw new IllegalStateException("models can change only within a unit of work");
        }
        env.modelsChanged();
    }

    private static String text(Object value) {
        return value instanceof String text ? text : null;
    }

    private static boolean truth(Object value) {
        return Boolean.TRUE.equals(value);
    }
}

