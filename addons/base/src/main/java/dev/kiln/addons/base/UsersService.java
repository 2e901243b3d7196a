package dev.kiln.addons.base;

import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code res.users} on the external API, limited to what a user may see of themselves: their own
 * record through {@code read} and {@code search_read}, and {@code check_access_rights} saying so.
 * Fields: {@code id}, {@code login}, {@code name}, {@code active}, {@code create_date},
 * {@code write_date} (never the password).
 */
public final class UsersService {

    private static final Set<String> FIELDS = Set.of("id", "login", "name", "active", "create_date", "write_date");
    private static final List<String> DEFAULT_FIELDS = List.of("id", "login", "name", "active", "create_date", "write_date");

    /**
     * {@code read(ids, fields=None)}: the caller's own record, with its {@code id} whatever the
     * fields asked; {@code ids} a list or one bare id, as Odoo browses it. Any other id is an access
     * error.
     */
    public List<Map<String, Object>> read(RpcCall call) throws SQLException {
        Object given = call.arg(0, "ids", Object.class);
        List<?> ids = given instanceof Number one ? List.of(one) : call.arg(0, "ids", List.class);
        for (Object id : ids) {
            if (!(id instanceof Number number) || number.longValue() != call.uid()) {
                throw RpcFault.accessError("You may only read your own user record (id " + call.uid() + "), not " + id);
            }
        }
        List<String> fields = fields(call, 1);
        return ids.isEmpty() ? List.of() : List.of(own(call, fields));
    }

    /**
     * {@code search_read(domain=[], fields=None)}: the caller's own record when it matches the
     * domain, whose terms may be {@code [field, op, value]} with {@code =}, {@code !=} or {@code in}
     * on the fields above.
     */
    public List<Map<String, Object>> search_read(RpcCall call) throws SQLException {
        List<?> domain = call.args().isEmpty() ? call.kwarg("domain", List.class, List.of()) : call.arg(0, List.class);
        List<String> fields = fields(call, 1);
        Map<String, Object> all = own(call, DEFAULT_FIELDS);
        for (Object term : domain) {
            if (!matches(term, all)) {
                return List.of();
            }
        }
        Map<String, Object> picked = new LinkedHashMap<>();
        fields.forEach(f -> picked.put(f, all.get(f)));
        return List.of(picked);
    }

    /**
     * {@code check_access_rights(operation, raise_exception=True)}: a user may read; creating,
     * writing and deleting users are not offered here.
     */
    public boolean check_access_rights(RpcCall call) {
        String operation = call.arg(0, "operation", String.class);
        boolean raise = call.kwarg("raise_exception", Boolean.class, Boolean.TRUE);
        boolean allowed = switch (operation) {
            case "read" -> true;
            case "write", "create", "unlink" -> false;
            default -> throw RpcFault.userError("unknown operation '" + operation + "'; read, write, create or unlink");
        };
        if (!allowed && raise) {
            throw RpcFault.accessError("You are not allowed to " + operation + " users (res.users) through the external API");
        }
        return allowed;
    }

    private static List<String> fields(RpcCall call, int index) {
        Object given = call.args().size() > index ? call.args().get(index) : call.kwargs().get("fields");
        if (given == null || (given instanceof List<?> list && list.isEmpty())) {
            return DEFAULT_FIELDS;
        }
        if (!(given instanceof List<?> list)) {
            throw RpcFault.userError("fields must be a list of names");
        }
        List<String> fields = new ArrayList<>(List.of("id"));     // always sent, as Odoo does
        for (Object field : list) {
            if ("id".equals(field)) {
                continue;
            }
            if (!(field instanceof String name) || !FIELDS.contains(name)) {
                throw RpcFault.userError("res.users has no field " + field + " here; fields: " + DEFAULT_FIELDS);
            }
            fields.add(name);
        }
        return fields;
    }

    private static Map<String, Object> own(RpcCall call, List<String> fields) throws SQLException {
        try (PreparedStatement query = call.env().connection().prepareStatement(
                "SELECT id, login, name, active, create_date, write_date FROM res_users WHERE id = ?")) {
            query.setLong(1, call.uid());
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) {
                    throw RpcFault.accessDenied("Access Denied");
                }
                Map<String, Object> record = new LinkedHashMap<>();
                for (String field : fields) {
                    record.put(field, switch (field) {
                        case "id" -> row.getInt("id");
                        case "active" -> row.getBoolean("active");
                        case "create_date", "write_date" -> row.getObject(field, java.time.OffsetDateTime.class)
                                .withOffsetSameInstant(ZoneOffset.UTC).toLocalDateTime();
                        default -> row.getString(field);
                    });
                }
                return record;
            }
        }
    }

    private static boolean matches(Object term, Map<String, Object> record) {
        if (!(term instanceof List<?> leaf) || leaf.size() != 3 || !(leaf.get(0) instanceof String field)
                || !(leaf.get(1) instanceof String operator) || !FIELDS.contains(field)) {
            throw RpcFault.userError("unsupported domain term " + term + "; use [field, operator, value]");
        }
        Object actual = record.get(field);
        Object value = leaf.get(2);
        return switch (operator) {
            case "=" -> same(actual, value);
            case "!=" -> !same(actual, value);
            case "in" -> value instanceof List<?> values && values.stream().anyMatch(v -> same(actual, v));
            default -> throw RpcFault.userError("unsupported operator '" + operator + "'; =, != or in");
        };
    }

    private static boolean same(Object actual, Object value) {
        if (actual instanceof Number a && value instanceof Number b) {
            return a.longValue() == b.longValue();
        }
        return java.util.Objects.equals(actual, value);
    }
}
