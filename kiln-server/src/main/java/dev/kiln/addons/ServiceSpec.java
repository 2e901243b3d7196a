package dev.kiln.addons;

import dev.kiln.api.RpcCall;

import java.util.Map;

/**
 * A service an addon offers to the external API: its callable methods by name, each bound to the
 * addon's object. {@code where} names the class, for errors.
 */
public record ServiceSpec(String addon, String name, Map<String, Method> methods, String where) {

    /** One callable method of the service. */
    @FunctionalInterface
    public interface Method {
        Object call(RpcCall call) throws Throwable;
    }

    public ServiceSpec {
        methods = Map.copyOf(methods);
    }
}
