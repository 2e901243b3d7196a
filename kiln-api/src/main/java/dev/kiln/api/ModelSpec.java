package dev.kiln.api;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model as an addon declares it ({@link AddonContext#model}): Odoo's name ({@code res.partner}),
 * its table, its fields, who may read, write, create and delete its records, and its own methods.
 * Kiln creates the table and its columns when the addon is installed or updated, and serves Odoo's
 * methods on it over every API: {@code search}, {@code search_count}, {@code read},
 * {@code search_read}, {@code fields_get}, {@code create}, {@code write}, {@code unlink},
 * {@code name_search}, {@code name_create}, {@code default_get}, {@code check_access_rights},
 * {@code has_access}.
 *
 * <p>{@link #extend} adds to a model another addon declares, as Odoo's {@code _inherit} does: more
 * fields, more methods, and overrides of the standard ones that may call the method they replace.
 * {@link #abstractModel} declares methods without records (Odoo's {@code AbstractModel}): no table,
 * no fields, no standard methods, only its own.
 *
 * <p>Every model has {@code id}, {@code display_name} (its {@link #recName} field's value),
 * {@code create_uid}, {@code create_date}, {@code write_uid} and {@code write_date}. A model with
 * a boolean {@code active} field hides inactive records from searches unless the context says
 * {@code active_test: false}.
 */
public final class ModelSpec {

    /** An addon's method of a model: called with Odoo's arguments, its ids (if any) first. */
    @FunctionalInterface
    public interface Method {
        Object call(RpcCall call) throws Exception;
    }

    /** A method replacing another (a standard one, or an earlier addon's), which it may call as {@code next}. */
    @FunctionalInterface
    public interface Override {
        Object call(RpcCall call, Method next) throws Exception;
    }

    /** A record rule's domain for the calling user, in Odoo's list syntax. */
    @FunctionalInterface
    public interface RuleDomain {
        List<Object> domain(long uid);
    }

    /**
     * Access of the users of {@code group} (a full name: {@code base.group_user}): {@code perms} is
     * some of r (read), w (write), c (create), u (unlink), as in Odoo's {@code ir.model.access.csv}.
     */
    public record Access(String group, String perms) {
        public Access {
            if (group == null || !group.matches("[a-z0-9_]+\\.[a-z0-9_]+") || perms == null || !perms.matches("[rwcu]*")) {
                throw new IllegalArgumentException("access(" + group + ", " + perms + "): a group's full name and some of rwcu");
            }
        }

        public boolean allows(String operation) {
            return perms.indexOf(letter(operation)) >= 0;
        }
    }

    /**
     * A record rule: for the users of {@code group} (every user when null: a global rule), the
     * records {@code domain} selects are those the operations in {@code perms} may touch. Global
     * rules all apply; of the group rules, a record passes one of its user's groups'.
     */
    public record Rule(String name, String group, String perms, RuleDomain domain) {
        public Rule {
            if (name == null || name.isBlank() || perms == null || !perms.matches("[rwcu]+") || domain == null
                    || (group != null && !group.matches("[a-z0-9_]+\\.[a-z0-9_]+"))) {
                throw new IllegalArgumentException("rule '" + name + "': a name, a group's full name or null, some of rwcu,"
                        + " a domain");
            }
        }

        public boolean appliesTo(String operation) {
            return perms.indexOf(letter(operation)) >= 0;
        }
    }

    static char letter(String operation) {
        return switch (operation) {
            case "read" -> 'r';
            case "write" -> 'w';
            case "create" -> 'c';
            case "unlink" -> 'u';
            default -> throw new IllegalArgumentException("operation '" + operation + "': read, write, create or unlink");
        };
    }

    private static final Set<String> IMPLICIT = Set.of("id", "display_name", "create_uid", "create_date", "write_uid",
            "write_date");

    private final String name;
    private final boolean extension;
    private final boolean abstractModel;
    private String table;
    private String description;
    private String order;
    private String recName;
    private final Map<String, Field> fields = new LinkedHashMap<>();
    private final List<Access> access = new ArrayList<>();
    private final List<Rule> rules = new ArrayList<>();
    private final Map<String, Method> methods = new LinkedHashMap<>();
    private final Map<String, Override> overrides = new LinkedHashMap<>();

    private ModelSpec(String name, boolean extension, boolean abstractModel) {
        if (name == null || !name.matches("[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*") || name.length() > 63) {
            throw new IllegalArgumentException("model name '" + name + "': lower-case words joined by dots (res.partner)");
        }
        this.name = name;
        this.extension = extension;
        this.abstractModel = abstractModel;
        this.table = extension || abstractModel ? null : name.replace('.', '_');
    }

    /** A new model, on the table its name makes ({@code res.partner}: {@code res_partner}). */
    public static ModelSpec of(String name) {
        return new ModelSpec(name, false, false);
    }

    /** Additions to the model {@code name}, which an addon this one depends on declares. */
    public static ModelSpec extend(String name) {
        return new ModelSpec(name, true, false);
    }

    /** Methods under a model's name, without records: no table, no fields, no standard methods. */
    public static ModelSpec abstractModel(String name) {
        return new ModelSpec(name, false, true);
    }

    /**
     * Every public method of {@code object} that takes an {@link RpcCall}, as a method of this model
     * under its own name (names from {@code _} are never callable, and a name has one signature).
     */
    public ModelSpec methodsOf(Object object) {
        String where = object.getClass().getName();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (java.lang.reflect.Method method : object.getClass().getMethods()) {
            if (method.getDeclaringClass() == Object.class || java.lang.reflect.Modifier.isStatic(method.getModifiers())
                    || method.getName().startsWith("_") || method.getParameterCount() != 1
                    || method.getParameterTypes()[0] != RpcCall.class) {
                continue;
            }
            if (!seen.add(method.getName())) {
                throw new IllegalArgumentException(where + "." + method.getName() + " is overloaded; a method has one signature");
            }
            java.lang.invoke.MethodHandle handle;
            try {
                method.setAccessible(true);
                handle = java.lang.invoke.MethodHandles.lookup().unreflect(method).bindTo(object)
                        .asType(java.lang.invoke.MethodType.methodType(Object.class, RpcCall.class));
            } catch (IllegalAccessException | RuntimeException e) {
                throw new IllegalArgumentException(where + "." + method.getName() + " cannot be called: " + e.getMessage(), e);
            }
            java.lang.invoke.MethodHandle exact = handle;
            method(method.getName(), call -> {
                try {
                    return exact.invokeExact(call);
                } catch (Exception | Error e) {
                    throw e;
                } catch (Throwable other) {
                    throw new IllegalStateException(other);
                }
            });
        }
        if (seen.isEmpty()) {
            throw new IllegalArgumentException(where + " has no public method taking an RpcCall");
        }
        return this;
    }

    public ModelSpec table(String table) {
        if (extension || abstractModel || table == null || !table.matches("[a-z][a-z0-9_]{0,62}")) {
            throw new IllegalArgumentException("table '" + table + "' of model " + name);
        }
        this.table = table;
        return this;
    }

    /** The model's label ({@code ir.model}'s name): "Contact". */
    public ModelSpec description(String description) {
        this.description = description;
        return this;
    }

    /** The default order of searches, Odoo's {@code _order}: {@code "name, id desc"}. Checked at start. */
    public ModelSpec order(String order) {
        this.order = order;
        return this;
    }

    /** The field that names a record, Odoo's {@code _rec_name}; {@code name} when the model has one. */
    public ModelSpec recName(String field) {
        this.recName = field;
        return this;
    }

    public ModelSpec field(Field field) {
        if (abstractModel) {
            throw new IllegalArgumentException("model " + name + " is abstract: it has no fields");
        }
        if (IMPLICIT.contains(field.name())) {
            throw new IllegalArgumentException("model " + name + ": field " + field.name() + " is every model's own");
        }
        if (fields.putIfAbsent(field.name(), field) != null) {
            throw new IllegalArgumentException("model " + name + ": field " + field.name() + " is declared twice");
        }
        return this;
    }

    public ModelSpec access(String group, String perms) {
        access.add(new Access(group, perms));
        return this;
    }

    public ModelSpec rule(String ruleName, String group, String perms, RuleDomain domain) {
        rules.add(new Rule(ruleName, group, perms, domain));
        return this;
    }

    /** A public method of the model; its name must not be a standard method's (use {@link #override}). */
    public ModelSpec method(String methodName, Method method) {
        checkMethodName(methodName);
        if (methods.putIfAbsent(methodName, method) != null) {
            throw new IllegalArgumentException("model " + name + ": method " + methodName + " is declared twice");
        }
        return this;
    }

    /** Replaces the method {@code methodName}, standard or an earlier addon's, which {@code override} may call. */
    public ModelSpec override(String methodName, Override override) {
        checkMethodName(methodName);
        if (overrides.putIfAbsent(methodName, override) != null) {
            throw new IllegalArgumentException("model " + name + ": method " + methodName + " is overridden twice");
        }
        return this;
    }

    private void checkMethodName(String methodName) {
        if (methodName == null || !methodName.matches("[a-z][a-z0-9_]*")) {
            throw new IllegalArgumentException("model " + name + ": method name '" + methodName
                    + "': public methods start with a letter (names from _ are never callable)");
        }
    }

    public String name() {
        return name;
    }

    public boolean isExtension() {
        return extension;
    }

    /** Whether the model has no records ({@link #abstractModel}). */
    public boolean isAbstract() {
        return abstractModel;
    }

    /** The table; null for an extension. */
    public String table() {
        return table;
    }

    public String description() {
        return description;
    }

    public String order() {
        return order;
    }

    public String recName() {
        return recName;
    }

    public Map<String, Field> fields() {
        return Collections.unmodifiableMap(fields);
    }

    public List<Access> access() {
        return Collections.unmodifiableList(access);
    }

    public List<Rule> rules() {
        return Collections.unmodifiableList(rules);
    }

    public Map<String, Method> methods() {
        return Collections.unmodifiableMap(methods);
    }

    public Map<String, Override> overrides() {
        return Collections.unmodifiableMap(overrides);
    }
}
