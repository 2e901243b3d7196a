package dev.kiln.addons;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/** Builds small addon folders for tests: a manifest and a jar compiled from Java sources, or the sources themselves. */
public final class TestAddons {

    private TestAddons() { }

    /** Writes {@code <root>/<name>/manifest.json} and, when {@code sources} (class name → code) is not empty, the jar. */
    public static Path addon(Path root, String name, String manifest, Map<String, String> sources) {
        try {
            Path dir = Files.createDirectories(root.resolve(name));
            Files.writeString(dir.resolve("manifest.json"), manifest);
            if (!sources.isEmpty()) {
                jar(sources, List.of(), dir.resolve(name + ".jar"));
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes the source addon {@code <root>/<name>/}: its manifest and {@code src/<path>} for each
     * entry of {@code files} (a path relative to {@code src/} → its text: Java sources and resources).
     */
    public static Path sourceAddon(Path root, String name, String manifest, Map<String, String> files) {
        try {
            Path dir = Files.createDirectories(root.resolve(name));
            Files.writeString(dir.resolve("manifest.json"), manifest);
            for (Map.Entry<String, String> file : files.entrySet()) {
                Path path = dir.resolve("src").resolve(file.getKey());
                Files.createDirectories(path.getParent());
                Files.writeString(path, file.getValue());
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A manifest with {@code depends} and an optional entry class. */
    public static String manifest(String entry, String... depends) {
        StringBuilder json = new StringBuilder("{\"version\": \"1.0\", \"depends\": [");
        for (int i = 0; i < depends.length; i++) {
            json.append(i == 0 ? "" : ", ").append('"').append(depends[i]).append('"');
        }
        json.append(']');
        if (entry != null) {
            json.append(", \"entry\": \"").append(entry).append('"');
        }
        return json.append('}').toString();
    }

    /**
     * Compiles {@code sources} (class name → code) against the test class path plus
     * {@code extraClassPath} into {@code jar}; the sources and classes are written to temporary
     * folders that are removed before this returns.
     */
    public static void jar(Map<String, String> sources, List<Path> extraClassPath, Path jar) throws IOException {
        Path work = Files.createTempDirectory("kiln-addon-build");
        try {
            Path src = Files.createDirectories(work.resolve("src"));
            Path classes = Files.createDirectories(work.resolve("classes"));
            List<String> files = new ArrayList<>();
            for (Map.Entry<String, String> source : sources.entrySet()) {
                Path file = src.resolve(source.getKey().replace('.', '/') + ".java");
                Files.createDirectories(file.getParent());
                Files.writeString(file, source.getValue());
                files.add(file.toString());
            }
            StringBuilder classPath = new StringBuilder(System.getProperty("java.class.path"));
            extraClassPath.forEach(p -> classPath.append(File.pathSeparator).append(p));
            List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", classPath.toString(), "-parameters", "-nowarn"));
            args.addAll(files);
            JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
            int status = compiler.run(null, null, null, args.toArray(String[]::new));
            if (status != 0) {
                throw new IllegalStateException("test addon did not compile: " + sources.keySet());
            }
            jar(classes, jar);
        } finally {
            deleteTree(work);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path path : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }

    private static void jar(Path classes, Path jar) throws IOException {
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file);
             Stream<Path> walk = Files.walk(classes)) {
            for (Path path : walk.filter(Files::isRegularFile).sorted().toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(path).toString().replace('\\', '/')));
                out.write(Files.readAllBytes(path));
                out.closeEntry();
            }
        }
    }
}
