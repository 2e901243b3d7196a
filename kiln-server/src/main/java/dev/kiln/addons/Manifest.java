package dev.kiln.addons;

import dev.kiln.failure.KilnException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.json.JsonFactory;

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
    private static final JsonFactory JSON = new JsonFactory();

    public Manifest {
        depends = List.copyOf(depends);
    }

    public Path file() {
        return directory.resolve(FILE_NAME);
    }

    /** The addon's {@code static/} folder, served at {@code /<addon>/static/}, when it has one. */
    public Optional<Path> staticFolder() {
        Path folder = directory.resolve("static");
        return Files.isDirectory(folder) ? Optional.of(folder) : Optional.empty();
    }

    /** Reads and validates {@code <directory>/manifest.json}; any problem is one line naming the file. */
    public static Manifest read(Path directory) {
        String name = directory.getFileName().toString();
        Path file = directory.resolve(FILE_NAME);
        Map<String, Object> root;
        try {
            root = parse(Files.readAllBytes(file), name, file);
        } catch (IOException e) {
            throw invalid(name, file, "cannot be read (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        } catch (JacksonException e) {
            TokenStreamLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw invalid(name, file, "is not valid JSON" + where + ": " + firstLine(e.getOriginalMessage()));
        }
        for (String field : root.keySet()) {
            if (!KNOWN.contains(field)) {
                throw invalid(name, file, "unknown field \"" + field + "\" (known: " + String.join(", ", KNOWN.stream().sorted().toList()) + ")");
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
        Object auto = root.get("auto_install");
        if (auto != null && !(auto instanceof Boolean)) {
            throw invalid(name, file, "field \"auto_install\" must be true or false");
        }
        boolean autoInstall = Boolean.TRUE.equals(auto);
        return new Manifest(name, title, version, summary, depends(root, name, file), autoInstall, license, entry, directory);
    }

    /**
     * The manifest's top-level fields: strings, booleans, lists, or {@link Other} for anything else
     * (JSON null is left out). Read with Jackson's streaming parser: a whole object mapper costs a
     * start-up a tenth of a second, for three small files.
     */
    private static Map<String, Object> parse(byte[] json, String name, Path file) {
        try (JsonParser parser = JSON.createParser(ObjectReadContext.empty(), json)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw invalid(name, file, "must hold a JSON object");
            }
            Map<String, Object> fields = new LinkedHashMap<>();
            while (parser.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = parser.currentName();
                Object value = value(parser, parser.nextToken());
                if (value != null) {
                    fields.put(field, value);
                }
            }
            if (parser.nextToken() != null) {
                throw invalid(name, file, "holds more than one JSON value");
            }
            return fields;
        }
    }

    /** A value read from its first token; lists keep their items the same way. */
    private static Object value(JsonParser parser, JsonToken token) {
        return switch (token) {
            case VALUE_STRING -> parser.getString();
            case VALUE_TRUE -> Boolean.TRUE;
            case VALUE_FALSE -> Boolean.FALSE;
            case VALUE_NULL -> null;
            case START_ARRAY -> {
                List<Object> items = new ArrayList<>();
                for (JsonToken item = parser.nextToken(); item != JsonToken.END_ARRAY; item = parser.nextToken()) {
                    items.add(value(parser, item));
                }
                yield items;
            }
            case START_OBJECT -> {
                parser.skipChildren();
                yield new Other("an object");
            }
            default -> new Other(parser.getString());
        };
    }

    /** A value of a type no manifest field takes, kept for the error message. */
    private record Other(String text) {
        @Override
        public String toString() {
            return text;
        }
    }

    private static List<String> depends(Map<String, Object> root, String name, Path file) {
        Object node = root.get("depends");
        if (node == null) {
            return List.of();
        }
        if (!(node instanceof List<?> items)) {
            throw invalid(name, file, "field \"depends\" must be a list of addon names");
        }
        List<String> depends = new ArrayList<>();
        for (Object item : items) {
            if (!(item instanceof String addon) || addon.isBlank()) {
                throw invalid(name, file, "field \"depends\" must be a list of addon names, found " + item);
            }
            if (addon.equals(name)) {
                throw invalid(name, file, "addon depends on itself");
            }
            if (!depends.contains(addon)) {
                depends.add(addon);
            }
        }
        return depends;
    }

    private static String text(Map<String, Object> root, String field, String fallback, String name, Path file) {
        Object node = root.get(field);
        if (node == null) {
            return fallback;
        }
        if (!(node instanceof String value) || value.isBlank()) {
            throw invalid(name, file, "field \"" + field + "\" must be a non-empty string, found " + node);
        }
        return value;
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
