package dev.kiln.models;

import dev.kiln.api.Field;
import dev.kiln.api.RpcFault;

import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * A {@link Domain} compiled to a parameterized SQL condition on a model's table, with Odoo's
 * semantics: a negative comparison matches records without a value, {@code = False} matches the
 * empty value and none, a path through a many2one ({@code parent_id.name}) is a sub-select on the
 * comodel (its record rules applied), {@code child_of} and {@code parent_of} follow the model's
 * {@code parent_id} recursively. Each condition is wrapped so that it is true or false, never
 * NULL: {@code !} is then the complement, as in Odoo.
 *
 * <p>Field names are looked up in the declaration before they are written; every value is a bind
 * parameter.
 */
final class DomainSql {

    private final Models models;
    /** The read rules of a comodel for the caller, ANDed into sub-selects on it (TRUE when none). */
    private final Function<Model, Domain> rules;
    /** The sub-select aliases made so far, shared with {@link #sudo}. */
    private final int[] aliases;
    /** The caller's time zone (context {@code tz}): a date alone compared with a datetime is its midnight there. */
    private final ZoneId zone;

    DomainSql(Models models, Function<Model, Domain> rules) {
        this(models, rules, ZoneOffset.UTC);
    }

    DomainSql(Models models, Function<Model, Domain> rules, ZoneId zone) {
        this(models, rules, new int[1], zone);
    }

    private DomainSql(Models models, Function<Model, Domain> rules, int[] aliases, ZoneId zone) {
        this.models = models;
        this.rules = rules;
        this.aliases = aliases;
        this.zone = zone;
    }

    /**
     * The compiler of record rules themselves: as in Odoo, a rule's domain is evaluated as the
     * superuser, so its own paths are not restricted by rules again (a rule on contacts that
     * goes through contacts would otherwise never end).
     */
    DomainSql sudo() {
        return new DomainSql(models, model -> Domain.TRUE, aliases, zone);
    }

    /** {@code domain} on {@code model}'s rows named {@code alias}. */
    Sql compile(Model model, Domain domain, String alias) {
        return switch (domain) {
            case Domain.Bool bool -> new Sql().append(bool.value() ? "TRUE" : "FALSE");
            case Domain.Not not -> new Sql().append("NOT (").append(compile(model, not.operand(), alias)).append(")");
            case Domain.And and -> join(model, and.operands(), " AND ", alias);
            case Domain.Or or -> join(model, or.operands(), " OR ", alias);
            case Domain.Leaf leaf -> new Sql().append("COALESCE((").append(leaf(model, leaf, alias)).append("), FALSE)");
        };
    }

    private Sql join(Model model, List<Domain> operands, String operator, String alias) {
        Sql sql = new Sql().append("(");
        for (int i = 0; i < operands.size(); i++) {
            sql.append(i == 0 ? "" : operator).append(compile(model, operands.get(i), alias));
        }
        return sql.append(")");
    }

    private Sql leaf(Model model, Domain.Leaf leaf, String alias) {
        List<String> steps = leaf.steps();
        String name = steps.getFirst();
        Field field = field(model, name, leaf);
        if (steps.size() > 1) {
            Domain.Leaf rest = new Domain.Leaf(String.join(".", steps.subList(1, steps.size())), leaf.operator(), leaf.value());
            return through(model, field, alias, rest, leaf);
        }
        String op = leaf.operator();
        Object value = leaf.value();
        if (op.equals("child_of") || op.equals("parent_of")) {
            return hierarchy(model, field, alias, op, value, leaf);
        }
        if (op.equals("=?")) {
            if (Values.isFalse(value) || value instanceof String s && s.isEmpty()) {
                return new Sql().append("TRUE");
            }
            op = "=";
        }
        if (field.type().relational() && !field.name().equals("id") && isText(value)) {
            // ('country_id', 'ilike', 'bel'): the comodel's names; negative forms are the complement
            Model comodel = models.require(field.comodel());
            if (comodel.recName() == null) {
                throw invalid("Cannot search " + model.name() + "." + name + " by name: " + comodel.name() + " has none", leaf);
            }
            boolean negative = op.startsWith("not ") || op.equals("!=");
            String positive = negative ? (op.equals("!=") ? "=" : op.substring(4)) : op;
            Sql inner = through(model, field, alias, new Domain.Leaf(comodel.recName(), positive, value), leaf);
            return negative ? new Sql().append("NOT COALESCE((").append(inner).append("), FALSE)") : inner;
        }
        if (field.type() == Field.Type.ONE2MANY || field.type() == Field.Type.MANY2MANY) {
            return x2many(model, field, alias, op, value, leaf);
        }
        String column = alias + "." + column(field);
        return switch (op) {
            case "=", "in" -> in(field, column, set(op, value, leaf), false, leaf);
            case "!=", "not in" -> in(field, column, set(op, value, leaf), true, leaf);
            case "<", ">", "<=", ">=" -> compare(field, column, op, value, leaf);
            default -> like(field, column, op, value, leaf);
        };
    }

    private Field field(Model model, String name, Domain.Leaf leaf) {
        Field field = name.equals("display_name") && model.recName() != null ? model.fields().get(model.recName())
                : model.fields().get(name);
        if (field == null || field.type() == Field.Type.PASSWORD) {
            throw RpcFault.invalidValue("Invalid field " + model.name() + "." + name + " in condition " + leaf);
        }
        if (name.equals("display_name") && model.recName() == null) {
            throw RpcFault.invalidValue("Cannot search " + model.name() + ".display_name: the model has no name field");
        }
        return field;
    }

    private static String column(Field field) {
        return field.name();
    }

    private static boolean isText(Object value) {
        return value instanceof String || value instanceof List<?> list && !list.isEmpty()
                && list.stream().allMatch(v -> v instanceof String);
    }

    /** The values of {@code =}, {@code !=}, {@code in}, {@code not in}; False (or None) among them means "no value". */
    private static List<Object> set(String op, Object value, Domain.Leaf leaf) {
        if (op.equals("in") || op.equals("not in")) {
            if (value instanceof List<?> list) {
                return new ArrayList<>(list);
            }
            return new ArrayList<>(List.of(value));
        }
        if (value instanceof List<?> list) {       // ('id', '=', [1, 2]) is Odoo's 'in'
            return new ArrayList<>(list);
        }
        return new ArrayList<>(java.util.Collections.singletonList(value));
    }

    private Sql in(Field field, String column, List<Object> values, boolean negative, Domain.Leaf leaf) {
        boolean withFalse = false;
        Set<Object> typed = new LinkedHashSet<>();
        for (Object value : values) {
            if (field.type() == Field.Type.BOOLEAN) {
                Object bool = Values.toColumn(Field.Type.BOOLEAN, value, field.name());
                if (Boolean.FALSE.equals(bool)) {
                    withFalse = true;
                } else {
                    typed.add(bool);
                }
            } else if (Values.isFalse(value)) {
                withFalse = true;
            } else {
                typed.add(bound(field, value, leaf));
            }
        }
        Object falsy = falsy(field);
        Sql empty = new Sql();
        if (withFalse) {
            empty.append(column).append(" IS NULL");
            if (falsy != null) {
                empty.append(" OR ").append(column).append(" = ").param(falsy);
            }
        }
        Sql listed = new Sql();
        if (!typed.isEmpty()) {
            listed.append(column).append(" = ANY(").param(new Sql.Array(Values.sqlType(field.type()), typed.toArray())).append(")");
        }
        Sql positive;
        if (empty.isEmpty() && listed.isEmpty()) {
            positive = new Sql().append("FALSE");
        } else if (empty.isEmpty()) {
            positive = listed;
        } else if (listed.isEmpty()) {
            positive = new Sql().append("(").append(empty).append(")");
        } else {
            positive = new Sql().append("(").append(listed).append(" OR ").append(empty).append(")");
        }
        return negative ? new Sql().append("NOT COALESCE((").append(positive).append("), FALSE)") : positive;
    }

    /** {@code value} as the column's type; a date alone on a datetime field is midnight in the caller's zone, in UTC. */
    private Object bound(Field field, Object value, Domain.Leaf leaf) {
        if (field.type() == Field.Type.DATETIME && value instanceof String text && text.length() == 10) {
            return Values.date(text, "field " + field.name()).atStartOfDay(zone).withZoneSameInstant(ZoneOffset.UTC)
                    .toLocalDateTime();
        }
        return Values.toColumn(field.type(), value, "field " + field.name() + " in condition " + leaf);
    }

    /** The value Odoo counts as empty besides NULL: '' for text, 0 for numbers, false for booleans. */
    private static Object falsy(Field field) {
        return switch (field.type()) {
            case CHAR, TEXT, HTML -> "";
            case INTEGER -> 0L;
            case FLOAT, MONETARY -> 0.0;
            case BOOLEAN -> false;
            default -> null;
        };
    }

    private Sql compare(Field field, String column, String op, Object value, Domain.Leaf leaf) {
        if (Values.isFalse(value) && field.type() != Field.Type.BOOLEAN) {
            return new Sql().append("FALSE");
        }
        if (field.type().relational() && !(value instanceof Number)) {
            throw RpcFault.badArguments("Cannot compare " + field.name() + " with " + Domain.repr(value) + " in condition " + leaf);
        }
        Object bound = bound(field, value, leaf);
        Sql sql = new Sql().append("(").append(column).append(" ").append(op).append(" ").param(bound);
        Object falsy = falsy(field);
        if (falsy != null && satisfies(falsy, op, bound)) {
            sql.append(" OR ").append(column).append(" IS NULL");       // no value counts as the empty one
        }
        return sql.append(")");
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static boolean satisfies(Object left, String op, Object right) {
        int c = ((Comparable) left).compareTo(right);
        return switch (op) {
            case "<" -> c < 0;
            case ">" -> c > 0;
            case "<=" -> c <= 0;
            default -> c >= 0;
        };
    }

    private Sql like(Field field, String column, String op, Object value, Domain.Leaf leaf) {
        boolean negative = op.startsWith("not ");
        String base = negative ? op.substring(4) : op;
        boolean exact = base.startsWith("=");
        if (exact && !(value instanceof String)) {
            throw RpcFault.badArguments("The pattern to match must be a string, not " + Domain.repr(value) + " in condition " + leaf);
        }
        if (field.type() == Field.Type.BINARY) {
            throw invalid("Cannot search binary field " + field.name() + " with " + op, leaf);
        }
        String pattern = value instanceof String s ? s : Values.isFalse(value) ? "" : String.valueOf(value);
        if (pattern.isEmpty()) {
            if (exact) {      // =like '': no value
                return in(field, column, new ArrayList<>(java.util.Collections.singletonList(false)), negative, leaf);
            }
            return new Sql().append(negative ? "FALSE" : "TRUE");
        }
        Sql positive = new Sql().append(column).append("::text ").append(base.endsWith("ilike") ? "ILIKE " : "LIKE ")
                .param(exact ? pattern : "%" + pattern + "%");
        return negative ? new Sql().append("NOT COALESCE((").append(positive).append("), FALSE)") : positive;
    }

    /** A condition on the records {@code field} points to: {@code rest} evaluated on the comodel. */
    private Sql through(Model model, Field field, String alias, Domain.Leaf rest, Domain.Leaf leaf) {
        if (!field.type().relational()) {
            throw invalid("Invalid field " + model.name() + "." + field.name() + " (not relational) in path", leaf);
        }
        Model comodel = models.require(field.comodel());
        String sub = "s" + (++aliases[0]);
        Sql where = compile(comodel, rest, sub);
        Domain restriction = rules.apply(comodel);
        if (!restriction.equals(Domain.TRUE)) {
            where = new Sql().append("(").append(where).append(" AND ").append(sudo().compile(comodel, restriction, sub)).append(")");
        }
        return switch (field.type()) {
            case MANY2ONE -> new Sql().append(alias).append(".").append(field.name())
                    .append(" IN (SELECT ").append(sub).append(".id FROM ").append(comodel.table()).append(" ").append(sub)
                    .append(" WHERE ").append(where).append(")");
            case ONE2MANY -> new Sql().append(alias).append(".id IN (SELECT ").append(sub).append(".").append(field.inverse())
                    .append(" FROM ").append(comodel.table()).append(" ").append(sub).append(" WHERE ").append(sub).append(".")
                    .append(field.inverse()).append(" IS NOT NULL AND ").append(where).append(")");      // no NULL in IN
            default -> {
                String[] columns = Models.relationColumns(model, field);
                yield new Sql().append(alias).append(".id IN (SELECT r.").append(columns[0]).append(" FROM ")
                        .append(field.relationTable()).append(" r JOIN ").append(comodel.table()).append(" ").append(sub)
                        .append(" ON ").append(sub).append(".id = r.").append(columns[1]).append(" WHERE ").append(where).append(")");
            }
        };
    }

    /** {@code x2many in ids} (has one of them), {@code = False} (has none), and their negations. */
    private Sql x2many(Model model, Field field, String alias, String op, Object value, Domain.Leaf leaf) {
        boolean negative = op.equals("!=") || op.equals("not in");
        if (!negative && !op.equals("=") && !op.equals("in")) {
            throw invalid("Invalid operator for " + field.type().odooName() + " field " + field.name(), leaf);
        }
        List<Object> values = set(op, value, leaf);
        boolean none = values.stream().anyMatch(Values::isFalse);
        List<Object> ids = values.stream().filter(v -> !Values.isFalse(v)).toList();
        Sql positive = new Sql();
        if (!ids.isEmpty()) {
            positive.append(through(model, field, alias, new Domain.Leaf("id", "in", ids), leaf));
        }
        if (none) {
            Sql any = through(model, field, alias, new Domain.Leaf("id", "!=", false), leaf);
            positive = positive.isEmpty() ? new Sql().append("NOT (").append(any).append(")")
                    : new Sql().append("(").append(positive).append(" OR NOT (").append(any).append("))");
        }
        if (positive.isEmpty()) {
            positive.append("FALSE");
        }
        return negative ? new Sql().append("NOT COALESCE((").append(positive).append("), FALSE)") : positive;
    }

    /**
     * {@code child_of}: the records given and all below them through the parent field;
     * {@code parent_of}: the records given and all above them. On a many2one field, the same on
     * its comodel; on {@code id}, on the model itself.
     */
    private Sql hierarchy(Model model, Field field, String alias, String op, Object value, Domain.Leaf leaf) {
        Model target = field.name().equals("id") ? model
                : field.type().relational() ? models.require(field.comodel()) : null;
        if (target == null || target.parentField() == null) {
            throw invalid("Cannot execute " + op + " for " + field.name() + ", works only for relational fields of a model"
                    + " with a parent_id", leaf);
        }
        if (Values.isFalse(value)) {
            return new Sql().append("FALSE");
        }
        Sql start = new Sql();
        if (isText(value)) {
            if (target.recName() == null) {
                throw invalid("Cannot search " + target.name() + " by name", leaf);
            }
            List<Object> names = value instanceof List<?> list ? new ArrayList<>(list) : List.of(value);
            Sql any = new Sql();
            for (Object name : names) {
                any.append(any.isEmpty() ? "" : " OR ").append(target.recName()).append("::text ILIKE ").param("%" + name + "%");
            }
            start.append("SELECT id FROM ").append(target.table()).append(" WHERE ").append(any);
        } else {
            List<Object> ids = value instanceof List<?> list ? new ArrayList<>(list) : List.of(value);
            Object[] typed = ids.stream().map(id -> Values.toColumn(Field.Type.INTEGER, id, "child_of/parent_of " + leaf)).toArray();
            start.append("SELECT id FROM ").append(target.table()).append(" WHERE id = ANY(")
                    .param(new Sql.Array("bigint", typed)).append(")");
        }
        String table = target.table();
        String parent = target.parentField();
        String step = op.equals("child_of")
                ? "SELECT c.id FROM " + table + " c JOIN tree ON c." + parent + " = tree.id"
                : "SELECT p." + parent + " FROM " + table + " p JOIN tree ON p.id = tree.id WHERE p." + parent + " IS NOT NULL";
        String column = field.name().equals("id") ? alias + ".id" : alias + "." + field.name();
        if (field.type() == Field.Type.ONE2MANY || field.type() == Field.Type.MANY2MANY) {
            Sql ids = new Sql().append("WITH RECURSIVE tree(id) AS (").append(start).append(" UNION ").append(step)
                    .append(") SELECT id FROM tree");
            return x2manyIn(model, field, alias, ids);
        }
        return new Sql().append(column).append(" IN (WITH RECURSIVE tree(id) AS (").append(start).append(" UNION ")
                .append(step).append(") SELECT id FROM tree)");
    }

    private Sql x2manyIn(Model model, Field field, String alias, Sql ids) {
        Model comodel = models.require(field.comodel());
        if (field.type() == Field.Type.ONE2MANY) {
            return new Sql().append(alias).append(".id IN (SELECT o.").append(field.inverse()).append(" FROM ")
                    .append(comodel.table()).append(" o WHERE o.").append(field.inverse()).append(" IS NOT NULL AND o.id IN (")
                    .append(ids).append("))");
        }
        String[] columns = Models.relationColumns(model, field);
        return new Sql().append(alias).append(".id IN (SELECT r.").append(columns[0]).append(" FROM ").append(field.relationTable())
                .append(" r WHERE r.").append(columns[1]).append(" IN (").append(ids).append("))");
    }

    private static RpcFault invalid(String message, Domain.Leaf leaf) {
        return RpcFault.invalidValue(message + " in condition " + leaf);
    }
}
