package dev.kiln.addons;

import dev.kiln.failure.KilnException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Discovery over the addons path: every direct subfolder holding a {@code manifest.json} is an addon
 * named by its folder. The bundled folder ({@code <kiln.dist>/addons}) is always searched last, as
 * Odoo always searches its own {@code odoo/addons}. Unlike Odoo, which silently takes the first of
 * two same-named addons, Kiln refuses to guess and names both folders.
 */
public final class AddonsPath {

    /** System property naming the distribution folder; its {@code addons} subfolder holds the bundled addons. */
    public static final String DIST_PROPERTY = "kiln.dist";

    private AddonsPath() { }

    /** The folders searched: {@code configured} then the bundled folder, without duplicates. */
    public static List<Path> folders(List<Path> configured) {
        List<Path> folders = new ArrayList<>();
        for (Path folder : configured) {
            add(folders, folder);
        }
        bundled().ifPresent(bundled -> add(folders, bundled));
        return folders;
    }

    /** The bundled addons' folder, {@code <kiln.dist>/addons}, when there is one. */
    public static Optional<Path> bundled() {
        String dist = System.getProperty(DIST_PROPERTY);
        if (dist == null || dist.isBlank()) {
            return Optional.empty();
        }
        Path bundled = Path.of(dist, "addons").toAbsolutePath().normalize();
        return Files.isDirectory(bundled) ? Optional.of(bundled) : Optional.empty();
    }

    /** Every addon on the path, by technical name, in path order then name order. */
    public static Map<String, Manifest> discover(List<Path> configured) {
        Map<String, Manifest> found = new LinkedHashMap<>();
        for (Path folder : folders(configured)) {
            if (!Files.isDirectory(folder)) {
                throw KilnException.failure("addons path folder " + folder + " does not exist or is not a folder");
            }
            for (Path dir : subfolders(folder)) {
                if (!Files.isRegularFile(dir.resolve(Manifest.FILE_NAME))) {
                    continue;
                }
                String name = dir.getFileName().toString();
                Manifest earlier = found.get(name);
                if (earlier != null) {
                    throw KilnException.failure("addon '" + name + "' is in two folders of the addons path: "
                            + earlier.directory() + " and " + dir + "; remove one or drop its folder from --addons-path");
                }
                found.put(name, Manifest.read(dir));
            }
        }
        return Collections.unmodifiableMap(found);
    }

    private static void add(List<Path> folders, Path folder) {
        Path normal = folder.toAbsolutePath().normalize();
        for (Path known : folders) {
            if (known.equals(normal) || sameFile(known, normal)) {
                return;
            }
        }
        folders.add(normal);
    }

    private static boolean sameFile(Path a, Path b) {
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
        } catch (IOException e) {
            return false;
        }
    }

    private static List<Path> subfolders(Path folder) {
        try (Stream<Path> entries = Files.list(folder)) {
            return entries.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            throw KilnException.failure("addons path folder " + folder + " cannot be read: " + e.getMessage());
        }
    }
}
