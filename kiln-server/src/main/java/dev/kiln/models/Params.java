package dev.kiln.models;

import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A standard method's arguments bound as Python binds them: positional first, then by name, a
 * name given twice or unknown is Python's TypeError (Odoo's clients see exactly that), and
 * {@code context} is the call's, not an argument.
 */
final class Params {

    private final Map<String, Object> values;

    private Params(Map<String, Object> values) {
        this.values = values;
    }

    /** {@code names} in order; those before {@code required} positions must be given. */
    static Params bind(RpcCall call, String method, int required, String... names) {
        List<Object> args = call.args();
        if (args.size() > names.length) {
            throw RpcFault.badArguments(method + "() takes " + names.length + " positional argument"
                    + (names.length == 1 ? "" : "s") + " but " + args.size() + " were given");
        }
        Map<String, Object> values = new HashMap<>();
        for (int i = 0; i < args.size(); i++) {
            values.put(names[i], args.get(i));
        }
        for (Map.Entry<String, Object> named : call.kwargs().entrySet()) {
            String name = named.getKey();
            if (name.equals("context")) {
                continue;
            }
            if (!List.of(names).contains(name)) {
                throw RpcFault.badArguments(method + "() got an unexpected keyword argument '" + name + "'");
            }
            if (values.containsKey(name)) {
                throw RpcFault.badArguments(method + "() got multiple values for argument '" + name + "'");
            }
            values.put(name, named.getValue());
        }
        for (int i = 0; i < required; i++) {
            if (!values.containsKey(names[i])) {
                throw RpcFault.badArguments(method + "() missing a required argument: '" + names[i] + "'");
            }
        }
        return new Params(values);
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    Object get(String name) {
        return values.get(name);
    }

    /** A non-negative integer, or {@code fallback} when absent, False, None or '' (falsy in Odoo: no limit). */
    int natural(String name, int fallback) {
        Object value = values.get(name);
        if (Values.isFalse(value) || "".equals(value)) {
            return fallback;
        }
        if (value instanceof Boolean) {
            return 1;           // Odoo keeps limit=True as 1
        }
        if (!(value instanceof Number number) || number.longValue() < 0 || number.doubleValue() != Math.rint(number.doubleValue())) {
            throw RpcFault.badArguments(name + " must be a non-negative integer, not " + Domain.repr(value));
        }
        return (int) Math.min(number.longValue(), Integer.MAX_VALUE);
    }

    /** A string, or null when absent, False or empty. */
    String text(String name) {
        Object value = values.get(name);
        if (Values.isFalse(value) || "".equals(value)) {
            return null;
        }
        if (!(value instanceof String text)) {
            throw RpcFault.badArguments(name + " must be a string, not " + Domain.repr(value));
        }
        return text;
    }

    /** A list of strings, or null when absent, None, False or empty. */
    List<String> names(String name) {
        Object value = values.get(name);
        if (Values.isFalse(value) || value instanceof List<?> list && list.isEmpty()) {
            return null;
        }
        if (value instanceof String one) {
            return List.of(one);
        }
        if (!(value instanceof List<?> list) || !list.stream().allMatch(v -> v instanceof String)) {
            throw RpcFault.badArguments(name + " must be a list of field names, not " + Domain.repr(value));
        }
        return list.stream().map(String.class::cast).toList();
    }

    /** Record ids: a list of integers, or one bare integer (Odoo browses either). */
    static List<Long> ids(Object value) {
        if (value instanceof Number one) {
            return List.of(one.longValue());
        }
        if (Values.isFalse(value)) {
            return List.of();
        }
        if (!(value instanceof List<?> list)) {
            throw RpcFault.badArguments("ids must be a list of record ids, not " + Domain.repr(value));
        }
        if (list.size() > 100_000) {
            throw RpcFault.invalidValue("at most 100000 ids in one call, not " + list.size());
        }
        return list.stream().map(id -> {
            if (!(id instanceof Number number) || number.doubleValue() != Math.rint(number.doubleValue())) {
                throw RpcFault.badArguments("ids must be a list of record ids, not " + Domain.repr(value));
            }
            return number.longValue();
        }).toList();
    }
}
