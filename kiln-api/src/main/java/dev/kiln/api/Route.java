package dev.kiln.api;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a controller method as the handler of one or more URL paths, as Odoo's {@code @http.route}.
 *
 * <p>Paths may hold parameters: {@code /shop/<name>}, {@code /order/<int:id>}, {@code /files/<path:rest>};
 * their values are read with {@link Request#pathParam}. A {@link Type#HTTP} handler takes a
 * {@link Request} and returns a {@link Response}; a {@link Type#JSON} handler takes a {@link Request},
 * reads {@link Request#jsonParams()} and returns any value Jackson can write, which becomes the
 * JSON-RPC {@code result}.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface Route {

    String[] value();

    Type type() default Type.HTTP;

    Auth auth() default Auth.USER;

    /** Allowed HTTP methods; empty means any. */
    String[] methods() default {};

    /** CSRF token check on unsafe methods of {@code type=http} routes with a session. */
    boolean csrf() default true;

    /**
     * The handler only reads, as Odoo's {@code readonly=True}: with a replica ({@code db_replica_host})
     * it runs there, in a read-only transaction. Should it write after all, the replica refuses and
     * the request runs again once on the primary, with a warning; {@code --dev=replica} shows such
     * writes without a replica. A user who wrote lately reads on the primary until the replica has
     * caught up with that write.
     */
    boolean readonly() default false;

    enum Type { HTTP, JSON }

    enum Auth {
        /** No database, no user: answers even without a database. */
        NONE,
        /** A database is selected; the user may be anonymous. */
        PUBLIC,
        /** A logged-in user is required. */
        USER
    }
}
