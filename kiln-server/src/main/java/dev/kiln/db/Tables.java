package dev.kiln.db;

/**
 * The tables one part of Kiln owns in every database: the DDL that creates them when missing
 * ({@code CREATE ... IF NOT EXISTS} only, so running it again changes nothing) and the last object
 * it creates, whose presence says the part is complete. The registry's schema check runs every
 * part's DDL in one transaction, under one advisory lock.
 */
public record Tables(String ddl, String last) { }
