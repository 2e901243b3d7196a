package dev.kiln.models;

import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;
import dev.kiln.failure.KilnException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Models and fields made over the external API, as Odoo makes them with {@code ir.model} and
 * {@code ir.model.fields}: a catalogue row of state {@code manual} whose name starts with
 * {@code x_}, and its table or column, made in the same transaction. Every Kiln process builds
 * them into the database's models with its registry ({@link #read}), after the addons'
 * declarations; the transaction that made them moves the registry's sequence, so every process
 * rebuilds. A custom model has the fields every model has, takes {@code x_name} as its records'
 * name when it has one, and grants its records to the settings group ({@value #MANAGER}), which
 * the administrator is in.
 *
 * <p>Rows that describe what addons declare are neither written nor deleted here. A custom row's
 * label and help may change; its name and type may not (Kiln does not convert a column). A custom
 * model or field is removed with its table or column, once nothing else points to it.
 */
public final class CustomModels {

    private static final Logger LOG = LoggerFactory.getLogger(CustomModels.class);

    /** The addon a custom model belongs to: none ({@code ir_model.modules} is empty). */
    static final String ADDON = "";
    /** The group whose users may use the records of a custom model, and make custom models. */
    static final String MANAGER = "base.group_system";
    private static final Pattern MODEL_NAME = Pattern.compile("x_[a-z0-9_]*[a-z0-9](\\.[a-z0-9_]+)*");
    private static final Pattern FIELD_NAME = Pattern.compile("x_[a-z0-9_]+");
    private static final Map<String, Function<String, Field>> PLAIN = Map.of("char", Field::chars, "text", Field::text,
            "html", Field::html, "integer", Field::integer, "float", Field::floating, "monetary", Field::monetary,
            "boolean", Field::bool, "date", Field::date, "datetime", Field::datetime, "binary", Field::binary);
    private static final Set<String> RELATIONAL = Set.of("many2one", "one2many", "many2many");
    private static final Set<String> MODEL_LABELS = Set.of("name", "info");
    private static final Set<String> FIELD_LABELS = Set.of("field_description", "help");

    private CustomModels() { }

    /**
     * The custom models of the database on {@code connection} (new models, then the custom fields
     * of the models addons declare, as extensions), in the order they were made. Empty where the
     * catalogue's tables are missing (no base addon yet).
     */
    public static List<ModelSpec> read(Connection connection) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement("""
                SELECT to_regclass('ir_model') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = to_regclass('ir_model_fields') AND attname = 'ttype' AND NOT attisdropped)""");
             ResultSet row = query.executeQuery()) {
            if (!row.next() || !row.getBoolean(1)) {
                return List.of();
            }
        }
        Map<String, ModelSpec> specs = new LinkedHashMap<>();
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT model, name FROM ir_model WHERE state = 'manual' ORDER BY id");
             ResultSet rows = query.executeQuery()) {
            while (rows.next()) {
                specs.put(rows.getString(1), ModelSpec.of(rows.getString(1)).description(rows.getString(2)).access(MANAGER, "rwcu"));
            }
        }
        try (PreparedStatement query = connection.prepareStatement("""
                SELECT model, name, ttype, field_description, help, relation, relation_field, required, readonly, "index"
                FROM ir_model_fields WHERE state = 'manual' ORDER BY id""");
             ResultSet rows = query.executeQuery()) {
            while (rows.next()) {
                String model = rows.getString(1);
                try {
                    specs.computeIfAbsent(model, ModelSpec::extend).field(field(model, rows.getString(2), rows.getString(3),
                            rows.getString(4), rows.getString(5), rows.getString(6), rows.getString(7), rows.getBoolean(8),
                            rows.getBoolean(9), rows.getBoolean(10)));
                } catch (IllegalArgumentException | RpcFault broken) {
                    LOG.warn("custom field {}.{} is left out: {}", model, rows.getString(2), broken.getMessage());
                }
            }
        }
        for (ModelSpec spec : specs.values()) {
            if (!spec.isExtension() && spec.fields().containsKey("x_name")) {
                spec.recName("x_name");
            }
        }
        return List.copyOf(specs.values());
    }

    /**
     * The standard method {@code standard} of {@code model} as the catalogue's models have it:
     * {@code create}, {@code write} and {@code unlink} of {@code ir.model} and
     * {@code ir.model.fields} make, relabel and remove custom models and fields. Any other method,
     * or model, is {@code method} itself.
     */
    static ModelSpec.Method catalogue(Models models, String model, String standard, ModelSpec.Method method) {
        boolean ofModels = model.equals("ir.model");
        if (!ofModels && !model.equals("ir.model.fields")) {
            return method;
        }
        return switch (standard) {
            case "create" -> call -> ofModels ? new Change(models, model, call, "create").createModels(method)
                    : new Change(models, model, call, "create").createFields(method);
            case "write" -> call -> new Change(models, model, call, "write").relabel(method, ofModels);
            case "unlink" -> call -> ofModels ? new Change(models, model, call, "unlink").unlinkModels(method)
                    : new Change(models, model, call, "unlink").unlinkFields(method);
            default -> method;
        };
    }

    /** The field a catalogue row describes; a type Kiln does not make, or a bad name, is the caller's fault. */
    static Field field(String model, String name, String ttype, String label, String help, String relation,
                       String relationField, boolean required, boolean readonly, boolean index) {
        Field field;
        try {
            field = switch (ttype == null ? "" : ttype) {
                case "many2one" -> Field.many2one(name, relation);
                case "one2many" -> Field.one2many(name, relation, relationField == null ? "" : relationField);
                case "many2many" -> Field.many2many(name, relation, relationTable(model, name));
                default -> {
                    Function<String, Field> plain = PLAIN.get(ttype);
                    if (plain == null) {
                        throw RpcFault.userError("Kiln makes custom fields of the types " + String.join(", ",
                                new TreeSet<>(PLAIN.keySet())) + ", many2one, one2many and many2many, not '"
                                + ttype + "'");
                    }
                    yield plain.apply(name);
                }
            };
            if (label != null && !label.isBlank()) {
                field = field.string(label);
            }
            if (help != null && !help.isBlank()) {
                field = field.help(help);
            }
            if (required) {
                field = field.required();
            }
            if (readonly) {
                field = field.readonly();
            }
            if (index) {
                field = field.index();
            }
        } catch (IllegalArgumentException | NullPointerException bad) {
            throw RpcFault.validationError("Custom field " + model + "." + name + ": " + bad.getMessage());
        }
        return field;
    }

    /** The relation table of a custom many2many: the model's table and the field's name. */
    static String relationTable(String model, String field) {
        return model.replace('.', '_') + "_" + field + "_rel";
    }

    /** One call that changes the catalogue, in its transaction. */
    private static final class Change {
        private final Models models;
        private final RpcCall call;
        private final Connection connection;

        /** Checks {@code operation}'s access first: a user without it learns nothing of the catalogue. */
        Change(Models models, String model, RpcCall call, String operation) throws SQLException {
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
                if (name == null || !MODEL_NAME.matcher(name).matches() || name.length() > 63) {
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
                if (name == null || !FIELD_NAME.matcher(name).matches() || name.length() > 63) {
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
                if (RELATIONAL.contains(ttype)) {
                    relationOf(model, relation, ttype, inverse);
                }
                Object table = vals.remove("relation_table");
                if (table != null && !Values.isFalse(table) && !table.equals(relationTable(model, name))) {
                    throw RpcFault.userError("Kiln names a custom many2many's table itself: " + relationTable(model, name));
                }
                Field field = field(model, name, ttype, text(vals.get("field_description")), text(vals.get("help")), relation,
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
            List<Long> ids = Params.ids(call.args().isEmpty() ? call.kwargs().get("ids") : call.args().getFirst());
            Object given = call.args().size() > 1 ? call.args().get(1) : call.kwargs().get("vals");
            if (given instanceof Map<?, ?> vals) {
                Set<String> allowed = ofModels ? MODEL_LABELS : FIELD_LABELS;
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
            List<Long> ids = Params.ids(call.args().isEmpty() ? call.kwargs().get("ids") : call.args().getFirst());
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
                        relations.add(relationTable(rows.getString(1), rows.getString(2)));
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
            List<Long> ids = Params.ids(call.args().isEmpty() ? call.kwargs().get("ids") : call.args().getFirst());
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
                    case "many2many" -> ModelSchema.execute(connection, "DROP TABLE IF EXISTS " + relationTable(field[0], field[1]));
                    default -> ModelSchema.execute(connection, "ALTER TABLE " + table + " DROP COLUMN IF EXISTS " + field[1]);
                }
            }
            changed();
            return result;
        }

        /** create's values, one dict or a list of them; null when they are neither (the standard method refuses them). */
        private List<Map<String, Object>> valsList() {
            Object given = call.args().isEmpty() ? call.kwargs().get("vals_list") : call.args().getFirst();
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
            if (!(call.env() instanceof ModelsChanged env)) {
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

    /** What the env of a unit of work does when a call in it changed the database's models. */
    public interface ModelsChanged {

        /** Moves the registry's sequence in the transaction; once it commits, every process builds its registry again. */
        void modelsChanged() throws SQLException;
    }
}
