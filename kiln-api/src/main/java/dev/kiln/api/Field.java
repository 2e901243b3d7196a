package dev.kiln.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One field of a model ({@link ModelSpec}): its name, its Odoo type and the attributes Odoo's
 * {@code fields_get} describes. Immutable: every {@code with} method returns a new field, so
 * declarations read as {@code Field.chars("name").string("Name").required()}.
 *
 * <p>Each stored type has its column: char, text, html and selection are {@code text}; integer
 * {@code integer}; float and monetary {@code double precision}; boolean {@code boolean}; date
 * {@code date}; datetime {@code timestamp} (UTC, as Odoo stores it); binary {@code text} (base64);
 * many2one an {@code integer} referencing the comodel's table. A one2many is the inverse of a
 * many2one of its comodel and has no column; a many2many has a relation table of two columns.
 * A password is stored hashed and is never read back.
 */
public final class Field {

    /** Odoo's field types, by their {@code fields_get} name. */
    public enum Type {
        CHAR("char"), TEXT("text"), HTML("html"), INTEGER("integer"), FLOAT("float"), MONETARY("monetary"),
        BOOLEAN("boolean"), DATE("date"), DATETIME("datetime"), SELECTION("selection"), MANY2ONE("many2one"),
        ONE2MANY("one2many"), MANY2MANY("many2many"), BINARY("binary"),
        /** Odoo's password: a char that is written (hashed) but never read. */
        PASSWORD("char");

        private final String odooName;

        Type(String odooName) {
            this.odooName = odooName;
        }

        public String odooName() {
            return odooName;
        }

        /** Whether the value is an id or ids of the comodel. */
        public boolean relational() {
            return this == MANY2ONE || this == ONE2MANY || this == MANY2MANY;
        }
    }

    private final String name;
    private final Type type;
    private final String string;
    private final String help;
    private final boolean required;
    private final boolean readonly;
    private final Object defaultValue;
    private final boolean index;
    private final String comodel;
    private final String inverse;
    private final String relationTable;
    private final List<List<String>> selection;
    private final String ondelete;
    private final String groups;

    private Field(String name, Type type, String string, String help, boolean required, boolean readonly,
                  Object defaultValue, boolean index, String comodel, String inverse, String relationTable,
                  List<List<String>> selection, String ondelete, String groups) {
        this.name = name;
        this.type = type;
        this.string = string;
        this.help = help;
        this.required = required;
        this.readonly = readonly;
        this.defaultValue = defaultValue;
        this.index = index;
        this.comodel = comodel;
        this.inverse = inverse;
        this.relationTable = relationTable;
        this.selection = selection;
        this.ondelete = ondelete;
        this.groups = groups;
    }

    /** PostgreSQL's reserved words, which a column may not be named without quotes. */
    private static final java.util.Set<String> RESERVED = java.util.Set.of("all", "analyse", "analyze", "and", "any",
            "array", "as", "asc", "asymmetric", "authorization", "binary", "both", "case", "cast", "check", "collate",
            "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog", "current_date",
            "current_role", "current_schema", "current_time", "current_timestamp", "current_user", "default", "deferrable",
            "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "freeze", "from", "full",
            "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect", "into", "is", "isnull", "join",
            "lateral", "leading", "left", "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null",
            "offset", "on", "only", "or", "order", "outer", "overlaps", "placing", "primary", "references", "returning",
            "right", "select", "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then",
            "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window",
            "with");

    private static Field of(String name, Type type) {
        if (name == null || !name.matches("[a-z][a-z0-9_]{0,62}") || RESERVED.contains(name)) {
            throw new IllegalArgumentException("field name '" + name + "': lower-case letters, digits and _, from a letter,"
                    + " at most 63, not a reserved word of SQL");
        }
        return new Field(name, type, label(name), null, false, false, null, false, null, null, null, null, null, null);
    }

    /** Odoo's label for a field without one: {@code parent_id} is "Parent", {@code zip_code} "Zip Code". */
    private static String label(String name) {
        String base = name.endsWith("_ids") ? name.substring(0, name.length() - 4)
                : name.endsWith("_id") ? name.substring(0, name.length() - 3) : name;
        StringBuilder label = new StringBuilder();
        for (String word : base.split("_")) {
            if (!word.isEmpty()) {
                label.append(label.isEmpty() ? "" : " ").append(Character.toUpperCase(word.charAt(0))).append(word.substring(1));
            }
        }
        return label.toString();
    }

    public static Field chars(String name) {
        return of(name, Type.CHAR);
    }

    public static Field text(String name) {
        return of(name, Type.TEXT);
    }

    public static Field html(String name) {
        return of(name, Type.HTML);
    }

    public static Field integer(String name) {
        return of(name, Type.INTEGER);
    }

    public static Field floating(String name) {
        return of(name, Type.FLOAT);
    }

    public static Field monetary(String name) {
        return of(name, Type.MONETARY);
    }

    public static Field bool(String name) {
        return of(name, Type.BOOLEAN);
    }

    public static Field date(String name) {
        return of(name, Type.DATE);
    }

    public static Field datetime(String name) {
        return of(name, Type.DATETIME);
    }

    public static Field binary(String name) {
        return of(name, Type.BINARY);
    }

    public static Field password(String name) {
        return of(name, Type.PASSWORD);
    }

    /** A selection: {@code pairs} is value, label, value, label, ... */
    public static Field selection(String name, String... pairs) {
        if (pairs.length == 0 || pairs.length % 2 != 0) {
            throw new IllegalArgumentException("selection '" + name + "': give value, label pairs");
        }
        List<List<String>> options = new ArrayList<>();
        for (int i = 0; i < pairs.length; i += 2) {
            options.add(List.of(pairs[i], pairs[i + 1]));
        }
        Field field = of(name, Type.SELECTION);
        return field.copy(field.string, field.help, false, false, null, false, null, null, null, List.copyOf(options), null, null);
    }

    /** A reference to one record of {@code comodel}; deleting it empties the field ({@link #ondelete} to change). */
    public static Field many2one(String name, String comodel) {
        Field field = of(name, Type.MANY2ONE);
        return field.copy(field.string, null, false, false, null, false, model(comodel), null, null, null, "set null", null);
    }

    /** The records of {@code comodel} whose many2one {@code inverse} points here. */
    public static Field one2many(String name, String comodel, String inverse) {
        Field field = of(name, Type.ONE2MANY);
        return field.copy(field.string, null, false, false, null, false, model(comodel), Objects.requireNonNull(inverse),
                null, null, null, null);
    }

    /** Records of {@code comodel} linked through the table {@code relationTable} (this id, the comodel's id). */
    public static Field many2many(String name, String comodel, String relationTable) {
        if (relationTable == null || !relationTable.matches("[a-z][a-z0-9_]{0,62}")) {
            throw new IllegalArgumentException("many2many '" + name + "': relation table '" + relationTable + "'");
        }
        Field field = of(name, Type.MANY2MANY);
        return field.copy(field.string, null, false, false, null, false, model(comodel), null, relationTable, null, null, null);
    }

    private static String model(String comodel) {
        if (comodel == null || !comodel.matches("[a-z][a-z0-9_.]{0,62}")) {
            throw new IllegalArgumentException("model name '" + comodel + "'");
        }
        return comodel;
    }

    private Field copy(String string, String help, boolean required, boolean readonly, Object defaultValue, boolean index,
                       String comodel, String inverse, String relationTable, List<List<String>> selection,
                       String ondelete, String groups) {
        return new Field(name, type, string, help, required, readonly, defaultValue, index, comodel, inverse,
                relationTable, selection, ondelete, groups);
    }

    private Field with(String string, String help, boolean required, boolean readonly, Object defaultValue, boolean index,
                       String ondelete, String groups) {
        return copy(string, help, required, readonly, defaultValue, index, comodel, inverse, relationTable, selection,
                ondelete, groups);
    }

    /** The label clients show. */
    public Field string(String label) {
        return with(Objects.requireNonNull(label), help, required, readonly, defaultValue, index, ondelete, groups);
    }

    public Field help(String text) {
        return with(string, text, required, readonly, defaultValue, index, ondelete, groups);
    }

    /** A value must be given (or defaulted) on create, and cannot be emptied: {@code NOT NULL}. */
    public Field required() {
        return with(string, help, true, readonly, defaultValue, index, ondelete, groups);
    }

    /** Clients show it read-only; the server still writes it (as Odoo). */
    public Field readonly() {
        return with(string, help, required, true, defaultValue, index, ondelete, groups);
    }

    /** The value {@code create} and {@code default_get} give when none is given. */
    public Field defaultValue(Object value) {
        return with(string, help, required, readonly, value, index, ondelete, groups);
    }

    /** An index on the column. */
    public Field index() {
        return with(string, help, required, readonly, defaultValue, true, ondelete, groups);
    }

    /** A many2one's behaviour when its target is deleted: {@code set null}, {@code restrict} or {@code cascade}. */
    public Field ondelete(String behaviour) {
        if (type != Type.MANY2ONE || !List.of("set null", "restrict", "cascade").contains(behaviour)) {
            throw new IllegalArgumentException("ondelete '" + behaviour + "' on " + type.odooName() + " field " + name);
        }
        return with(string, help, required, readonly, defaultValue, index, behaviour, groups);
    }

    /** Only users of one of these groups (comma-separated full names, {@code base.group_system}) see the field. */
    public Field groups(String names) {
        return with(string, help, required, readonly, defaultValue, index, ondelete, names);
    }

    public String name() {
        return name;
    }

    public Type type() {
        return type;
    }

    public String string() {
        return string;
    }

    public String help() {
        return help;
    }

    public boolean isRequired() {
        return required;
    }

    public boolean isReadonly() {
        return readonly;
    }

    public Object defaultValue() {
        return defaultValue;
    }

    public boolean isIndexed() {
        return index;
    }

    /** The model a relational field points to; null otherwise. */
    public String comodel() {
        return comodel;
    }

    /** A one2many's many2one on the comodel; null otherwise. */
    public String inverse() {
        return inverse;
    }

    /** A many2many's relation table; null otherwise. */
    public String relationTable() {
        return relationTable;
    }

    /** A selection's [value, label] pairs; null otherwise. */
    public List<List<String>> selection() {
        return selection;
    }

    public String ondelete() {
        return ondelete;
    }

    /** The groups that may see the field; null for everyone who may read the model. */
    public String groups() {
        return groups;
    }

    /** Whether the field has a column in the model's table. */
    public boolean stored() {
        return type != Type.ONE2MANY && type != Type.MANY2MANY;
    }

    @Override
    public String toString() {
        return type.odooName() + " " + name;
    }
}
