/**
 * The database layer: where PostgreSQL is ({@link dev.kiln.db.Postgres}, embedded or external),
 * the connection pools of one process ({@link dev.kiln.db.ConnectionPools}, bounded by
 * {@code db_maxconn} across all databases), the database manager ({@link dev.kiln.db.DatabaseManager}:
 * list, create, drop, duplicate, backup, restore) and transactions retried on concurrency failures
 * ({@link dev.kiln.db.Transactions}). Every failure is a {@link dev.kiln.db.DatabaseException}: one
 * line naming the database or server, with a {@link dev.kiln.db.DatabaseException.Reason} that
 * callers map to an HTTP status or a JSON-RPC error. See docs/databases.md.
 */
package dev.kiln.db;
