package dev.kiln.http;

import dev.kiln.api.RpcFault;

/**
 * How a failed call of the external API answers, the same on XML-RPC, JSON-RPC, {@code call_kw}
 * and JSON-2: an {@link RpcFault} with its Odoo meaning, anything else a server error named by its
 * class (fault code 1, HTTP 500), as Odoo answers an unexpected Python exception.
 *
 * @param kind    Odoo's kind of error
 * @param name    what {@code data.name} says: Odoo's exception class, or the Java class of a server error
 * @param message what the client is told
 * @param failure what was thrown (its stack trace is sent only with {@code --dev})
 */
record CallError(RpcFault.Kind kind, String name, String message, Throwable failure) {

    /** A method's own failure (not an {@link RpcFault}), carried out of its transaction to be answered. */
    static final class Failed extends RuntimeException {
        Failed(Throwable cause) {
            super(null, cause, false, false);
        }
    }

    static CallError of(Throwable failure) {
        if (failure instanceof Failed failed) {
            failure = failed.getCause();
        }
        if (failure instanceof RpcFault fault) {
            return new CallError(fault.kind(), fault.kind().odooName(), String.valueOf(fault.getMessage()), fault);
        }
        String message = failure.getMessage() == null ? failure.getClass().getSimpleName() : failure.getMessage();
        return new CallError(RpcFault.Kind.APPLICATION, failure.getClass().getName(), message, failure);
    }

    int faultCode() {
        return kind.faultCode();
    }

    int httpStatus() {
        return kind.httpStatus();
    }

    /** Whether it is the server's failure, not an answer the method or Kiln chose: logged with its stack trace. */
    boolean unexpected() {
        return !(failure instanceof RpcFault);
    }
}
