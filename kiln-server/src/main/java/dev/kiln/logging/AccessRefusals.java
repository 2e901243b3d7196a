package dev.kiln.logging;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The refusals log of {@code --dev=access}: every refused login and access (wrong password, no or
 * expired session, CSRF, the external API's check, the database manager, a bus channel of another
 * user) as one line with its reason on the logger {@value #NAME}, at INFO with {@code --dev=access}
 * and at DEBUG without it, so a developer sees why a request was turned away while the client
 * still learns nothing more than before. A line never holds a password, and names a session by the
 * first {@value #SESSION_PREFIX} characters of its token only.
 */
public final class AccessRefusals {

    public static final String NAME = "dev.kiln.access";
    static final int SESSION_PREFIX = 6;
    private static final Logger LOGGER = LoggerFactory.getLogger(NAME);

    private final boolean loud;

    /** @param loud {@code --dev=access}: lines at INFO rather than DEBUG */
    public AccessRefusals(boolean loud) {
        this.loud = loud;
    }

    /** Whether refusals are logged at INFO. */
    public boolean loud() {
        return loud;
    }

    /**
     * Logs one refusal; {@code format} and {@code args} as SLF4J's. Text arguments come from
     * clients (a login, a database or channel name): control characters are escaped, so that no
     * one forges a log line with a newline, and they are cut at {@value #MAX_ARGUMENT} characters.
     */
    public void refused(String format, Object... args) {
        if (loud ? !LOGGER.isInfoEnabled() : !LOGGER.isDebugEnabled()) {
            return;
        }
        Object[] safe = new Object[args.length];
        for (int i = 0; i < args.length; i++) {
            safe[i] = args[i] instanceof CharSequence text ? printable(text.toString()) : args[i];
        }
        if (loud) {
            LOGGER.info(format, safe);
        } else {
            LOGGER.debug(format, safe);
        }
    }

    static final int MAX_ARGUMENT = 200;

    /** {@code text} with its control characters escaped (a newline as a backslash and n), cut at {@link #MAX_ARGUMENT} characters. */
    static String printable(String text) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), MAX_ARGUMENT) + 8);
        int i = 0;
        for (; i < text.length() && out.length() < MAX_ARGUMENT; i++) {
            char c = text.charAt(i);
            if (c == '\n') {
                out.append("\\n");
            } else if (c == '\r') {
                out.append("\\r");
            } else if (Character.isISOControl(c)) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return i < text.length() ? out + "..." : out.toString();
    }

    /** A session token as a refusal line may show it: its first characters, or "none". */
    public static String session(String token) {
        if (token == null || token.isEmpty()) {
            return "none";
        }
        return token.length() <= SESSION_PREFIX ? "..." : token.substring(0, SESSION_PREFIX) + "...";
    }
}
