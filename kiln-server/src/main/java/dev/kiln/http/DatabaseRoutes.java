package dev.kiln.http;

/**
 * The routes that need a database ({@code auth=public}, {@code auth=user}, and any path no
 * server-wide route answers), in one of two explicit variants: Kiln serving without databases
 * ({@link None}), or with them ({@link InDatabases}). Knows nothing of Jetty.
 */
sealed interface DatabaseRoutes permits DatabaseRoutes.None, InDatabases {

    /** @param found what the server-wide router found for the request: a route needing a database, or none */
    Outcome serve(KilnRequest request, Router.Result found);

    /** Kiln without databases: every route needing one answers as when none can be chosen. */
    record None() implements DatabaseRoutes {
        @Override
        public Outcome serve(KilnRequest request, Router.Result found) {
            return noDatabase(found);
        }
    }

    /**
     * No database for the request: 404 for a route that needs one, as Odoo answers; else what the
     * server-wide router found (404, or 405 with {@code Allow}).
     */
    static Outcome noDatabase(Router.Result found) {
        return found.match() != null || found.allow() == null ? Outcome.page(404) : Outcome.notAllowed(found.allow());
    }
}
