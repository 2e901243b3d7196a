package dev.kiln.addons.hello;

import dev.kiln.api.Addon;
import dev.kiln.api.AddonContext;
import dev.kiln.api.CronContext;
import dev.kiln.api.CronJob;
import dev.kiln.api.HttpException;
import dev.kiln.api.Request;
import dev.kiln.api.Response;
import dev.kiln.api.Route;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The smallest addon: {@code GET /hello}, the route the HTTP benchmark measures; plus a slow route
 * ({@code /hello/wait?seconds=N}) for the tests of graceful stop and time limits, and a failing one
 * ({@code /hello/fail}) for the tests of error pages. Its two cron jobs, declared inactive, are the
 * code that the cron tests and benchmark give to the jobs they create: {@code hello.ledger} writes
 * one row per call to {@code hello_cron_ledger}, {@code hello.noop} does nothing. It offers
 * {@code hello.echo} to the external API ({@link EchoService}).
 */
public final class HelloAddon implements Addon {

    private static final int MAX_WAIT_SECONDS = 300;

    @Override
    public void register(AddonContext context) {
        context.routes(this);
        context.service("hello.echo", new EchoService());
        context.cron(CronJob.every(1, CronJob.Unit.DAYS, "ledger", this::ledger).inactive());
        context.cron(CronJob.every(1, CronJob.Unit.DAYS, "noop", job -> { }).inactive());
    }

    /** One ledger row per call, in the job's transaction: a call committed twice shows as two rows. */
    private void ledger(CronContext job) throws SQLException {
        try (PreparedStatement insert = job.connection().prepareStatement(
                "INSERT INTO hello_cron_ledger (job_id, job) VALUES (?, ?)")) {
            insert.setLong(1, job.jobId());
            insert.setString(2, job.job());
            insert.executeUpdate();
        }
    }

    @Route(value = "/hello", auth = Route.Auth.NONE, methods = "GET")
    public Response hello(Request request) {
        return Response.text("Hello, world");
    }

    @Route(value = "/hello/wait", auth = Route.Auth.NONE, methods = "GET")
    public Response waitSeconds(Request request) throws InterruptedException {
        String text = request.param("seconds").orElseThrow(() -> new HttpException.BadRequest("seconds is required"));
        double seconds;
        try {
            seconds = Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new HttpException.BadRequest("seconds must be a number, not " + text);
        }
        if (!(seconds > 0 && seconds <= MAX_WAIT_SECONDS)) {
            throw new HttpException.BadRequest("seconds must be in (0, " + MAX_WAIT_SECONDS + "]");
        }
        Thread.sleep((long) (seconds * 1000));
        return Response.text("Waited " + text + " s");
    }

    /** {@code SELECT 1} in the request's transaction: the database benchmark route. */
    @Route(value = "/hello/db", auth = Route.Auth.PUBLIC, methods = "GET")
    public Response db(Request request) throws SQLException {
        try (Statement statement = request.env().connection().createStatement();
             ResultSet row = statement.executeQuery("SELECT 1")) {
            row.next();
            return Response.text(row.getString(1));
        }
    }

    /**
     * The same {@code SELECT 1}, marked read-only: with a replica ({@code db_replica_host}) it runs
     * there, the benchmark route of the replica's path.
     */
    @Route(value = "/hello/db/ro", auth = Route.Auth.PUBLIC, methods = "GET", readonly = true)
    public Response dbReadOnly(Request request) throws SQLException {
        return db(request);
    }

    /** The logged-in user's id: the benchmark route of an {@code auth=user} request. */
    @Route(value = "/hello/me", auth = Route.Auth.USER, methods = "GET")
    public Response me(Request request) {
        return Response.text("uid " + request.uid().orElseThrow());
    }

    @Route(value = "/hello/fail", auth = Route.Auth.NONE, methods = "GET")
    public Response fail(Request request) {
        throw new IllegalStateException("hello/fail always fails");
    }
}
