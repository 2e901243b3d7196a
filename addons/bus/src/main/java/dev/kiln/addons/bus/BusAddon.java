package dev.kiln.addons.bus;

import dev.kiln.api.Addon;
import dev.kiln.api.AddonContext;
import dev.kiln.api.Bus;
import dev.kiln.api.CronContext;
import dev.kiln.api.CronJob;
import dev.kiln.api.HttpException;
import dev.kiln.api.Request;
import dev.kiln.api.Route;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Odoo's {@code bus} addon, first part: {@code /longpolling/poll} and the job {@code bus.gc} that
 * removes old messages. Messages are sent with {@code env.bus().send(...)} from any route or job;
 * Kiln's server keeps them in {@code kiln_bus} and wakes the waiting polls after the commit.
 *
 * <p>Channels {@code user/<uid>} are private to their user (see {@link Bus#mayReceive}): a poll
 * naming another user's is refused with a 403, as the websocket closes with 1008.
 */
public final class BusAddon implements Addon {

    /** Odoo's TIMEOUT: the longest a poll waits for a message. */
    static final int TIMEOUT_SECONDS = 50;
    /**
     * How long messages are kept, Odoo's {@code DEFAULT_GC_RETENTION_SECONDS}: a client that
     * comes back within it gets everything it missed.
     */
    static final Duration RETENTION = Duration.ofHours(24);

    @Override
    public void register(AddonContext context) {
        context.routes(this);
        context.cron(CronJob.every(1, CronJob.Unit.HOURS, "gc", this::gc));
    }

    /**
     * {@code {"channels": [...], "last": id, "timeout": s}}: the messages of those channels above
     * {@code last} (every one still kept; a client with {@code last} 0 gets those of the last 50 s),
     * as {@code [{"id", "channel", "message": {"type", "payload"}}]}, waiting up to {@code timeout}
     * seconds (at most and by default 50) for the first one. An empty list means: poll again.
     */
    @Route(value = "/longpolling/poll", type = Route.Type.JSON, auth = Route.Auth.PUBLIC, methods = "POST")
    public List<Map<String, Object>> poll(Request request) throws InterruptedException {
        Map<String, Object> params = request.jsonParams();
        List<String> channels = channels(params.get("channels"));
        for (String channel : channels) {
            if (!Bus.mayReceive(channel, request.uid())) {
                throw new HttpException.Forbidden("channel " + channel + " is private to its user");
            }
        }
        long last = number(params.getOrDefault("last", 0), "last");
        long timeout = number(params.getOrDefault("timeout", TIMEOUT_SECONDS), "timeout");
        if (last < 0 || timeout < 0 || timeout > TIMEOUT_SECONDS) {
            throw new HttpException.BadRequest("last must be 0 or more and timeout between 0 and " + TIMEOUT_SECONDS + " s");
        }
        List<Map<String, Object>> answer = new ArrayList<>();
        for (Bus.Message message : request.env().bus().poll(channels, last, Duration.ofSeconds(timeout))) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("type", message.type());
            body.put("payload", message.payload());
            answer.add(Map.of("id", message.id(), "channel", message.channel(), "message", body));
        }
        return answer;
    }

    /** Removes the messages older than {@link #RETENTION}, in the job's transaction. */
    private void gc(CronContext job) throws SQLException {
        try (PreparedStatement delete = job.connection().prepareStatement(
                "DELETE FROM kiln_bus WHERE created < now() - make_interval(secs => ?)")) {
            delete.setLong(1, RETENTION.toSeconds());
            job.progress(delete.executeUpdate(), 0);
        }
    }

    private static List<String> channels(Object value) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw new HttpException.BadRequest("channels must be a non-empty list of channel names");
        }
        List<String> channels = new ArrayList<>();
        for (Object channel : list) {
            if (!(channel instanceof String name) || name.isEmpty()) {
                throw new HttpException.BadRequest("channels must be a non-empty list of channel names");
            }
            channels.add(name);
        }
        return channels;
    }

    private static long number(Object value, String name) {
        if (value instanceof Number number && number.doubleValue() == Math.rint(number.doubleValue())) {
            return number.longValue();
        }
        throw new HttpException.BadRequest(name + " must be a whole number");
    }
}
