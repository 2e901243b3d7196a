package dev.kiln.api;

import java.sql.Connection;

/** What an addon's install hook gets: the database and the transaction its installation runs in. */
public interface InstallContext {

    String database();

    /** The installation's transaction; do not commit, roll back or close it. */
    Connection connection();
}
