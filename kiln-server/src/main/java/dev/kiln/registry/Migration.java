package dev.kiln.registry;

import dev.kiln.failure.KilnException;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One SQL script of an addon: {@code <addon>/migrations/V<version>__<description>.sql}, versions
 * compared part by part as numbers ({@code V1_2} is 1.2, before {@code V1_10}). An addon's scripts
 * are applied once each, in version order, when it is installed or updated.
 */
public record Migration(String addon, String version, String description, Path file, String sql, String checksum)
        implements Comparable<Migration> {

    private static final Pattern NAME = Pattern.compile("V(\\d+(?:[._]\\d+)*)__([A-Za-z0-9_\\-]+)\\.sql");

    /** The scripts of {@code addon} in its folder, in version order; none when it has no migrations folder. */
    public static List<Migration> of(String addon, Path addonFolder) {
        Path folder = addonFolder.resolve("migrations");
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        List<Migration> found = new ArrayList<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path file : files.sorted().toList()) {
                String name = file.getFileName().toString();
                if (!name.endsWith(".sql")) {
                    continue;
                }
                Matcher matcher = NAME.matcher(name);
                if (!matcher.matches()) {
                    throw KilnException.failure("addon '" + addon + "': migration " + file
                            + " is not named V<version>__<description>.sql (e.g. V1__create_tables.sql)");
                }
                String sql = Files.readString(file, StandardCharsets.UTF_8);
                found.add(new Migration(addon, normalized(matcher.group(1)), matcher.group(2), file, sql, sha256(sql)));
            }
        } catch (IOException e) {
            throw KilnException.failure("addon '" + addon + "': cannot read its migrations in " + folder + " (" + e.getMessage() + ")");
        }
        found.sort(Comparator.naturalOrder());
        for (int i = 1; i < found.size(); i++) {
            if (found.get(i).compareTo(found.get(i - 1)) == 0) {
                throw KilnException.failure("addon '" + addon + "': migrations " + found.get(i - 1).file().getFileName()
                        + " and " + found.get(i).file().getFileName() + " have the same version");
            }
        }
        return found;
    }

    /** {@code 1_2} → {@code 1.2}; trailing zero parts dropped, so {@code V1} and {@code V1_0} are one version. */
    private static String normalized(String version) {
        List<BigInteger> parts = new ArrayList<>(Arrays.stream(version.split("[._]")).map(BigInteger::new).toList());
        while (parts.size() > 1 && parts.getLast().signum() == 0) {
            parts.removeLast();
        }
        return String.join(".", parts.stream().map(BigInteger::toString).toList());
    }

    @Override
    public int compareTo(Migration other) {
        return Arrays.compare(parts(version), parts(other.version));
    }

    private static BigInteger[] parts(String version) {
        return Arrays.stream(version.split("\\.")).map(BigInteger::new).toArray(BigInteger[]::new);
    }

    private static String sha256(String sql) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(sql.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
