package dev.kiln.http;

import dev.kiln.db.ConnectionPools;
import dev.kiln.registry.Registries;

/**
 * What the HTTP application needs to serve routes that run in a database: the connections, the
 * registries, and the choice of database per request. Absent when Kiln serves without databases.
 */
public record Databases(ConnectionPools pools, Registries registries, DatabaseSelector selector) {
}
