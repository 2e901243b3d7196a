package dev.kiln.api;

import java.util.List;
import java.util.Map;

/**
 * One call of a service method through Odoo's external API: {@code execute_kw(db, uid, password,
 * service, method, args, kwargs)} over XML-RPC or JSON-RPC. The call runs in one transaction on
 * the database ({@link #env()}), committed when the method returns and rolled back when it throws,
 * run again on a serialization failure or deadlock. The caller's password was checked before.
 *
 * <p>Arguments and results are what XML-RPC carries: Integer or Long, Double, Boolean, String,
 * byte[] (base64), LocalDateTime, List, Map with String keys, and null. Return any of those, or a
 * LocalDate or Instant (sent as Odoo's date strings); build a Map for anything else.
 *
 * @param uid    the calling user's id
 * @param args   the positional arguments
 * @param kwargs the keyword arguments (empty when none)
 */
public record RpcCall(Env env, long uid, List<Object> args, Map<String, Object> kwargs) {

    public RpcCall {
        args = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(args));
        kwargs = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(kwargs));
    }

    /** The positional argument {@code index} (from 0) as a {@code type}, or a fault naming it. */
    public <T> T arg(int index, Class<T> type) {
        if (index >= args.size()) {
            throw RpcFault.badArguments("argument " + (index + 1) + " is missing");
        }
        return as(args.get(index), type, "argument " + (index + 1));
    }

    /**
     * The argument at position {@code index} (from 0), or else the keyword argument {@code name}, as
     * a {@code type}: how Python binds a call, so the method answers {@code execute_kw}'s positional
     * arguments and JSON-2's named ones alike. Neither given: a fault naming it.
     */
    public <T> T arg(int index, String name, Class<T> type) {
        if (index < args.size()) {
            return as(args.get(index), type, "argument " + (index + 1) + " (" + name + ")");
        }
        if (kwargs.containsKey(name)) {
            return as(kwargs.get(name), type, "argument '" + name + "'");
        }
        throw RpcFault.badArguments("missing a required argument: '" + name + "'");
    }

    /**
     * This call with the argument at position {@code index}, or else the keyword argument
     * {@code name}, replaced by {@code value}: how an override changes an argument before it calls
     * the method it overrides, whichever way the caller passed it. Neither given: added by name.
     */
    public RpcCall withArg(int index, String name, Object value) {
        List<Object> positional = new java.util.ArrayList<>(args);
        Map<String, Object> named = new java.util.LinkedHashMap<>(kwargs);
        if (index < positional.size()) {
            positional.set(index, value);
        } else {
            named.put(name, value);
        }
        return new RpcCall(env, uid, positional, named);
    }

    /** The keyword argument {@code name} as a {@code type}, or {@code fallback} when it was not given. */
    public <T> T kwarg(String name, Class<T> type, T fallback) {
        return kwargs.containsKey(name) ? as(kwargs.get(name), type, "keyword argument '" + name + "'") : fallback;
    }

    private static <T> T as(Object value, Class<T> type, String what) {
        if (value != null && !type.isInstance(value)) {
            throw RpcFault.badArguments(what + " must be a " + type.getSimpleName() + ", not a " + value.getClass().getSimpleName());
        }
        return type.cast(value);
    }
}
