package dev.kiln.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.kiln.config.Option;
import dev.kiln.config.Options;

/**
 * The server's command line read without picocli, when it is plain: every argument an exact flag of
 * the option table, a value after it or after {@code --flag=}. This is what the launcher, systemd
 * units, the in-place restart and every prefork worker pass, on every start; picocli, whose class
 * files are too old for the JVM's AOT cache, costs a start more than a hundred milliseconds of
 * interpreted parsing. Anything else (help, a typo, a missing value, a value that starts with a
 * dash, clustered or attached short options) is left to picocli, which then says what it always
 * said; for what is read here both give the same texts per key (a test holds them to it).
 */
final class PlainArguments {

    /** Each flag of the table and its option, built once per process. */
    private static final Map<String, Option<?>> BY_FLAG = byFlag();

    private PlainArguments() { }

    /**
     * The texts given per option key, as {@link ServerCommand#given} would have them; empty when
     * the line is not plain and picocli must read it.
     */
    static Optional<Map<String, List<String>>> given(List<String> args) {
        Map<String, List<String>> found = new HashMap<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            int equals = arg.startsWith("--") ? arg.indexOf('=') : -1;
            Option<?> option = BY_FLAG.get(equals < 0 ? arg : arg.substring(0, equals));
            if (option == null) {
                return Optional.empty();
            }
            String text;
            switch (option.kind()) {
                case FLAG, NEGATING_FLAG -> {
                    if (equals >= 0) {
                        return Optional.empty();
                    }
                    text = option.kind() == Option.Kind.FLAG ? "True" : "False";
                }
                case VALUE, REPEATABLE -> {
                    if (equals >= 0 && !arg.startsWith("-", equals + 1)) {
                        text = arg.substring(equals + 1);
                    } else if (equals < 0 && i + 1 < args.size() && !args.get(i + 1).startsWith("-")) {
                        text = args.get(++i);
                    } else {
                        return Optional.empty();
                    }
                }
                default -> throw new IllegalStateException("no kind " + option.kind());
            }
            List<String> texts = found.computeIfAbsent(option.key(), key -> new ArrayList<>(1));
            if (option.kind() == Option.Kind.FLAG || option.kind() == Option.Kind.NEGATING_FLAG) {
                texts.clear();
            }
            texts.add(text);
        }
        Map<String, List<String>> given = new LinkedHashMap<>();
        for (Option<?> option : Options.ALL) {
            List<String> texts = found.get(option.key());
            if (texts != null) {
                given.put(option.key(), List.copyOf(texts));
            }
        }
        return Optional.of(given);
    }

    private static Map<String, Option<?>> byFlag() {
        Map<String, Option<?>> byFlag = new HashMap<>();
        for (Option<?> option : Options.ALL) {
            for (String flag : option.flags()) {
                byFlag.put(flag, option);
            }
        }
        return byFlag;
    }
}
