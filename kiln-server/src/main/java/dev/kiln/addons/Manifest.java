package dev.kiln.addons;

import dev.kiln.KilnException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * An addon's {@code manifest.json}, validated. The addon's technical name is its folder's name, as
 * in Odoo; the manifest's {@code name} is the human title. Unknown fields are refused rather than
 * ignored so that a typo ({@code "depend"}) does not silently drop a dependency.
 *
 * @param name        technical name (the folder)
 * @param title       the manifest's {@code name}, or the technical name when absent
 * @param entry       fully qualified class implementing {@link dev.kiln.api.Addon}, or null for an
 *                    addon made only of static files
 * @param directory   the addon folder
 */
public record Manifest(String name, String title, String version, String summary, List<String> depends,
                       boolean autoInstall, String license, String entry, Path directory) {

    public static final String FILE_NAME = "manifest.json";

    private static final Set<String> KNOWN = Set.of("name", "version", "summary", "description", "author",
            "website", "category", "depends", "auto_install", "license", "entry");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    public Manifest {
        depends = List.copyOf(depends);
    }

    public Path file() {
        return directory.resolve(FILE_NAME);
    }

    /** Reads and validates {@code <directory>/manifest.json}; any problem is one line naming the file. */
    public static Manifest read(Path directory) {
        String name = directory.getFileName().toString();
        Path file = directory.resolve(FILE_NAME);
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw invalid(name, file, "cannot be read (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        } catch (JacksonException e) {
            TokenStreamLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw invalid(name, file, "is not valid JSON" + where + ": " + firstLine(e.getOriginalMessage()));
        }
        if (root == null || !root.isObject()) {
            throw invalid(name, file, "must hold a JSON object");
        }
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (!KNOWN.contains(field.getKey())) {
                throw invalid(name, file, "unknown field \"" + field.getKey() + "\" (known: " + String.join(", ", KNOWN.stream().sorted().toList()) + ")");
            }
        }
        String title = text(root, "name", name, name, file);
        String version = text(root, "version", "1.0", name, file);
        String summary = text(root, "summary", "", name, file);
        for (String free : List.of("description", "author", "website", "category")) {
            text(root, free, "", name, file);
        }
        String license = text(root, "license", "LGPL-3", name, file);
        String entry = text(root, "entry", null, name, file);
        if (entry != null && !isClassName(entry)) {
            throw invalid(name, file, "field \"entry\" must be a fully qualified class name, not \"" + entry + "\"");
        }
        boolean autoInstall = false;
        JsonNode auto = root.get("auto_install");
        if (auto != null && !auto.isNull()) {
            if (!auto.isBoolean()) {
                throw invalid(name, file, "field \"auto_install\" must be true or false");
            }
            autoInstall = auto.booleanValue();
        }
        return new Manifest(name, title, version, summary, depends(root, name, file), autoInstall, license, entry, directory);
    }

    private static List<String> depends(JsonNode root, String name, Path file) {
        JsonNode node = root.get("depends");
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw invalid(name, file, "field \"depends\" must be a list of addon names");
        }
        List<String> depends = new ArrayList<>();
        for (JsonNode item : node) {
            if (!item.isString() || item.stringValue().isBlank()) {
                throw invalid(name, file, "field \"depends\" must be a list of addon names, found " + item);
            }
            if (item.stringValue().equals(name)) {
                throw invalid(name, file, "addon depends on itself");
            }
            if (!depends.contains(item.stringValue())) {
                depends.add(item.stringValue());
            }
        }
        return depends;
    }

    private static String text(JsonNode root, String field, String fallback, String name, Path file) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isString() || node.stringValue().isBlank()) {
            throw invalid(name, file, "field \"" + field + "\" must be a non-empty string, found " + node);
        }
        return node.stringValue();
    }

    private static boolean isClassName(String s) {
        for (String part : s.split("\\.", -1)) {
            if (part.isEmpty() || !Character.isJavaIdentifierStart(part.charAt(0))
                    || !part.chars().allMatch(Character::isJavaIdentifierPart)) {
                return false;
            }
        }
        return true;
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }

    static KilnException invalid(String addon, Path file, String problem) {
        return KilnException.failure("addon '" + addon + "': manifest " + file + " " + problem);
    }
}
