package dev.kiln.api;

import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/** The request as a handler sees it. Header names are case-insensitive. */
public interface Request {

    String method();

    /** The decoded path, without the query string. */
    String path();

    Optional<String> header(String name);

    List<String> headers(String name);

    Optional<String> cookie(String name);

    /** A query or form parameter (first value). */
    Optional<String> param(String name);

    /** All query and form parameters, in the order received. */
    Map<String, List<String>> params();

    /** A path parameter declared in the route, e.g. {@code id} of {@code /order/<int:id>}. */
    String pathParam(String name);

    /** The body, read whole (bounded by the server's body limit). */
    byte[] body();

    /** The body as a stream, for large uploads. */
    InputStream bodyStream();

    /** The {@code params} object of a JSON-RPC call; empty for {@code type=http} routes. */
    Map<String, Object> jsonParams();

    /**
     * The request's database and transaction. Routes with {@code auth=public} or {@code auth=user}
     * always have one; asking for it on an {@code auth=none} route throws {@link IllegalStateException}.
     */
    Env env();

    /**
     * The logged-in user's id ({@code res_users.id}) when the request carries a live session of its
     * database; always present on {@code auth=user} routes, empty for a guest on {@code auth=public}.
     */
    OptionalLong uid();

    /**
     * The session's CSRF token, to put in forms ({@code csrf_token} field) or send as the
     * {@code X-CSRF-Token} header on unsafe {@code type=http} requests; empty without a session.
     */
    Optional<String> csrfToken();

    /** The client's address (the proxy's forwarded one with {@code --proxy-mode}). */
    String remoteAddress();
}
