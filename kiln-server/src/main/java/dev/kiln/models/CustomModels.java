package dev.kiln.models;

import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcFault;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
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
 * <p>What a call on the catalogue does ({@link CatalogueChange}): rows that describe what addons
 * declare are neither written nor deleted there. A custom row's label and help may change; its name
 * and type may not (Kiln does not convert a column). A custom model or field is removed with its
 * table or column, once nothing else points to it.
 */
public final class CustomModels {

    private static final Logger LOG = LoggerFactory.getLogger(CustomModels.class);

    /** The addon a custom model belongs to: none ({@code ir_model.modules} is empty). */
    static final String ADDON = "";
    /** The group whose users may use the records of a custom model, and make custom models. */
    static final String MANAGER = "base.group_system";
    static final Pattern MODEL_NAME = Pattern.compile("x_[a-z0-9_]*[a-z0-9](\\.[a-z0-9_]+)*");
    static final Pattern FIELD_NAME = Pattern.compile("x_[a-z0-9_]+");
    private static final Map<String, Function<String, Field>> PLAIN = Map.of("char", Field::chars, "text", Field::text,
            "html", Field::html, "integer", Field::integer, "float", Field::floating, "monetary", Field::monetary,
            "boolean", Field::bool, "date", Field::date, "datetime", Field::datetime, "binary", Field::binary);
    static final Set<String> RELATIONAL = Set.of("many2one", "one2many", "many2many");
    static final Set<String> MODEL_LABELS = Set.of("name", "info");
    static final Set<String> FIELD_LABELS = Set.of("field_description", "help");

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
            case "create" -> call -> ofModels ? new CatalogueChange(models, model, call, "create").createModels(method)
                    : new CatalogueChange(models, model, call, "create").createFields(method);
            case "write" -> call -> new CatalogueChange(models, model, call, "write").relabel(method, ofModels);
            case "unlink" -> call -> ofModels ? new CatalogueChange(models, model, call, "unlink").unlinkModels(method)
                    : new CatalogueChange(models, model, call, "unlink").unlinkFields(method);
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

    /** What the env of a unit of work does when a call in it changed the database's models. */
    public interface ModelsChanged {

        /** Moves the registry's sequence in the transaction; once it commits, every process builds its registry again. */
        void modelsChanged() throws SQLException;
    }
}
