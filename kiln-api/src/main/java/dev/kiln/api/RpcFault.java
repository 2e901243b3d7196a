package dev.kiln.api;

/**
 * An error with one of Odoo's meanings, thrown by a service method or a route to answer with it:
 * the client gets the message and what Odoo's clients expect of that kind of error, nothing else
 * (no stack trace outside {@code --dev}).
 *
 * <table>
 * <caption>What each kind is on each API</caption>
 * <tr><th>kind</th><th>XML-RPC fault code</th><th>JSON-RPC {@code data.name}</th><th>JSON-2 status</th></tr>
 * <tr><td>{@link #userError}</td><td>2</td><td>odoo.exceptions.UserError</td><td>422</td></tr>
 * <tr><td>{@link #validationError}</td><td>2</td><td>odoo.exceptions.ValidationError</td><td>422</td></tr>
 * <tr><td>{@link #missingError}</td><td>2</td><td>odoo.exceptions.MissingError</td><td>404</td></tr>
 * <tr><td>{@link #accessDenied}</td><td>3</td><td>odoo.exceptions.AccessDenied</td><td>403</td></tr>
 * <tr><td>{@link #accessError}</td><td>4</td><td>odoo.exceptions.AccessError</td><td>403</td></tr>
 * <tr><td>{@link #badArguments}</td><td>1</td><td>builtins.TypeError</td><td>422</td></tr>
 * <tr><td>{@link #invalidValue}</td><td>1</td><td>builtins.ValueError</td><td>422</td></tr>
 * </table>
 *
 * Any other exception a method throws is a server error: fault code 1, its class name in
 * {@code data.name}, HTTP 500 on JSON-2.
 */
public final class RpcFault extends RuntimeException {

    /** Odoo's fault codes on {@code /xmlrpc/2/*}. */
    public static final int APPLICATION_ERROR = 1, WARNING = 2, ACCESS_DENIED = 3, ACCESS_ERROR = 4;

    /** The kinds of error Odoo's clients tell apart. */
    public enum Kind {
        USER_ERROR("odoo.exceptions.UserError", WARNING, 422),
        VALIDATION_ERROR("odoo.exceptions.ValidationError", WARNING, 422),
        MISSING_ERROR("odoo.exceptions.MissingError", WARNING, 404),
        ACCESS_DENIED("odoo.exceptions.AccessDenied", RpcFault.ACCESS_DENIED, 403),
        ACCESS_ERROR("odoo.exceptions.AccessError", RpcFault.ACCESS_ERROR, 403),
        BAD_ARGUMENTS("builtins.TypeError", APPLICATION_ERROR, 422),
        /** A value the method cannot take: a malformed domain, an unknown field (Odoo answers 500; Kiln 422). */
        INVALID_VALUE("builtins.ValueError", APPLICATION_ERROR, 422),
        /** No such model in the database: Odoo's user error, a 404 on JSON-2. */
        UNKNOWN_MODEL("odoo.exceptions.UserError", WARNING, 404),
        /** No such public method on the model: Python's AttributeError in Odoo, a 404 on JSON-2. */
        UNKNOWN_METHOD("builtins.AttributeError", APPLICATION_ERROR, 404),
        APPLICATION("builtins.Exception", APPLICATION_ERROR, 500);

        private final String odooName;
        private final int faultCode;
        private final int httpStatus;

        Kind(String odooName, int faultCode, int httpStatus) {
            this.odooName = odooName;
            this.faultCode = faultCode;
            this.httpStatus = httpStatus;
        }

        /** The Python class name Odoo's JSON answers carry in {@code data.name}. */
        public String odooName() {
            return odooName;
        }

        /** The fault code of {@code /xmlrpc/2/*}. */
        public int faultCode() {
            return faultCode;
        }

        /** The HTTP status of a JSON-2 answer. */
        public int httpStatus() {
            return httpStatus;
        }
    }

    private final Kind kind;

    public RpcFault(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    /** A user error: the request cannot be done as asked (Odoo's {@code UserError}). */
    public static RpcFault userError(String message) {
        return new RpcFault(Kind.USER_ERROR, message);
    }

    /** Values that break a rule of the model (Odoo's {@code ValidationError}). */
    public static RpcFault validationError(String message) {
        return new RpcFault(Kind.VALIDATION_ERROR, message);
    }

    /** Records that do not exist, or no longer (Odoo's {@code MissingError}). */
    public static RpcFault missingError(String message) {
        return new RpcFault(Kind.MISSING_ERROR, message);
    }

    /** Wrong credentials (Odoo's {@code AccessDenied}): clients log in again on it. */
    public static RpcFault accessDenied(String message) {
        return new RpcFault(Kind.ACCESS_DENIED, message);
    }

    /** The user may not do this (Odoo's {@code AccessError}). */
    public static RpcFault accessError(String message) {
        return new RpcFault(Kind.ACCESS_ERROR, message);
    }

    /** The call's arguments do not fit the method: missing, of the wrong type, unknown. */
    public static RpcFault badArguments(String message) {
        return new RpcFault(Kind.BAD_ARGUMENTS, message);
    }

    /** An argument of the right type but a wrong value: a malformed domain, an unknown field name. */
    public static RpcFault invalidValue(String message) {
        return new RpcFault(Kind.INVALID_VALUE, message);
    }

    public Kind kind() {
        return kind;
    }

    /** The XML-RPC fault code. */
    public int code() {
        return kind.faultCode();
    }
}
