package dev.kiln.models;

import dev.kiln.api.RpcFault;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A search domain, Odoo's list syntax parsed once into a tree: prefix {@code &} and {@code |}
 * (binary) and {@code !} (unary), leaves {@code [path, operator, value]}, and what is left at the
 * end joined by an implicit {@code &}. The leaves are checked for shape and operator here; their
 * fields are checked against a model by {@link DomainSql} and {@link DomainEval}. Nothing of a
 * domain is ever written into SQL text but the declared names it is checked against.
 */
public sealed interface Domain {

    /** The operators a leaf may use, after {@code ==} and {@code <>} are read as {@code =} and {@code !=}. */
    Set<String> OPERATORS = Set.of("=", "!=", "<", ">", "<=", ">=", "=?", "in", "not in", "like", "not like", "ilike",
            "not ilike", "=like", "not =like", "=ilike", "not =ilike", "child_of", "parent_of");

    /** At most this many items in a domain: a bound on what an anonymous body can make the server build. */
    int MAX_ITEMS = 10_000;

    /** At most this many operators nested: a deeper tree would exhaust the stacks that compile and run it. */
    int MAX_DEPTH = 64;

    Domain TRUE = new Bool(true);
    Domain FALSE = new Bool(false);

    record Bool(boolean value) implements Domain { }

    record Not(Domain operand) implements Domain { }

    record And(List<Domain> operands) implements Domain { }

    record Or(List<Domain> operands) implements Domain { }

    /** One condition: {@code path} is a field name, or names joined by dots through many2one fields. */
    record Leaf(String path, String operator, Object value) implements Domain {

        public List<String> steps() {
            return List.of(path.split("\\.", -1));
        }

        @Override
        public String toString() {
            return "('" + path + "', '" + operator + "', " + Domain.repr(value) + ")";
        }
    }

    /** {@code value} (a list, or null/False/empty for "all") as a domain. */
    static Domain parse(Object value) {
        if (value == null || Boolean.TRUE.equals(value)) {
            return TRUE;
        }
        if (Boolean.FALSE.equals(value)) {
            return FALSE;
        }
        if (!(value instanceof List<?> items)) {
            throw RpcFault.badArguments("Domain() invalid argument type for domain: " + repr(value));
        }
        if (items.size() > MAX_ITEMS) {
            throw RpcFault.invalidValue("Domain() too long: " + items.size() + " items, at most " + MAX_ITEMS);
        }
        Deque<Domain> stack = new ArrayDeque<>();
        Deque<Integer> depths = new ArrayDeque<>();        // how deep each tree on the stack is
        for (int i = items.size() - 1; i >= 0; i--) {
            Object item = items.get(i);
            if ("&".equals(item) || "|".equals(item)) {
                if (stack.size() < 2) {
                    throw RpcFault.invalidValue("Domain() malformed domain " + repr(items));
                }
                Domain left = stack.pop();
                Domain right = stack.pop();
                boolean isAnd = "&".equals(item);
                // a side of the same kind is flattened into the result: its operands, not it, sit one level down
                int below = Math.max(flattened(left, isAnd, depths.pop()), flattened(right, isAnd, depths.pop()));
                stack.push(isAnd ? and(List.of(left, right)) : or(List.of(left, right)));
                depths.push(deeper(below));
            } else if ("!".equals(item)) {
                if (stack.isEmpty()) {
                    throw RpcFault.invalidValue("Domain() malformed domain " + repr(items));
                }
                stack.push(not(stack.pop()));
                depths.push(deeper(depths.pop()));
            } else if (item instanceof List<?> leaf && leaf.size() == 3) {
                stack.push(leaf(leaf));
                depths.push(0);
            } else {
                throw RpcFault.invalidValue("Domain() invalid item in domain: " + repr(item));
            }
        }
        List<Domain> rest = new ArrayList<>(stack);
        return and(rest);
    }

    private static int flattened(Domain side, boolean and, int depth) {
        return (and ? side instanceof And : side instanceof Or) ? depth - 1 : depth;
    }

    private static int deeper(int depth) {
        if (depth + 1 > MAX_DEPTH) {
            throw RpcFault.invalidValue("Domain() nested too deep: at most " + MAX_DEPTH + " operators inside one another");
        }
        return depth + 1;
    }

    private static Domain leaf(List<?> leaf) {
        Object path = leaf.get(0);
        Object operator = leaf.get(1);
        Object value = leaf.get(2);
        if (path instanceof Number left && operator instanceof String op && "=".equals(op)
                && value instanceof Number right && right.longValue() == 1 && (left.longValue() == 1 || left.longValue() == 0)) {
            return left.longValue() == 1 ? TRUE : FALSE;        // Odoo's legacy (1, '=', 1) and (0, '=', 1)
        }
        String condition = "(" + repr(path) + ", " + repr(operator) + ", " + repr(value) + ")";
        if (!(path instanceof String name) || name.isEmpty()) {
            throw RpcFault.invalidValue("Empty field name in condition " + condition);
        }
        if (!(operator instanceof String op)) {
            throw RpcFault.invalidValue("Invalid operator in condition " + condition);
        }
        String normalized = switch (op.toLowerCase(Locale.ROOT)) {
            case "==" -> "=";
            case "<>" -> "!=";
            default -> op.toLowerCase(Locale.ROOT);
        };
        if (!OPERATORS.contains(normalized)) {
            throw RpcFault.invalidValue("Invalid operator in condition " + condition);
        }
        if (!(value == null || value instanceof String || value instanceof Number || value instanceof Boolean
                || value instanceof List<?>)) {
            throw RpcFault.invalidValue("Invalid value in condition " + condition);
        }
        if (value instanceof List<?> values) {
            for (Object one : values) {
                if (!(one == null || one instanceof String || one instanceof Number || one instanceof Boolean)) {
                    throw RpcFault.invalidValue("Invalid value in condition " + condition);
                }
            }
        }
        return new Leaf(name, normalized, value == null ? Boolean.FALSE : value);
    }

    static Domain and(List<Domain> operands) {
        return join(operands, true);
    }

    static Domain or(List<Domain> operands) {
        return join(operands, false);
    }

    /** {@code operands} joined by AND or OR: nested joins of the same kind flattened, the constants absorbed. */
    private static Domain join(List<Domain> operands, boolean and) {
        Domain absorbing = and ? FALSE : TRUE;
        List<Domain> flat = new ArrayList<>();
        for (Domain operand : operands) {
            if (operand.equals(absorbing)) {
                return absorbing;
            }
            if (and && operand instanceof And inner) {
                flat.addAll(inner.operands());
            } else if (!and && operand instanceof Or inner) {
                flat.addAll(inner.operands());
            } else if (!operand.equals(and ? TRUE : FALSE)) {
                flat.add(operand);
            }
        }
        if (flat.size() <= 1) {
            return flat.isEmpty() ? (and ? TRUE : FALSE) : flat.getFirst();
        }
        return and ? new And(List.copyOf(flat)) : new Or(List.copyOf(flat));
    }

    static Domain not(Domain operand) {
        if (operand instanceof Bool bool) {
            return bool.value() ? FALSE : TRUE;
        }
        return operand instanceof Not not ? not.operand() : new Not(operand);
    }

    /** Whether some leaf of this domain is on {@code field} (for {@code active_test}: a domain on active is left alone). */
    default boolean mentions(String field) {
        return switch (this) {
            case Bool ignored -> false;
            case Not not -> not.operand().mentions(field);
            case And and -> and.operands().stream().anyMatch(d -> d.mentions(field));
            case Or or -> or.operands().stream().anyMatch(d -> d.mentions(field));
            case Leaf leaf -> leaf.steps().getFirst().equals(field);
        };
    }

    /** Python's repr of a value, for messages in Odoo's wording. */
    static String repr(Object value) {
        return switch (value) {
            case null -> "None";
            case Boolean b -> b ? "True" : "False";
            case String s -> "'" + (s.length() > 80 ? s.substring(0, 80) + "…" : s).replace("'", "\\'") + "'";
            case Collection<?> c -> {
                List<String> parts = c.stream().limit(20).map(Domain::repr).toList();
                yield "[" + String.join(", ", parts) + (c.size() > 20 ? ", …" : "") + "]";
            }
            case Map<?, ?> ignored -> "{…}";
            default -> String.valueOf(value);
        };
    }
}
