package dev.kiln.server;

import java.math.BigDecimal;
import java.time.ZoneId;
import java.util.Locale;

/**
 * JDK work that every server and worker start needs and that nothing of Kiln's waits on first, run
 * on a side thread while the main thread reads options, loads addons and binds: the list of
 * available locales (Jetty's MimeTypes reads it when the HTTP server is built, about 60 ms on one
 * thread), BigDecimal's tables and the default time zone (the log layout). With a core to spare
 * the start is that much shorter; with none, it costs nothing more. These are the JDK's own
 * caches, filled once by whichever thread comes first: the other waits for it.
 */
final class StartAhead {

    private StartAhead() { }

    static void start() {
        Thread.ofPlatform().daemon().name("kiln-start-ahead").start(() -> {
            BigDecimal.ONE.scale();
            ZoneId.systemDefault();
            Locale.getAvailableLocales();
        });
    }
}
