package dev.kiln.http;

import dev.kiln.bus.BusDispatcher;
import dev.kiln.db.ConnectionPools;
import dev.kiln.registry.Registries;

/**
 * What the HTTP application needs to serve routes that run in a database: the connections, the
 * registries, the choice of database per request and the process's bus. Absent when Kiln serves
 * without databases.
 */
public record Databases(ConnectionPools pools, Registries registries, DatabaseSelector selector, BusDispatcher bus) {
}
