package dev.kiln.api;

/**
 * What a service method throws to answer with one of Odoo's fault codes: the client gets the code
 * and the message, nothing else. Any other exception is a fault with code 1 and its message.
 */
public final class RpcFault extends RuntimeException {

    /** Odoo's codes on {@code /xmlrpc/2/*}. */
    public static final int APPLICATION_ERROR = 1, WARNING = 2, ACCESS_DENIED = 3, ACCESS_ERROR = 4;

    private final int code;

    public RpcFault(int code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public static RpcFault userError(String message) {
        return new RpcFault(APPLICATION_ERROR, message);
    }

    public static RpcFault warning(String message) {
        return new RpcFault(WARNING, message);
    }

    public static RpcFault accessDenied(String message) {
        return new RpcFault(ACCESS_DENIED, message);
    }

    public static RpcFault accessError(String message) {
        return new RpcFault(ACCESS_ERROR, message);
    }

    public int code() {
        return code;
    }
}
