package dev.kiln.http;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The static files of loaded addons, at {@code /<addon>/static/<file>} as in Odoo: a built-in
 * route answering {@code GET} and {@code HEAD} with the file, 304 when the client's copy is
 * current ({@code If-None-Match}, else {@code If-Modified-Since}), 404 for anything else.
 *
 * <p>Works on the raw (still percent-encoded) path so that no decoding step can smuggle a {@code ..}
 * past the checks: encoded dots, slashes and backslashes, empty or dot segments, and files whose real
 * path (after symlinks) leaves the addon's {@code static/} folder are all "not found".
 */
final class StaticFiles {

    /** A file that may be served, with its validators. */
    record Found(Path file, long size, Instant modified, String etag) { }

    private static final String MARK = "/static/";
    private static final String ALLOW = "GET, HEAD";
    private static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME;

    private final Map<String, Path> folders = new HashMap<>();
    private final Map<String, Path> realFolders = new HashMap<>();

    StaticFiles(Map<String, Path> staticFolders) {
        staticFolders.forEach((addon, folder) -> {
            Path absolute = folder.toAbsolutePath().normalize();
            folders.put(addon, absolute);
            try {
                realFolders.put(addon, absolute.toRealPath());
            } catch (IOException e) {
                realFolders.put(addon, absolute);
            }
        });
    }

    /** The answer to a request for {@code rawPath}, under the static folder of {@code addon}. */
    Outcome serve(KilnRequest request, String addon) {
        boolean head = "HEAD".equals(request.method());
        if (!head && !"GET".equals(request.method())) {
            return Outcome.notAllowed(ALLOW);
        }
        Found found = find(addon, request.rawPath());
        if (found == null) {
            return Outcome.page(404);
        }
        boolean current = notModified(found, request.headerValue("If-None-Match"), request.headerValue("If-Modified-Since"));
        return new Outcome.File(found, current, head, List.of());
    }

    /** The addon name when {@code rawPath} is under {@code /<addon>/static/} of a loaded addon, else null. */
    String addonOf(String rawPath) {
        int slash = rawPath.indexOf('/', 1);
        if (slash < 0 || !rawPath.startsWith(MARK, slash)) {
            return null;
        }
        String addon = rawPath.substring(1, slash);
        return folders.containsKey(addon) ? addon : null;
    }

    /** The file {@code rawPath} names inside {@code addon}'s static folder, or null (→ 404). */
    Found find(String addon, String rawPath) {
        int start = rawPath.indexOf(MARK, 1) + MARK.length();
        String relative = rawPath.substring(start);
        if (!isSafe(relative)) {
            return null;
        }
        String decoded;
        try {
            decoded = URLDecoder.decode(relative.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (decoded.indexOf('\\') >= 0 || decoded.indexOf('\0') >= 0 || decoded.contains("..")) {
            return null;
        }
        Path folder = folders.get(addon);
        Path file = folder.resolve(decoded).normalize();
        if (!file.startsWith(folder)) {
            return null;
        }
        try {
            Path real = file.toRealPath();
            if (!real.startsWith(realFolders.get(addon))) {
                return null;
            }
            BasicFileAttributes attributes = Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isRegularFile() || !Files.isReadable(real)) {
                return null;
            }
            long size = attributes.size();
            long millis = attributes.lastModifiedTime().toMillis();
            String etag = "\"" + Long.toHexString(size) + "-" + Long.toHexString(millis) + "\"";
            return new Found(real, size, Instant.ofEpochMilli(millis / 1000 * 1000), etag);
        } catch (IOException e) {
            return null;
        }
    }

    /** Rejects, before any decoding, every spelling of a step outside the folder. */
    static boolean isSafe(String relative) {
        if (relative.isEmpty() || relative.indexOf('\\') >= 0) {
            return false;
        }
        String lower = relative.toLowerCase(Locale.ROOT);
        if (lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00")
                || lower.contains("%25") || lower.indexOf(';') >= 0) {
            return false;
        }
        for (String segment : relative.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return false;
            }
        }
        return true;
    }

    /** True when the client's cached copy (If-None-Match, else If-Modified-Since) is still current. */
    static boolean notModified(Found found, String ifNoneMatch, String ifModifiedSince) {
        if (ifNoneMatch != null) {
            for (String tag : ifNoneMatch.split(",")) {
                String t = tag.strip();
                if (t.startsWith("W/")) {
                    t = t.substring(2);
                }
                if (t.equals("*") || t.equals(found.etag())) {
                    return true;
                }
            }
            return false;
        }
        if (ifModifiedSince != null) {
            try {
                Instant since = ZonedDateTime.parse(ifModifiedSince.strip(), HTTP_DATE).toInstant();
                return !found.modified().isAfter(since);
            } catch (DateTimeParseException e) {
                return false;
            }
        }
        return false;
    }

    static String httpDate(Instant instant) {
        return HTTP_DATE.format(instant.atZone(ZoneOffset.UTC));
    }
}
