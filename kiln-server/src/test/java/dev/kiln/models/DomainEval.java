package dev.kiln.models;

import dev.kiln.api.Field;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A domain evaluated on rows held in memory, written from Odoo's rules rather than from the SQL:
 * the oracle the SQL {@link DomainSql} makes is compared with. Rows are maps of column values as
 * the database holds them (null for no value); {@code parent_id} holds the parent's id.
 */
final class DomainEval {

    private final Model model;
    private final Map<Long, Map<String, Object>> rows;

    DomainEval(Model model, Map<Long, Map<String, Object>> rows) {
        this.model = model;
        this.rows = rows;
    }

    Set<Long> select(Domain domain) {
        Set<Long> ids = new HashSet<>();
        for (Map.Entry<Long, Map<String, Object>> row : rows.entrySet()) {
            if (test(domain, row.getKey(), row.getValue())) {
                ids.add(row.getKey());
            }
        }
        return ids;
    }

    private boolean test(Domain domain, long id, Map<String, Object> row) {
        return switch (domain) {
            case Domain.Bool bool -> bool.value();
            case Domain.Not not -> !test(not.operand(), id, row);
            case Domain.And and -> and.operands().stream().allMatch(d -> test(d, id, row));
            case Domain.Or or -> or.operands().stream().anyMatch(d -> test(d, id, row));
            case Domain.Leaf leaf -> leaf(leaf, id, row);
        };
    }

    private boolean leaf(Domain.Leaf leaf, long id, Map<String, Object> row) {
        List<String> steps = leaf.steps();
        String name = steps.getFirst();
        Field field = model.fields().get(name);
        if (steps.size() > 1) {               // through parent_id
            Object parent = row.get(name);
            if (parent == null) {
                return false;
            }
            Domain.Leaf rest = new Domain.Leaf(String.join(".", steps.subList(1, steps.size())), leaf.operator(), leaf.value());
            return leaf(rest, (Long) parent, rows.get((Long) parent));
        }
        String op = leaf.operator();
        Object value = leaf.value();
        Object actual = name.equals("id") ? (Object) id : row.get(name);
        if (op.equals("child_of") || op.equals("parent_of")) {
            Set<Long> tree = tree(op, value);
            return actual != null && tree.contains(((Number) actual).longValue());
        }
        if (op.equals("=?")) {
            if (Values.isFalse(value) || "".equals(value)) {
                return true;
            }
            op = "=";
        }
        if (field.type() == Field.Type.MANY2ONE && (value instanceof String || value instanceof List<?> l && !l.isEmpty()
                && l.stream().allMatch(v -> v instanceof String))) {
            boolean negative = op.startsWith("not ") || op.equals("!=");
            String positive = negative ? (op.equals("!=") ? "=" : op.substring(4)) : op;
            boolean match = actual != null && leaf(new Domain.Leaf("name", positive, value), (Long) actual, rows.get((Long) actual));
            return negative != match;
        }
        if (field.type() == Field.Type.ONE2MANY) {        // has one of the ids among its children; False: has none
            List<Object> values = value instanceof List<?> list ? new ArrayList<>(list) : java.util.Collections.singletonList(value);
            Set<Long> children = new HashSet<>();
            rows.forEach((child, r) -> {
                if (Long.valueOf(id).equals(r.get("parent_id"))) {
                    children.add(child);
                }
            });
            boolean match = values.stream().anyMatch(v -> Values.isFalse(v) ? children.isEmpty()
                    : children.contains(((Number) v).longValue()));
            return (op.equals("!=") || op.equals("not in")) != match;
        }
        Object falsy = switch (field.type()) {
            case CHAR, TEXT, HTML -> "";
            case INTEGER -> 0L;
            case FLOAT -> 0.0;
            case BOOLEAN -> false;
            default -> null;
        };
        return switch (op) {
            case "=", "in" -> in(field, actual, value, falsy);
            case "!=", "not in" -> !in(field, actual, value, falsy);
            case "<", ">", "<=", ">=" -> {
                if (Values.isFalse(value) && field.type() != Field.Type.BOOLEAN) {
                    yield false;
                }
                Object bound = Values.toColumn(field.type(), value, name);
                yield actual != null ? DomainSql.satisfies(actual, op, bound)
                        : falsy != null && DomainSql.satisfies(falsy, op, bound);
            }
            default -> like(field, actual, op, value, falsy);
        };
    }

    private boolean in(Field field, Object actual, Object value, Object falsy) {
        List<Object> values = value instanceof List<?> list ? new ArrayList<>(list) : java.util.Collections.singletonList(value);
        boolean withFalse = false;
        Set<Object> typed = new HashSet<>();
        for (Object one : values) {
            Object bound = field.type() == Field.Type.BOOLEAN ? Values.toColumn(Field.Type.BOOLEAN, one, field.name())
                    : Values.isFalse(one) ? null : Values.toColumn(field.type(), one, field.name());
            if (bound == null || Boolean.FALSE.equals(bound) && field.type() == Field.Type.BOOLEAN) {
                withFalse = true;
            } else {
                typed.add(bound);
            }
        }
        if (actual != null && typed.contains(actual)) {
            return true;
        }
        return withFalse && (actual == null || falsy != null && falsy.equals(actual));
    }

    private boolean like(Field field, Object actual, String op, Object value, Object falsy) {
        boolean negative = op.startsWith("not ");
        String base = negative ? op.substring(4) : op;
        boolean exact = base.startsWith("=");
        String pattern = value instanceof String s ? s : Values.isFalse(value) ? "" : String.valueOf(value);
        if (pattern.isEmpty()) {
            if (exact) {
                boolean empty = actual == null || falsy != null && falsy.equals(actual);
                return negative != empty;
            }
            return !negative;
        }
        boolean match = actual != null && matches(String.valueOf(actual), exact ? pattern : "%" + pattern + "%",
                base.endsWith("ilike"));
        return negative != match;
    }

    /** SQL's LIKE: % any run, _ one character, no escapes. */
    private static boolean matches(String text, String pattern, boolean ignoreCase) {
        StringBuilder regex = new StringBuilder();
        for (char c : pattern.toCharArray()) {
            regex.append(c == '%' ? ".*" : c == '_' ? "." : Pattern.quote(String.valueOf(c)));
        }
        Pattern compiled = Pattern.compile(regex.toString(), Pattern.DOTALL | (ignoreCase ? Pattern.CASE_INSENSITIVE : 0));
        return compiled.matcher(ignoreCase ? text.toLowerCase(Locale.ROOT) : text).matches();
    }

    /** The ids given (those that exist) and all below them (child_of) or above them (parent_of). */
    private Set<Long> tree(String op, Object value) {
        Set<Long> found = new HashSet<>();
        if (Values.isFalse(value)) {
            return found;
        }
        List<?> start = value instanceof List<?> list ? list : List.of(value);
        for (Object one : start) {
            if (one instanceof String name) {          // by name: the records whose name contains it
                rows.forEach((id, row) -> {
                    if (row.get("name") != null && matches((String) row.get("name"), "%" + name + "%", true)) {
                        found.add(id);
                    }
                });
                continue;
            }
            long id = ((Number) one).longValue();
            if (rows.containsKey(id)) {
                found.add(id);
            }
        }
        boolean grew = true;
        while (grew) {
            grew = false;
            for (Map.Entry<Long, Map<String, Object>> row : rows.entrySet()) {
                Object parent = row.getValue().get("parent_id");
                if (parent == null) {
                    continue;
                }
                if (op.equals("child_of") && found.contains((Long) parent) && found.add(row.getKey())) {
                    grew = true;
                }
                if (op.equals("parent_of") && found.contains(row.getKey()) && found.add((Long) parent)) {
                    grew = true;
                }
            }
        }
        return found;
    }
}
