package dev.kiln.addons;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The Kiln version, from the build-filtered resource {@code dev/kiln/version.properties}. */
public final class ServerVersion {

    private static final String VERSION = read();

    private ServerVersion() { }

    public static String current() {
        return VERSION;
    }

    private static String read() {
        try (InputStream in = ServerVersion.class.getResourceAsStream("/dev/kiln/version.properties")) {
            if (in == null) {
                return "0.0.0";
            }
            Properties properties = new Properties();
            properties.load(in);
            return properties.getProperty("version", "0.0.0");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
