package dev.kiln.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.kiln.auth.Passwords;

/**
 * How one option's text (from the command line, the environment, the config file or the default)
 * becomes a typed value, and back into text for {@code -s}. {@link #parse} throws
 * {@link IllegalArgumentException} whose message is the expectation ("expected a whole number of
 * seconds"); the loader adds which option, value and place. Parsing then formatting then parsing
 * again gives the same value: that is what makes a saved file load back to the same Config.
 */
public interface ValueType<T> {

    T parse(String text, Path home);

    String format(T value);

    /** What the docs and --help show as the type, e.g. "seconds". */
    String label();

    /** Odoo writes an unset value as False; these read back as unset for nullable types. */
    static boolean isUnsetMarker(String text) {
        String t = text.strip();
        return t.isEmpty() || t.equalsIgnoreCase("false") || t.equals("None");
    }

    static ValueType<Boolean> bool() {
        return new ValueType<>() {
            public Boolean parse(String text, Path home) {
                return switch (text.strip().toLowerCase(Locale.ROOT)) {
                    case "true", "1", "yes", "on" -> true;
                    case "false", "0", "no", "off" -> false;
                    default -> throw new IllegalArgumentException("expected True or False");
                };
            }
            public String format(Boolean value) { return value ? "True" : "False"; }
            public String label() { return "boolean"; }
        };
    }

    /** A whole number in [min, max]; {@code what} names the unit in messages ("seconds"). */
    static ValueType<Integer> integer(int min, int max, String what) {
        return new ValueType<>() {
            public Integer parse(String text, Path home) {
                long n;
                try {
                    n = Long.parseLong(text.strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(expectation());
                }
                if (n < min || n > max) {
                    throw new IllegalArgumentException(expectation());
                }
                return (int) n;
            }
            private String expectation() {
                String range = max == Integer.MAX_VALUE ? " >= " + min : " from " + min + " to " + max;
                return "expected a whole number of " + what + range;
            }
            public String format(Integer value) { return value.toString(); }
            public String label() { return what; }
        };
    }

    /** A port, or unset (written as False) when {@code nullable}. */
    static ValueType<Integer> port(boolean nullable) {
        ValueType<Integer> n = integer(nullable ? 1 : 0, 65535, "port");
        return new ValueType<>() {
            public Integer parse(String text, Path home) {
                if (nullable && isUnsetMarker(text)) {
                    return null;
                }
                try {
                    return n.parse(text, home);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("expected a port number from "
                            + (nullable ? 1 : 0) + " to 65535");
                }
            }
            public String format(Integer value) { return value == null ? "False" : value.toString(); }
            public String label() { return "port"; }
        };
    }

    /**
     * A size in bytes: plain bytes as Odoo writes them, or a number with K, M, G or T (binary
     * multiples, optionally followed by "iB" or "B"): 512M, 2G, 2048MiB.
     */
    static ValueType<Long> bytes() {
        Pattern shape = Pattern.compile("(\\d+)\\s*(?:([KMGT])(?:i?B)?|B)?", Pattern.CASE_INSENSITIVE);
        return new ValueType<>() {
            public Long parse(String text, Path home) {
                Matcher m = shape.matcher(text.strip());
                if (!m.matches()) {
                    throw new IllegalArgumentException("expected a size in bytes (e.g. 2147483648, 512M, 2G)");
                }
                int shift = m.group(2) == null ? 0
                        : 10 * ("KMGT".indexOf(Character.toUpperCase(m.group(2).charAt(0))) + 1);
                try {
                    long n = Long.parseLong(m.group(1));
                    if (n > (Long.MAX_VALUE >> shift)) {
                        throw new NumberFormatException();
                    }
                    return n << shift;
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("expected a size in bytes (e.g. 2147483648, 512M, 2G)");
                }
            }
            public String format(Long value) { return value.toString(); }
            public String label() { return "bytes"; }
        };
    }

    /** Free text, or unset when absent (or written as False, as Odoo does). */
    static ValueType<String> text() {
        return new ValueType<>() {
            public String parse(String text, Path home) { return isUnsetMarker(text) ? null : text.strip(); }
            public String format(String value) { return value == null ? "False" : value; }
            public String label() { return "text"; }
        };
    }

    /**
     * A master password, kept as given (clear text or a passlib {@code $pbkdf2-sha512$} hash) but
     * always written as a hash, so that {@code -s} never leaves it in clear in the file.
     */
    static ValueType<String> masterPassword() {
        return new ValueType<>() {
            public String parse(String text, Path home) { return isUnsetMarker(text) ? null : text.strip(); }
            public String format(String value) {
                return value == null ? "False" : Passwords.isHash(value) ? value : Passwords.hash(value);
            }
            public String label() { return "password"; }
        };
    }

    /** One of {@code choices}, compared without regard to case. */
    static ValueType<String> choice(String... choices) {
        List<String> all = List.of(choices);
        return new ValueType<>() {
            public String parse(String text, Path home) {
                String t = text.strip().toLowerCase(Locale.ROOT);
                if (!all.contains(t)) {
                    throw new IllegalArgumentException("expected one of " + String.join(", ", all));
                }
                return t;
            }
            public String format(String value) { return value; }
            public String label() { return String.join("|", all); }
        };
    }

    /** A file path; "~" means the home folder; relative paths are taken from the working folder. */
    static ValueType<Path> path() {
        return new ValueType<>() {
            public Path parse(String text, Path home) {
                return isUnsetMarker(text) ? null : resolve(text.strip(), home);
            }
            public String format(Path value) { return value == null ? "False" : value.toString(); }
            public String label() { return "path"; }
        };
    }

    /** Comma-separated names; blanks dropped, order and duplicates as given. */
    static ValueType<List<String>> names() {
        return new ValueType<>() {
            public List<String> parse(String text, Path home) { return split(text); }
            public String format(List<String> value) { return String.join(",", value); }
            public String label() { return "name,..."; }
        };
    }

    /** Comma-separated folders, each of which must exist (Odoo refuses a bad addons path too). */
    static ValueType<List<Path>> existingFolders() {
        return new ValueType<>() {
            public List<Path> parse(String text, Path home) {
                List<Path> folders = new ArrayList<>();
                for (String item : split(text)) {
                    Path p = resolve(item, home);
                    if (!Files.isDirectory(p)) {
                        throw new IllegalArgumentException("folder " + p + " does not exist");
                    }
                    folders.add(p);
                }
                return List.copyOf(folders);
            }
            public String format(List<Path> value) {
                return String.join(",", value.stream().map(Path::toString).toList());
            }
            public String label() { return "folder,..."; }
        };
    }

    /** A comma list drawn from {@code choices}; "all" stands for every other choice. */
    static ValueType<Set<String>> choiceSet(String... choices) {
        return choiceSet(Set.of(), choices);
    }

    /** A comma list drawn from {@code choices}; "all" stands for every other choice but {@code notInAll}. */
    static ValueType<Set<String>> choiceSet(Set<String> notInAll, String... choices) {
        List<String> all = List.of(choices);
        List<String> meantByAll = all.stream().filter(c -> !notInAll.contains(c)).toList();
        return new ValueType<>() {
            public Set<String> parse(String text, Path home) {
                Set<String> chosen = new TreeSet<>();
                for (String item : split(text)) {
                    String t = item.toLowerCase(Locale.ROOT);
                    if (t.equals("all")) {
                        chosen.addAll(meantByAll);
                    } else if (all.contains(t)) {
                        chosen.add(t);
                    } else {
                        throw new IllegalArgumentException("unknown mode '" + item + "'; expected "
                                + String.join(", ", all) + " or all");
                    }
                }
                return Set.copyOf(chosen);
            }
            public String format(Set<String> value) { return String.join(",", new TreeSet<>(value)); }
            public String label() { return String.join(",", all) + ",all"; }
        };
    }

    /** Odoo's {@code logger:LEVEL} handlers; an empty logger (":LEVEL") is the root logger. */
    static ValueType<List<String>> logHandlers() {
        return new ValueType<>() {
            public List<String> parse(String text, Path home) {
                List<String> handlers = split(text);
                for (String h : handlers) {
                    int colon = h.lastIndexOf(':');
                    if (colon < 0 || !LogLevelNames.isLevel(h.substring(colon + 1))) {
                        throw new IllegalArgumentException("expected logger:LEVEL with LEVEL one of "
                                + String.join(", ", LogLevelNames.HANDLER_LEVELS));
                    }
                }
                return handlers;
            }
            public String format(List<String> value) { return String.join(",", value); }
            public String label() { return "logger:LEVEL"; }
        };
    }

    private static List<String> split(String text) {
        return Arrays.stream(text.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    private static Path resolve(String text, Path home) {
        if (text.equals("~")) {
            return home;
        }
        if (text.startsWith("~/")) {
            return home.resolve(text.substring(2));
        }
        return Path.of(text).toAbsolutePath().normalize();
    }
}
