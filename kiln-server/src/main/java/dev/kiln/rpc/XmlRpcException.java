package dev.kiln.rpc;

/**
 * An XML-RPC request Kiln cannot read (malformed, hostile or too large): the client gets a fault
 * with this message and Odoo's application-error code, never a stack trace.
 */
public final class XmlRpcException extends Exception {

    public XmlRpcException(String message) {
        super(message, null, false, false);
    }
}
