/**
 * HTTP: Odoo's web application, in two layers. {@link dev.kiln.http.HttpFrontDoor} is the Jetty
 * handler: it converts each request once ({@link dev.kiln.http.JettyRequest}), keeps the table of
 * requests in flight, the server's abort and the access log, and writes what comes back
 * ({@link dev.kiln.http.OutcomeWriter}). Behind it, nothing imports Jetty: the
 * {@link dev.kiln.http.Dispatcher} routes a {@link dev.kiln.http.KilnRequest} through one
 * {@link dev.kiln.http.Router} holding Kiln's built-in routes (session and login, the external API,
 * the database manager) beside the addons', runs routes that need a database in their transaction
 * ({@link dev.kiln.http.InDatabases}), and returns an {@link dev.kiln.http.Outcome}; every failure
 * becomes one in {@link dev.kiln.http.Failures}. Jetty appears only in the door's files and in the
 * bus websockets ({@link dev.kiln.http.BusSockets}), which Jetty upgrades. The package does not know
 * which server mode runs it.
 */
package dev.kiln.http;
