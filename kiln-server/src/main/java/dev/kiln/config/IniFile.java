package dev.kiln.config;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import dev.kiln.failure.KilnException;

/**
 * Odoo's config file: INI as Python's RawConfigParser reads it. Options live in {@code [options]};
 * other sections are kept as they are and written back untouched by {@code -s}. Blank lines and
 * lines starting with {@code #} or {@code ;} are comments; {@code key = value} or
 * {@code key: value}; an indented line continues the previous value. A line before any section,
 * a line without {@code =}, or a key given twice is an error naming file and line.
 */
public final class IniFile {

    /** One {@code key = value} of {@code [options]} and the line it came from. */
    public record Entry(String key, String value, int line) { }

    private final Path path;
    private final Map<String, Entry> options;
    private final List<String> otherSections;

    private IniFile(Path path, Map<String, Entry> options, List<String> otherSections) {
        this.path = path;
        this.options = options;
        this.otherSections = otherSections;
    }

    public Path path() {
        return path;
    }

    /** The entries of {@code [options]}, in file order. */
    public Map<String, Entry> options() {
        return options;
    }

    public static IniFile empty(Path path) {
        return new IniFile(path, Map.of(), List.of());
    }

    public static IniFile read(Path path) {
        List<String> lines;
        try {
            lines = Files.readAllLines(path, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw KilnException.usage(path + ": config file not found");
        } catch (IOException e) {
            throw KilnException.usage(path + ": cannot read config file: " + reason(e));
        }
        return parse(path, lines);
    }

    static IniFile parse(Path path, List<String> lines) {
        Map<String, Entry> options = new LinkedHashMap<>();
        List<String> others = new ArrayList<>();
        String section = null;
        Entry last = null;
        for (int i = 0; i < lines.size(); i++) {
            int number = i + 1;
            String raw = lines.get(i);
            String line = raw.strip();
            if (section != null && !section.equals("options") && !line.startsWith("[")) {
                others.add(raw);
                continue;
            }
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                last = null;
                continue;
            }
            if (line.startsWith("[")) {
                if (!line.endsWith("]")) {
                    throw malformed(path, number, "section header without ']'");
                }
                section = line.substring(1, line.length() - 1).strip();
                if (!section.equals("options")) {
                    others.add(raw);
                }
                last = null;
                continue;
            }
            if (section == null) {
                throw malformed(path, number, "'" + line + "' comes before any [section]; start the file with [options]");
            }
            if (Character.isWhitespace(raw.charAt(0)) && last != null) {
                last = new Entry(last.key(), last.value() + "\n" + line, last.line());
                options.put(last.key(), last);
                continue;
            }
            int eq = separator(line);
            if (eq <= 0) {
                throw malformed(path, number, "'" + line + "' is not key = value");
            }
            String key = line.substring(0, eq).strip().toLowerCase(Locale.ROOT);
            Entry entry = new Entry(key, line.substring(eq + 1).strip(), number);
            Entry previous = options.putIfAbsent(key, entry);
            if (previous != null) {
                throw malformed(path, number, key + " is already set on line " + previous.line());
            }
            last = entry;
        }
        return new IniFile(path, options, List.copyOf(others));
    }

    /** RawConfigParser splits at the first '=' or ':', whichever comes first. */
    private static int separator(String line) {
        int eq = line.indexOf('=');
        int colon = line.indexOf(':');
        if (eq < 0) {
            return colon;
        }
        return colon < 0 ? eq : Math.min(eq, colon);
    }

    /**
     * Writes {@code [options]} with {@code values} (key to text, in the given order), then any other
     * sections read from the previous file. The file is written beside its final place with mode
     * 0600 and renamed over it, so a reader sees the old file or the new one, never half of one.
     */
    public static void write(Path path, Map<String, String> values, List<String> otherSections) {
        Path target = path.toAbsolutePath();
        Path folder = target.getParent();
        Path temp = null;
        try {
            Files.createDirectories(folder);
            temp = Files.createTempFile(folder, "." + target.getFileName() + ".", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (Writer w = Files.newBufferedWriter(temp, StandardCharsets.UTF_8)) {
                w.write("[options]\n");
                for (Map.Entry<String, String> e : values.entrySet()) {
                    w.write(e.getKey() + " = " + e.getValue().replace("\n", "\n\t") + "\n");
                }
                if (!otherSections.isEmpty()) {
                    w.write("\n");
                    for (String line : otherSections) {
                        w.write(line + "\n");
                    }
                }
            }
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            deleteQuietly(temp);
            throw KilnException.failure(target + ": cannot save the configuration: " + reason(e));
        }
    }

    /** The sections other than [options], to carry over when saving. */
    public List<String> otherSections() {
        return otherSections;
    }

    private static KilnException malformed(Path path, int line, String what) {
        return KilnException.usage(path + ":" + line + ": " + what);
    }

    private static String reason(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file or folder";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "already exists";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // the temporary file is a leftover at worst; the error that matters is reported
            }
        }
    }
}
