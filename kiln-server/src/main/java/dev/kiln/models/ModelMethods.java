package dev.kiln.models;

import dev.kiln.api.Field;
import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;
import dev.kiln.auth.Passwords;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Odoo's standard model methods over a declared model, with Odoo's argument names and result
 * shapes: {@code search}, {@code search_count}, {@code search_read}, {@code read},
 * {@code fields_get}, {@code create}, {@code write}, {@code unlink}, {@code name_search},
 * {@code name_create}, {@code default_get}, {@code check_access_rights}, {@code check_access_rule},
 * {@code has_access}. Every query is built by {@link DomainSql} and {@link Order}: declared names,
 * bound values.
 */
final class ModelMethods {

    /** The standard methods by name; the value takes the call and the model it runs on. */
    static final List<String> NAMES = List.of("search", "search_count", "search_read", "read", "fields_get", "create",
            "write", "unlink", "name_search", "name_create", "name_get", "default_get", "check_access_rights",
            "check_access_rule", "has_access");

    private final Models models;
    private final Model model;
    private final RpcCall call;
    private final Connection connection;
    private final Access access;
    private final Map<String, Object> context;

    private ModelMethods(Models models, Model model, RpcCall call, Access access) {
        this.models = models;
        this.model = model;
        this.call = call;
        this.connection = call.env().connection();
        this.access = access;
        Object given = call.kwargs().get("context");
        Map<String, Object> context = new HashMap<>();
        if (given instanceof Map<?, ?> map) {
            map.forEach((k, v) -> context.put(String.valueOf(k), v));
        }
        this.context = context;
    }

    /** Runs the standard method {@code name} of {@code model}. */
    static Object run(Models models, Model model, String name, RpcCall call) throws SQLException {
        ModelMethods methods = new ModelMethods(models, model, call, Access.of(call.env().connection(), call.uid()));
        return switch (name) {
            case "search" -> methods.search();
            case "search_count" -> methods.searchCount();
            case "search_read" -> methods.searchRead();
            case "read" -> methods.read();
            case "fields_get" -> methods.fieldsGet();
            case "create" -> methods.create();
            case "write" -> methods.write();
            case "unlink" -> methods.unlink();
            case "name_search" -> methods.nameSearch();
            case "name_create" -> methods.nameCreate();
            case "name_get" -> methods.nameGet();
            case "default_get" -> methods.defaultGet();
            case "check_access_rights" -> methods.checkAccessRights();
            case "check_access_rule" -> methods.checkAccessRule();
            case "has_access" -> methods.hasAccess();
            default -> throw new IllegalArgumentException(name);
        };
    }

    // ---- searching

    /**
     * {@code search(domain, offset, limit, order)}: the ids. {@code count=True}, which Odoo took
     * until 16 and scripts written then still send, answers {@code search_count}'s number.
     */
    private Object search() throws SQLException {
        Params p = Params.bind(call, "search", 1, "domain", "offset", "limit", "order", "count");
        if (p.has("count") && Boolean.TRUE.equals(Values.toColumn(Field.Type.BOOLEAN, p.get("count"), "count"))) {
            return count(p.get("domain"), 0);
        }
        return new ArrayList<>(searchIds(p.get("domain"), p.natural("offset", 0), p.natural("limit", 0), p.text("order")));
    }

    private int searchCount() throws SQLException {
        Params p = Params.bind(call, "search_count", 1, "domain", "limit");
        return count(p.get("domain"), p.natural("limit", 0));
    }

    private int count(Object domain, int limit) throws SQLException {
        Sql sql = new Sql().append("SELECT count(*) FROM (SELECT 1 FROM ").append(model.table()).append(" t0 WHERE ")
                .append(where(Domain.parse(domain), true));
        if (limit > 0) {
            sql.append(" LIMIT ").param((long) limit);
        }
        sql.append(") c");
        try (PreparedStatement statement = sql.prepare(connection); ResultSet row = statement.executeQuery()) {
            row.next();
            return row.getInt(1);
        }
    }

    private List<Map<String, Object>> searchRead() throws SQLException {
        Params p = Params.bind(call, "search_read", 0, "domain", "fields", "offset", "limit", "order", "load");
        List<Long> ids = searchIds(p.get("domain"), p.natural("offset", 0), p.natural("limit", 0), p.text("order"));
        return rows(ids, fieldNames(p.names("fields")), !p.has("load") || "_classic_read".equals(p.get("load")), false);
    }

    private List<Long> searchIds(Object domain, int offset, int limit, String order) throws SQLException {
        Order sort = order == null ? model.order() : Order.parse(order, model);
        Sql sql = new Sql().append("SELECT t0.id FROM ").append(model.table()).append(" t0 WHERE ")
                .append(where(Domain.parse(domain), true)).append(" ORDER BY ").append(sort.sql(model, "t0", models));
        if (limit > 0) {
            sql.append(" LIMIT ").param((long) limit);
        }
        if (offset > 0) {
            sql.append(" OFFSET ").param((long) offset);
        }
        return ids(sql);
    }

    /** The WHERE of a read search: the ACL checked, the domain, the active filter, the read rules. */
    private Sql where(Domain domain, boolean activeTest) {
        access.check(model, "read");
        List<Domain> parts = new ArrayList<>(List.of(domain));
        if (activeTest && model.hasActive() && !Boolean.FALSE.equals(context.get("active_test")) && !domain.mentions("active")) {
            parts.add(new Domain.Leaf("active", "=", true));
        }
        DomainSql compiler = compiler();
        Sql where = compiler.compile(model, Domain.and(parts), "t0");
        Domain rules = access.rules(model, "read");
        return rules.equals(Domain.TRUE) ? where
                : new Sql().append("(").append(where).append(" AND ").append(compiler.sudo().compile(model, rules, "t0")).append(")");
    }

    private DomainSql compiler() {
        return new DomainSql(models, comodel -> access.rules(comodel, "read"), zone());
    }

    /** The context's time zone ({@code tz}), UTC when none or unknown. */
    private java.time.ZoneId zone() {
        if (context.get("tz") instanceof String tz && !tz.isBlank()) {
            try {
                return java.time.ZoneId.of(tz);
            } catch (java.time.DateTimeException unknown) {
                throw RpcFault.invalidValue("Invalid time zone " + Domain.repr(tz) + " in the context");
            }
        }
        return java.time.ZoneOffset.UTC;
    }

    private List<Long> ids(Sql sql) throws SQLException {
        List<Long> ids = new ArrayList<>();
        try (PreparedStatement statement = sql.prepare(connection); ResultSet rows = statement.executeQuery()) {
            while (rows.next()) {
                ids.add(rows.getLong(1));
            }
        }
        return ids;
    }

    // ---- reading

    private List<Map<String, Object>> read() throws SQLException {
        Params p = Params.bind(call, "read", 1, "ids", "fields", "load");
        List<Long> ids = Params.ids(p.get("ids"));
        access.check(model, "read");
        List<String> fields = fieldNames(p.names("fields"));
        return rows(ids, fields, !p.has("load") || "_classic_read".equals(p.get("load")), true);
    }

    /** The fields asked for, checked; all the user may read when none. */
    private List<String> fieldNames(List<String> asked) {
        if (asked == null) {
            return readable().stream().map(Field::name).toList();
        }
        List<String> names = new ArrayList<>();
        for (String name : asked) {
            Field field = model.fields().get(name);
            if (field == null) {
                throw RpcFault.invalidValue("Invalid field '" + name + "' on '" + model.name() + "'");
            }
            if (!visible(field)) {
                throw RpcFault.accessError("You do not have enough rights to access the field \"" + name + "\" on "
                        + model.description() + " (" + model.name() + "). Please contact your system administrator."
                        + "\n\nOperation: read");
            }
            if (!name.equals("id") && !names.contains(name)) {
                names.add(name);
            }
        }
        return names;
    }

    private List<Field> readable() {
        return model.fields().values().stream().filter(this::visible).filter(f -> !f.name().equals("id")).toList();
    }

    private boolean visible(Field field) {
        if (field.type() == Field.Type.PASSWORD) {
            return false;
        }
        return field.groups() == null || List.of(field.groups().split(",")).stream().map(String::strip).anyMatch(access::inGroup);
    }

    /**
     * The records {@code ids} with {@code fields}, in the order of {@code ids}; ids that do not
     * exist are left out. With {@code strict}, a record that exists but the read rules hide is an
     * access error (read), rather than left out (search_read found only what the rules let it).
     */
    private List<Map<String, Object>> rows(List<Long> ids, List<String> fields, boolean classic, boolean strict)
            throws SQLException {
        if (ids.isEmpty()) {
            return List.of();
        }
        Object[] wanted = new LinkedHashSet<>(ids).toArray();
        List<Field> columns = fields.stream().map(model.fields()::get).filter(f -> f.stored() && !f.name().equals("display_name"))
                .toList();
        Sql sql = new Sql().append("SELECT t0.id");
        for (Field column : columns) {
            sql.append(", t0.").append(column.name());
        }
        if (fields.contains("display_name") && model.recName() != null) {
            sql.append(", t0.").append(model.recName()).append(" AS display_name__");
        }
        Domain rules = access.rules(model, "read");
        sql.append(" FROM ").append(model.table()).append(" t0 WHERE t0.id = ANY(").param(new Sql.Array("bigint", wanted))
                .append(") AND ").append(compiler().sudo().compile(model, rules, "t0"));
        Map<Long, Map<String, Object>> found = new HashMap<>();
        try (PreparedStatement statement = sql.prepare(connection); ResultSet rows = statement.executeQuery()) {
            while (rows.next()) {
                Map<String, Object> record = new LinkedHashMap<>();
                long id = rows.getLong(1);
                record.put("id", (int) id);
                int index = 2;
                for (Field column : columns) {
                    record.put(column.name(), column.type() == Field.Type.DATETIME
                            ? rows.getObject(index++, java.time.LocalDateTime.class) : rows.getObject(index++));
                }
                if (fields.contains("display_name")) {
                    record.put("display_name", model.recName() == null ? model.name() + "," + id
                            : rows.getString("display_name__"));
                }
                found.put(id, record);
            }
        }
        if (strict && found.size() < wanted.length && !rules.equals(Domain.TRUE)) {
            Set<Long> missing = new LinkedHashSet<>(ids);
            missing.removeAll(found.keySet());
            if (!existing(missing).isEmpty()) {
                throw access.ruleError(model, "read");
            }
        }
        List<Map<String, Object>> result = new ArrayList<>();
        Set<Long> seen = new LinkedHashSet<>();
        for (long id : ids) {
            Map<String, Object> record = found.get(id);
            if (record != null && seen.add(id)) {
                result.add(record);
            }
        }
        format(result, fields, classic);
        return result;
    }

    /** Column values as the wire carries them, relational ones resolved, in the order asked. */
    private void format(List<Map<String, Object>> records, List<String> fields, boolean classic) throws SQLException {
        List<Long> ids = records.stream().map(r -> ((Integer) r.get("id")).longValue()).toList();
        Map<String, Map<Long, Object>> relational = new HashMap<>();
        for (String name : fields) {
            Field field = model.fields().get(name);
            switch (field.type()) {
                case MANY2ONE -> {
                    if (classic) {
                        Set<Long> targets = new LinkedHashSet<>();
                        records.forEach(r -> {
                            if (r.get(name) instanceof Number n) {
                                targets.add(n.longValue());
                            }
                        });
                        relational.put(name, new HashMap<>(names(models.require(field.comodel()), targets)));
                    }
                }
                case ONE2MANY, MANY2MANY -> relational.put(name, x2many(field, ids));
                default -> { }
            }
        }
        for (Map<String, Object> record : records) {
            Map<String, Object> ordered = new LinkedHashMap<>();
            ordered.put("id", record.get("id"));
            long id = ((Integer) record.get("id")).longValue();
            for (String name : fields) {
                Field field = model.fields().get(name);
                Object value = record.get(name);
                ordered.put(name, switch (field.type()) {
                    case MANY2ONE -> value instanceof Number n
                            ? classic ? List.of(n.intValue(), relational.get(name).getOrDefault(n.longValue(), model.name() + "," + n))
                            : n.intValue()
                            : Boolean.FALSE;
                    case ONE2MANY, MANY2MANY -> relational.get(name).getOrDefault(id, List.of());
                    default -> name.equals("display_name") ? value == null ? Boolean.FALSE : value
                            : Values.toWire(field.type(), value);
                });
            }
            record.clear();
            record.putAll(ordered);
        }
    }

    /** The display names of {@code ids} of {@code target}, as the superuser (Odoo reads them so). */
    private Map<Long, Object> names(Model target, Set<Long> ids) throws SQLException {
        Map<Long, Object> names = new HashMap<>();
        if (ids.isEmpty()) {
            return names;
        }
        if (target.recName() == null) {
            ids.forEach(id -> names.put(id, target.name() + "," + id));
            return names;
        }
        Sql sql = new Sql().append("SELECT id, ").append(target.recName()).append(" FROM ").append(target.table())
                .append(" WHERE id = ANY(").param(new Sql.Array("bigint", ids.toArray())).append(")");
        try (PreparedStatement statement = sql.prepare(connection); ResultSet rows = statement.executeQuery()) {
            while (rows.next()) {
                names.put(rows.getLong(1), rows.getString(2) == null ? Boolean.FALSE : rows.getString(2));
            }
        }
        return names;
    }

    /**
     * Each record's ids of an x2many, in the comodel's order; inactive ones left out unless
     * active_test is false, and those the comodel's read rules hide from the caller always.
     */
    private Map<Long, Object> x2many(Field field, List<Long> ids) throws SQLException {
        Model comodel = models.require(field.comodel());
        String owner = field.type() == Field.Type.ONE2MANY ? "t0." + field.inverse() : "r." + Models.relationColumns(model, field)[0];
        Sql sql = new Sql().append("SELECT ").append(owner).append(", t0.id FROM ").append(comodel.table()).append(" t0");
        if (field.type() == Field.Type.MANY2MANY) {
            sql.append(" JOIN ").append(field.relationTable()).append(" r ON r.").append(Models.relationColumns(model, field)[1])
                    .append(" = t0.id");
        }
        sql.append(" WHERE ").append(owner).append(" = ANY(").param(new Sql.Array("bigint", ids.toArray())).append(")");
        if (comodel.hasActive() && !Boolean.FALSE.equals(context.get("active_test"))) {
            sql.append(" AND t0.active");
        }
        Domain rules = access.rules(comodel, "read");
        if (!rules.equals(Domain.TRUE)) {          // ids a rule hides stay hidden here too, as Odoo's x2many reads
            sql.append(" AND ").append(compiler().sudo().compile(comodel, rules, "t0"));
        }
        sql.append(" ORDER BY ").append(comodel.order().sql(comodel, "t0", models));
        Map<Long, Object> values = new HashMap<>();
        try (PreparedStatement statement = sql.prepare(connection); ResultSet rows = statement.executeQuery()) {
            while (rows.next()) {
                @SuppressWarnings("unchecked")
                List<Object> list = (List<Object>) values.computeIfAbsent(rows.getLong(1), k -> new ArrayList<>());
                list.add(rows.getInt(2));
            }
        }
        return values;
    }

    private Set<Long> existing(Set<Long> ids) throws SQLException {
        Sql sql = new Sql().append("SELECT id FROM ").append(model.table()).append(" WHERE id = ANY(")
                .param(new Sql.Array("bigint", ids.toArray())).append(")");
        return new LinkedHashSet<>(ids(sql));
    }

    // ---- describing

    private Map<String, Object> fieldsGet() {
        Params p = Params.bind(call, "fields_get", 0, "allfields", "attributes");
        List<String> only = p.names("allfields");
        List<String> attributes = p.names("attributes");
        Map<String, Object> result = new LinkedHashMap<>();
        for (Field field : model.fields().values()) {
            if (!visible(field) || only != null && !only.contains(field.name())) {
                continue;
            }
            Map<String, Object> description = describe(field);
            if (attributes != null) {
                description.keySet().retainAll(attributes);
            }
            result.put(field.name(), description);
        }
        return result;
    }

    /** {@code fields_get}'s attributes of {@code field}; those Odoo leaves out when None are left out. */
    Map<String, Object> describe(Field field) {
        boolean computed = field.name().equals("display_name");
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("type", field.type().odooName());
        d.put("string", field.string());
        if (field.help() != null) {
            d.put("help", field.help());
        }
        d.put("name", field.name());
        d.put("store", !computed && field.type() != Field.Type.ONE2MANY);
        d.put("manual", false);
        d.put("readonly", field.isReadonly() || computed || field.name().equals("id") || Model.LOG_FIELDS.contains(field.name())
                || !access.allowed(model, "write"));
        d.put("required", field.isRequired());
        d.put("searchable", true);
        d.put("sortable", field.stored() && !computed);
        d.put("groupable", field.stored() && !computed && field.type() != Field.Type.TEXT && field.type() != Field.Type.HTML
                && field.type() != Field.Type.BINARY);
        d.put("exportable", true);
        d.put("company_dependent", false);
        d.put("depends", computed && model.recName() != null ? List.of(model.recName()) : List.of());
        if (field.groups() != null) {
            d.put("groups", field.groups());
        }
        switch (field.type()) {
            case MANY2ONE, ONE2MANY, MANY2MANY -> {
                d.put("relation", field.comodel());
                d.put("context", Map.of());
                d.put("domain", List.of());
                if (field.type() == Field.Type.ONE2MANY) {
                    d.put("relation_field", field.inverse());
                }
                if (field.type() == Field.Type.MANY2ONE) {
                    d.put("on_delete", field.ondelete() == null ? "set null" : field.ondelete());
                }
            }
            case SELECTION -> d.put("selection", field.selection());
            case CHAR, TEXT, HTML -> d.put("translate", false);
            default -> { }
        }
        return d;
    }

    private Map<String, Object> defaultGet() {
        Params p = Params.bind(call, "default_get", 1, "fields");
        List<String> names = p.names("fields");
        Map<String, Object> defaults = new LinkedHashMap<>();
        for (String name : names == null ? List.<String>of() : names) {
            Field field = model.fields().get(name);
            if (field == null) {
                continue;                     // Odoo skips names that are not fields
            }
            Object value = context.containsKey("default_" + name) ? context.get("default_" + name) : field.defaultValue();
            if (value != null) {
                defaults.put(name, value);
            }
        }
        return defaults;
    }

    // ---- writing

    private Object create() throws SQLException {
        Params p = Params.bind(call, "create", 1, "vals_list");
        Object given = p.get("vals_list");
        boolean single = given instanceof Map<?, ?> && !call.args().isEmpty();   // execute_kw's one dict: one id
        List<?> list = given instanceof Map<?, ?> one ? List.of(one) : given instanceof List<?> many ? many : null;
        if (list == null || !list.stream().allMatch(v -> v instanceof Map<?, ?>)) {
            throw RpcFault.badArguments("create() takes a dict of values or a list of them, not " + Domain.repr(given));
        }
        access.check(model, "create");
        List<Object> ids = new ArrayList<>();
        for (Object vals : list) {
            ids.add((int) insert(values((Map<?, ?>) vals)));
        }
        Domain rules = access.rules(model, "create");
        if (!rules.equals(Domain.TRUE)) {
            List<Long> created = ids.stream().map(id -> ((Integer) id).longValue()).toList();
            if (!matching(created, rules).containsAll(created)) {
                throw access.ruleError(model, "create");
            }
        }
        return single ? ids.getFirst() : ids;
    }

    private Map<String, Object> values(Map<?, ?> given) {
        Map<String, Object> values = new LinkedHashMap<>();
        given.forEach((k, v) -> values.put(String.valueOf(k), v));
        return values;
    }

    private long insert(Map<String, Object> vals) throws SQLException {
        Map<String, Object> all = new LinkedHashMap<>();
        for (Field field : model.fields().values()) {
            if (field.name().equals("id") || field.name().equals("display_name") || Model.LOG_FIELDS.contains(field.name())) {
                continue;
            }
            Object value = context.containsKey("default_" + field.name()) ? context.get("default_" + field.name())
                    : field.defaultValue();
            if (value != null) {
                all.put(field.name(), value);
            }
        }
        for (Map.Entry<String, Object> entry : vals.entrySet()) {
            String name = entry.getKey();
            if (name.equals("id") || Model.LOG_FIELDS.contains(name)) {
                continue;
            }
            if (!model.fields().containsKey(name) || name.equals("display_name")) {
                throw RpcFault.invalidValue("Invalid field '" + name + "' in '" + model.name() + "'");
            }
            all.put(name, entry.getValue());
        }
        for (Field field : model.fields().values()) {
            if (field.isRequired() && field.stored() && empty(field, all.get(field.name()))) {
                throw missing(field);
            }
        }
        Sql sql = new Sql().append("INSERT INTO ").append(model.table()).append(" (create_uid, write_uid, create_date, write_date");
        Sql bound = new Sql().append(") VALUES (").param(access.uid()).append(", ").param(access.uid())
                .append(", now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'");
        Map<Field, Object> later = new LinkedHashMap<>();
        for (Map.Entry<String, Object> entry : all.entrySet()) {
            Field field = model.fields().get(entry.getKey());
            if (!field.stored()) {
                later.put(field, entry.getValue());
                continue;
            }
            sql.append(", ").append(field.name());
            bound.append(", ").param(column(field, entry.getValue()));
        }
        sql.append(bound).append(") RETURNING id");
        long id;
        try (PreparedStatement statement = sql.prepare(connection); ResultSet row = statement.executeQuery()) {
            row.next();
            id = row.getLong(1);
        }
        for (Map.Entry<Field, Object> entry : later.entrySet()) {
            commands(entry.getKey(), id, entry.getValue());
        }
        return id;
    }

    private Object column(Field field, Object value) {
        if (field.type() == Field.Type.PASSWORD) {
            if (!(value instanceof String password) || password.isEmpty()) {
                throw RpcFault.validationError("A password must be a non-empty string");
            }
            return Passwords.hash(password);
        }
        Object given = value;
        if (field.type() == Field.Type.SELECTION && !Values.isFalse(given)
                && field.selection().stream().noneMatch(option -> option.getFirst().equals(given))) {
            throw RpcFault.invalidValue("Wrong value for " + model.name() + "." + field.name() + ": " + Domain.repr(value));
        }
        if (field.type() == Field.Type.MANY2ONE && value instanceof List<?> pair && !pair.isEmpty()) {
            value = pair.getFirst();          // [id, name] as read gives it
        }
        return Values.toColumn(field.type(), value, model.name() + "." + field.name());
    }

    /** No value for a required field: none or False (False is a boolean's value), or empty text. */
    private static boolean empty(Field field, Object value) {
        return field.type() == Field.Type.BOOLEAN ? value == null : Values.isFalse(value) || "".equals(value);
    }

    private RpcFault missing(Field field) {
        return RpcFault.validationError("Missing required value for the field '" + field.string() + "' (" + field.name()
                + ").\nModel: '" + model.description() + "' (" + model.name() + ")");
    }

    private boolean write() throws SQLException {
        Params p = Params.bind(call, "write", 2, "ids", "vals");
        List<Long> ids = Params.ids(p.get("ids"));
        if (!(p.get("vals") instanceof Map<?, ?> given)) {
            throw RpcFault.badArguments("write() takes a dict of values, not " + Domain.repr(p.get("vals")));
        }
        if (ids.isEmpty()) {
            return true;
        }
        access.check(model, "write");
        checkRecords(ids, "write");
        Sql sql = new Sql().append("UPDATE ").append(model.table()).append(" SET write_uid = ").param(access.uid())
                .append(", write_date = now() AT TIME ZONE 'UTC'");
        Map<Field, Object> later = new LinkedHashMap<>();
        for (Map.Entry<String, Object> entry : values(given).entrySet()) {
            String name = entry.getKey();
            if (name.equals("id") || Model.LOG_FIELDS.contains(name)) {
                continue;                      // Odoo drops them silently
            }
            Field field = model.fields().get(name);
            if (field == null || name.equals("display_name")) {
                throw RpcFault.invalidValue("Invalid field '" + name + "' in '" + model.name() + "'");
            }
            if (!field.stored()) {
                later.put(field, entry.getValue());
                continue;
            }
            if (field.isRequired() && empty(field, entry.getValue())) {
                throw missing(field);
            }
            sql.append(", ").append(name).append(" = ").param(column(field, entry.getValue()));
        }
        sql.append(" WHERE id = ANY(").param(new Sql.Array("bigint", ids.toArray())).append(")");
        try (PreparedStatement statement = sql.prepare(connection)) {
            statement.executeUpdate();
        }
        for (long id : new LinkedHashSet<>(ids)) {
            for (Map.Entry<Field, Object> entry : later.entrySet()) {
                commands(entry.getKey(), id, entry.getValue());
            }
        }
        return true;
    }

    private boolean unlink() throws SQLException {
        Params p = Params.bind(call, "unlink", 1, "ids");
        List<Long> ids = Params.ids(p.get("ids"));
        if (ids.isEmpty()) {
            return true;
        }
        access.check(model, "unlink");
        checkRecords(ids, "unlink");
        Sql sql = new Sql().append("DELETE FROM ").append(model.table()).append(" WHERE id = ANY(")
                .param(new Sql.Array("bigint", ids.toArray())).append(")");
        try (PreparedStatement statement = sql.prepare(connection)) {
            statement.executeUpdate();
        }
        return true;
    }

    /** Every record of {@code ids} exists (else Odoo's MissingError) and the rules of {@code operation} let it be touched. */
    private void checkRecords(List<Long> ids, String operation) throws SQLException {
        Set<Long> wanted = new LinkedHashSet<>(ids);
        Set<Long> present = existing(wanted);
        if (!present.containsAll(wanted) && operation.equals("write")) {
            Set<Long> gone = new LinkedHashSet<>(wanted);
            gone.removeAll(present);
            throw RpcFault.missingError("Record does not exist or has been deleted.\n(Record: " + model.name() + "("
                    + gone.stream().map(String::valueOf).reduce((a, b) -> a + ", " + b).orElse("") + "), User: " + access.uid() + ")");
        }
        Domain rules = access.rules(model, operation);
        if (!rules.equals(Domain.TRUE) && !matching(List.copyOf(present), rules).containsAll(present)) {
            throw access.ruleError(model, operation);
        }
    }

    private Set<Long> matching(List<Long> ids, Domain domain) throws SQLException {
        Sql sql = new Sql().append("SELECT t0.id FROM ").append(model.table()).append(" t0 WHERE t0.id = ANY(")
                .param(new Sql.Array("bigint", ids.toArray())).append(") AND ")
                .append(new DomainSql(models, comodel -> Domain.TRUE).compile(model, domain, "t0"));
        return new LinkedHashSet<>(ids(sql));
    }

    /**
     * An x2many's value on write: Odoo's commands ({@code (6, 0, ids)} set, {@code (4, id)} link,
     * {@code (3, id)} unlink, {@code (5,)} clear, {@code (0, 0, vals)} create, {@code (2, id)}
     * delete) or a plain list of ids (set).
     */
    private void commands(Field field, long id, Object value) throws SQLException {
        if (!(value instanceof List<?> list)) {
            throw RpcFault.badArguments(field.name() + ": a list of commands or ids, not " + Domain.repr(value));
        }
        Model comodel = models.require(field.comodel());
        if (list.stream().allMatch(v -> v instanceof Number)) {
            relink(field, comodel, id, Params.ids(list), true);
            return;
        }
        for (Object item : list) {
            if (!(item instanceof List<?> command) || command.isEmpty() || !(command.getFirst() instanceof Number code)) {
                throw RpcFault.badArguments(field.name() + ": invalid command " + Domain.repr(item));
            }
            Object second = command.size() > 1 ? command.get(1) : null;
            Object third = command.size() > 2 ? command.get(2) : null;
            switch (code.intValue()) {
                case 0 -> {
                    if (!(third instanceof Map<?, ?> vals)) {
                        throw RpcFault.badArguments(field.name() + ": (0, 0, values) needs values");
                    }
                    Map<String, Object> child = values(vals);
                    if (field.type() == Field.Type.ONE2MANY) {
                        child.put(field.inverse(), id);
                    }
                    Object made = callModel(comodel, "create", List.of(child));
                    long created = ((Number) made).longValue();
                    if (field.type() == Field.Type.MANY2MANY) {
                        relink(field, comodel, id, List.of(created), false);
                    }
                }
                case 1 -> callModel(comodel, "write", List.of(List.of(second), third == null ? Map.of() : third));
                case 2 -> callModel(comodel, "unlink", List.of(List.of(second)));
                case 3 -> unlinkOne(field, comodel, id, Params.ids(second));
                case 4 -> relink(field, comodel, id, Params.ids(second), false);
                case 5 -> relink(field, comodel, id, List.of(), true);
                case 6 -> relink(field, comodel, id, Params.ids(third), true);
                default -> throw RpcFault.badArguments(field.name() + ": unknown command " + code);
            }
        }
    }

    /**
     * {@code comodel}'s method {@code name} as its addons made it (their overrides included), for a
     * command on an x2many or {@code name_create}: what the caller would get calling it directly.
     */
    private Object callModel(Model comodel, String name, List<Object> args) throws SQLException {
        try {
            return comodel.methods().get(name).invoke(new RpcCall(call.env(), call.uid(), args, Map.of()));
        } catch (SQLException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(comodel.name() + "." + name + " failed: " + e.getMessage(), e);
        }
    }

    private void relink(Field field, Model comodel, long id, List<Long> targets, boolean replace) throws SQLException {
        if (field.type() == Field.Type.ONE2MANY) {
            if (replace) {
                Sql clear = new Sql().append("UPDATE ").append(comodel.table()).append(" SET ").append(field.inverse())
                        .append(" = NULL WHERE ").append(field.inverse()).append(" = ").param(id);
                execute(clear);
            }
            if (!targets.isEmpty()) {
                execute(new Sql().append("UPDATE ").append(comodel.table()).append(" SET ").append(field.inverse()).append(" = ")
                        .param(id).append(" WHERE id = ANY(").param(new Sql.Array("bigint", targets.toArray())).append(")"));
            }
            return;
        }
        String[] columns = Models.relationColumns(model, field);
        if (replace) {
            execute(new Sql().append("DELETE FROM ").append(field.relationTable()).append(" WHERE ").append(columns[0])
                    .append(" = ").param(id));
        }
        for (long target : targets) {
            execute(new Sql().append("INSERT INTO ").append(field.relationTable()).append(" (").append(columns[0]).append(", ")
                    .append(columns[1]).append(") VALUES (").param(id).append(", ").param(target).append(") ON CONFLICT DO NOTHING"));
        }
    }

    private void unlinkOne(Field field, Model comodel, long id, List<Long> targets) throws SQLException {
        if (targets.isEmpty()) {
            return;
        }
        if (field.type() == Field.Type.ONE2MANY) {
            execute(new Sql().append("UPDATE ").append(comodel.table()).append(" SET ").append(field.inverse())
                    .append(" = NULL WHERE id = ANY(").param(new Sql.Array("bigint", targets.toArray())).append(")"));
            return;
        }
        String[] columns = Models.relationColumns(model, field);
        execute(new Sql().append("DELETE FROM ").append(field.relationTable()).append(" WHERE ").append(columns[0]).append(" = ")
                .param(id).append(" AND ").append(columns[1]).append(" = ANY(").param(new Sql.Array("bigint", targets.toArray()))
                .append(")"));
    }

    private void execute(Sql sql) throws SQLException {
        try (PreparedStatement statement = sql.prepare(connection)) {
            statement.executeUpdate();
        }
    }

    // ---- names

    private List<Object> nameSearch() throws SQLException {
        Params p = Params.bind(call, "name_search", 0, "name", "domain", "operator", "limit");
        String name = p.has("name") ? p.text("name") : "";
        String operator = p.text("operator") == null ? "ilike" : p.text("operator");
        int limit = p.has("limit") ? p.natural("limit", 0) : 100;
        if (model.recName() == null) {
            throw RpcFault.userError("Model " + model.name() + " has no name to search");
        }
        List<Object> domain = new ArrayList<>();
        if (!(name == null || name.isEmpty()) || !operator.endsWith("like")) {
            domain.add(List.of("display_name", operator, name == null ? Boolean.FALSE : name));
        }
        Object extra = p.get("domain");
        if (extra instanceof List<?> more) {
            domain.addAll(more);
        } else if (!Values.isFalse(extra)) {
            throw RpcFault.badArguments("name_search() domain must be a list");
        }
        List<Long> ids = searchIds(domain, 0, limit, null);
        Map<Long, Object> names = names(model, new LinkedHashSet<>(ids));
        List<Object> result = new ArrayList<>();
        for (long id : ids) {
            result.add(List.of((int) id, names.getOrDefault(id, Boolean.FALSE)));
        }
        return result;
    }

    /**
     * {@code name_get(ids)}: {@code [[id, display_name]]}. Gone from Odoo 17 on (read
     * {@code display_name} instead), kept here for the scripts and clients written before.
     */
    private List<Object> nameGet() throws SQLException {
        Params p = Params.bind(call, "name_get", 1, "ids");
        access.check(model, "read");
        List<Map<String, Object>> records = rows(Params.ids(p.get("ids")), List.of("display_name"), true, true);
        List<Object> result = new ArrayList<>();
        for (Map<String, Object> record : records) {
            result.add(List.of(record.get("id"), record.get("display_name")));
        }
        return result;
    }

    private List<Object> nameCreate() throws SQLException {
        Params p = Params.bind(call, "name_create", 1, "name");
        String name = p.text("name");
        if (model.recName() == null || name == null) {
            return Collections.singletonList(Boolean.FALSE);
        }
        Object made = callModel(model, "create", List.of(List.of(new LinkedHashMap<>(Map.of(model.recName(), name)))));
        long id = ((Number) ((List<?>) made).getFirst()).longValue();       // create, overrides and rules included
        return List.of((int) id, names(model, Set.of(id)).getOrDefault(id, name));
    }

    // ---- access

    private Object checkAccessRights() {
        Params p = Params.bind(call, "check_access_rights", 1, "operation", "raise_exception");
        String operation = operation(p.get("operation"));
        boolean raise = !p.has("raise_exception") || Boolean.TRUE.equals(Values.toColumn(Field.Type.BOOLEAN,
                p.get("raise_exception"), "raise_exception"));
        if (raise) {
            access.check(model, operation);
            return true;         // Odoo returns None here, which XML-RPC cannot carry
        }
        return access.allowed(model, operation);
    }

    private boolean checkAccessRule() throws SQLException {
        Params p = Params.bind(call, "check_access_rule", 2, "ids", "operation");
        String operation = operation(p.get("operation"));
        List<Long> ids = Params.ids(p.get("ids"));
        Domain rules = access.rules(model, operation);
        if (!ids.isEmpty() && !rules.equals(Domain.TRUE)) {
            Set<Long> present = existing(new LinkedHashSet<>(ids));
            if (!matching(List.copyOf(present), rules).containsAll(present)) {
                throw access.ruleError(model, operation);
            }
        }
        return true;
    }

    private boolean hasAccess() throws SQLException {
        Params p = Params.bind(call, "has_access", 2, "ids", "operation");
        String operation = operation(p.get("operation"));
        if (!access.allowed(model, operation)) {
            return false;
        }
        List<Long> ids = Params.ids(p.get("ids"));
        Domain rules = access.rules(model, operation);
        if (ids.isEmpty() || rules.equals(Domain.TRUE)) {
            return true;
        }
        Set<Long> present = existing(new LinkedHashSet<>(ids));
        return matching(List.copyOf(present), rules).containsAll(present);
    }

    private static String operation(Object value) {
        if (!(value instanceof String operation) || !List.of("read", "write", "create", "unlink").contains(operation)) {
            throw RpcFault.invalidValue("Invalid access mode " + Domain.repr(value) + ": read, write, create or unlink");
        }
        return operation;
    }
}
