package dev.kiln.models;

import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcCall;

import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A model as served in one database: its declaration merged with the extensions of the addons
 * installed there, every field (the implicit ones included), the default order parsed, and each
 * public method resolved to the chain of overrides that ends at the standard method or the
 * declaring addon's.
 *
 * @param addon   the addon that declares it
 * @param order   the default order, checked against the fields
 * @param recName the field that names a record; null when none (the display name is then "model,id")
 * @param methods every public method by name: the standard ones, then the addons' in load order
 */
public record Model(String name, String table, String description, String addon, Map<String, Field> fields,
                    Order order, String recName, List<ModelSpec.Access> access, List<ModelSpec.Rule> rules,
                    Map<String, Invocable> methods) {

    /** The implicit fields' names, which no write sets. */
    public static final List<String> LOG_FIELDS = List.of("create_uid", "create_date", "write_uid", "write_date");

    /** A method ready to call: its code and the class loader of the addon whose code it is (null: Kiln's own). */
    public record Invocable(ModelSpec.Method method, ClassLoader loader) {

        /** Calls the method with its addon's class loader as the thread's context class loader. */
        public Object invoke(RpcCall call) throws Exception {
            if (loader == null) {
                return method.call(call);
            }
            Thread thread = Thread.currentThread();
            ClassLoader previous = thread.getContextClassLoader();
            thread.setContextClassLoader(loader);
            try {
                return method.call(call);
            } finally {
                thread.setContextClassLoader(previous);
            }
        }
    }

    public Model {
        fields = Collections.unmodifiableMap(fields);
        access = List.copyOf(access);
        rules = List.copyOf(rules);
        methods = Collections.unmodifiableMap(methods);
    }

    /** Whether the model has no records (an abstract model: methods only, no table). */
    public boolean isAbstract() {
        return table == null;
    }

    /** Whether searches hide inactive records by default (a boolean {@code active} field). */
    public boolean hasActive() {
        Field active = fields.get("active");
        return active != null && active.type() == Field.Type.BOOLEAN;
    }

    /** The many2one to the same model that {@code child_of} and {@code parent_of} follow; null when none. */
    public String parentField() {
        Field parent = fields.get("parent_id");
        return parent != null && parent.type() == Field.Type.MANY2ONE && name.equals(parent.comodel()) ? "parent_id" : null;
    }

    /** The field, or Odoo's ValueError naming it. */
    public Field require(String fieldName) {
        Field field = fields.get(fieldName);
        if (field == null) {
            throw dev.kiln.api.RpcFault.invalidValue("Invalid field '" + fieldName + "' on model '" + name + "'");
        }
        return field;
    }

    @Override
    public String toString() {
        return name;
    }
}
