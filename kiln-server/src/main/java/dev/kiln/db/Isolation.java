package dev.kiln.db;

import java.sql.Connection;

/**
 * Transaction isolation of a checked-out connection. Odoo's request cursors are REPEATABLE READ
 * (its "serialized" cursors) and retry serialization failures; READ COMMITTED suits Kiln's own
 * bookkeeping that must see rows committed meanwhile (cron claims, the bus).
 */
public enum Isolation {
    REPEATABLE_READ(Connection.TRANSACTION_REPEATABLE_READ),
    READ_COMMITTED(Connection.TRANSACTION_READ_COMMITTED);

    final int jdbcLevel;

    Isolation(int jdbcLevel) {
        this.jdbcLevel = jdbcLevel;
    }
}
