package dev.kiln.addons;

import dev.kiln.api.Addon;
import dev.kiln.failure.KilnException;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.CodeSource;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.StandardLocation;
import javax.tools.ToolProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compiles a source addon, one whose folder holds {@code src/} (package folders of {@code .java}
 * files, and resources beside them) instead of {@code <name>.jar}, with the JDK's compiler in this
 * process. It compiles against what the addon's class loader will show it: {@code kiln-api}, SLF4J,
 * the code of the addons it depends on (transitively) and its own {@code lib/*.jar}.
 *
 * <p>The result, classes plus a copy of the resources, is kept under {@code <cache>/<name>-<hash>/}.
 * The hash covers everything the classes are made from: every file under {@code src/}, the addon's
 * jars in {@code lib/}, the code identity of each dependency, kiln-api and SLF4J (their bytes), the
 * Kiln version, the Java release and the compiler options. So an unchanged addon is never compiled twice, any change compiles
 * it again, and several processes (prefork workers, another host on a shared disk) share one result.
 * Each compilation writes into a temporary folder renamed into place once complete: a crash leaves a
 * stray {@code .tmp-*} folder (removed by a compilation of the same addon an hour later), never a
 * half-written cache entry that would be taken for a whole one. Old entries are not removed (a
 * running process may still load classes from them).
 *
 * <p>Compile errors throw a {@link KilnException} listing the first {@value #MAX_ERRORS_SHOWN} as
 * javac prints them ({@code file:line: message}), one per line: joined on one line, ten errors would
 * be unreadable. Nothing of the addon is loaded then.
 */
final class AddonCompiler {

    private static final Logger LOG = LoggerFactory.getLogger(AddonCompiler.class);

    /** The source folder of a source addon, relative to the addon folder. */
    static final String SOURCE_FOLDER = "src";
    /** The cache's folder under {@code data_dir}. */
    static final String CACHE_FOLDER = "addons-cache";
    static final int MAX_ERRORS_SHOWN = 10;

    /**
     * The Java release the addons are compiled for: the running JDK's, which will load them. It is
     * javac's own default, so no {@code --release} is passed: that option makes javac read the
     * platform's API from its symbol file instead of the running image, which measured costs a third
     * more on each compile (an autoreload's compile is the first of its process: 965 against 624 ms
     * cold, 90-140 against 36-60 ms warm).
     */
    private static final String RELEASE = Integer.toString(Runtime.version().feature());
    private static final List<String> OPTIONS = List.of("-encoding", "UTF-8", "-parameters", "-proc:none", "-g");
    /** A compilation older than this is a crashed one: its temporary folder may go. */
    private static final Duration ABANDONED = Duration.ofHours(1);
    /** The identity of kiln-api and SLF4J by where they were loaded from: read once per process. */
    private static final Map<List<Path>, String> API_IDENTITY = new ConcurrentHashMap<>();

    /** Compiled code of one addon: the folder its class loader reads, and the hash that named it. */
    record Compiled(Path classes, String hash) { }

    /** One dependency as the hash sees it: its name and the identity of its code. */
    record Dependency(String name, String identity) { }

    /** Null until first needed when there is no data dir: then a private folder of this process. */
    private Path cache;

    /** @param dataDir the cache goes to {@code <dataDir>/addons-cache}; null: a private temporary folder */
    AddonCompiler(Path dataDir) {
        this.cache = dataDir == null ? null : dataDir.resolve(CACHE_FOLDER);
    }

    /** Whether {@code manifest}'s addon is made of sources. */
    static boolean isSourceAddon(Manifest manifest) {
        return Files.isDirectory(manifest.directory().resolve(SOURCE_FOLDER));
    }

    /**
     * The addon's compiled classes and resources, from the cache or compiled now.
     *
     * @param dependencyCode the jars and folders of every addon it depends on (transitively)
     * @param dependencies   their names and code identities, for the hash
     * @param libJars        the addon's own {@code lib/*.jar}
     */
    Compiled compile(Manifest manifest, List<Path> dependencyCode, List<Dependency> dependencies, List<Path> libJars) {
        Path src = manifest.directory().resolve(SOURCE_FOLDER);
        List<Path> files = filesUnder(src, manifest);
        List<Path> api = apiCode();
        String hash;
        try {
            hash = hash(src, files, api, dependencies, libJars);
        } catch (UncheckedIOException e) {
            throw KilnException.failure("addon '" + manifest.name() + "': cannot read its code to hash it: " + e.getCause());
        }
        Path target = cache(manifest).resolve(manifest.name() + "-" + hash);
        if (Files.isDirectory(target)) {
            LOG.debug("addon '{}': classes from the cache {}", manifest.name(), target);
            return new Compiled(target, hash);
        }
        List<Path> classPath = new ArrayList<>(api);
        classPath.addAll(dependencyCode);
        classPath.addAll(libJars);
        long started = System.nanoTime();
        Path temporary = temporaryFolder(manifest, target);
        try {
            List<Path> sources = files.stream().filter(AddonCompiler::isJava).toList();
            if (!sources.isEmpty()) {
                javac(manifest, src, sources, classPath, temporary);
            }
            copyResources(src, files, temporary, manifest);
            publish(temporary, target, manifest);
        } finally {
            deleteTree(temporary);
        }
        long count = files.stream().filter(AddonCompiler::isJava).count();
        LOG.info("addon '{}': compiled {} source {} in {} ms into {}", manifest.name(), count, count == 1 ? "file" : "files",
                (System.nanoTime() - started) / 1_000_000, target);
        return new Compiled(target, hash);
    }

    /** The identity of code that is not compiled here (an addon's jars, kiln-api): a hash of its bytes. */
    static String identityOf(List<Path> code) {
        MessageDigest digest = sha256();
        identify(digest, code);
        return HexFormat.of().formatHex(digest.digest(), 0, 10);
    }

    /** Each jar's name and bytes; each folder's files, by relative path, with their bytes. */
    private static void identify(MessageDigest digest, List<Path> code) {
        for (Path path : code) {
            text(digest, "code " + path.getFileName());
            if (Files.isRegularFile(path)) {
                update(digest, path);
            } else if (Files.isDirectory(path)) {
                try (Stream<Path> walk = Files.walk(path)) {
                    for (Path file : walk.filter(Files::isRegularFile).sorted(Comparator.comparing(f -> relative(path, f))).toList()) {
                        text(digest, relative(path, file));
                        update(digest, file);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }

    /**
     * The jar or folder {@code type} was loaded from: {@code dist/lib/kiln-api-<version>.jar} in a
     * distribution, {@code kiln-api/target/classes} in a build, wherever the class path says.
     */
    static Path codeOf(Class<?> type) {
        CodeSource source = type.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            throw KilnException.failure("source addons cannot be compiled: the jar or folder holding " + type.getName()
                    + " is unknown (it was not loaded from the class path)");
        }
        try {
            return Path.of(source.getLocation().toURI());
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw KilnException.failure("source addons cannot be compiled: " + type.getName() + " comes from "
                    + source.getLocation() + ", which is not a file");
        }
    }

    private static String hash(Path src, List<Path> files, List<Path> api, List<Dependency> dependencies, List<Path> libJars) {
        MessageDigest digest = sha256();
        text(digest, "kiln " + ServerVersion.current());
        text(digest, "javac " + RELEASE + " " + String.join(" ", OPTIONS));
        // the version alone misses an API changed within a development version
        text(digest, "api " + API_IDENTITY.computeIfAbsent(api, AddonCompiler::identityOf));
        for (Path file : files) {
            text(digest, "src " + relative(src, file));
            update(digest, file);
        }
        for (Path jar : libJars) {
            text(digest, "lib " + jar.getFileName());
            update(digest, jar);
        }
        for (Dependency dependency : dependencies) {
            text(digest, "depends " + dependency.name() + " " + dependency.identity());
        }
        return HexFormat.of().formatHex(digest.digest(), 0, 10);
    }

    /** What every addon compiles against before its dependencies: kiln-api and SLF4J, where they were loaded from. */
    private static List<Path> apiCode() {
        return List.of(codeOf(Addon.class), codeOf(Logger.class));
    }

    /** What {@link #warmUp} compiles: an addon with a route, as small as an edited one is likely to be. */
    private static final String WARM_UP_SOURCE = """
            package kiln_warm_up;

            import dev.kiln.api.*;

            public final class WarmUp implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/kiln_warm_up", auth = Route.Auth.NONE, methods = "GET")
                public Response answer(Request request) { return Response.text(request.param("q").orElse("warm")); }
            }
            """;

    /**
     * Compiles a small addon in memory and discards the classes, so that the next real compile finds
     * the compiler loaded and partly compiled by the JIT. An autoreload's pre-flight compile is the
     * first compile of its process (the restarted image finds its addons compiled in the cache):
     * measured, a second compile of the same file takes a fifth to a tenth of the first. Writes no
     * file, so a restart in the middle of it leaves nothing behind. Returns false when there is no
     * compiler or the compile failed (the real compile will say why).
     */
    static boolean warmUp() {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            return false;
        }
        JavaFileObject source = new SimpleJavaFileObject(URI.create("string:///kiln_warm_up/WarmUp.java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return WARM_UP_SOURCE;
            }
        };
        try (StandardJavaFileManager files = javac.getStandardFileManager(null, Locale.ENGLISH, StandardCharsets.UTF_8)) {
            files.setLocationFromPaths(StandardLocation.CLASS_PATH, apiCode());
            JavaFileManager discarding = new ForwardingJavaFileManager<>(files) {
                @Override
                public JavaFileObject getJavaFileForOutput(Location location, String className, JavaFileObject.Kind kind, FileObject sibling) {
                    return new SimpleJavaFileObject(URI.create("discarded:///" + className.replace('.', '/') + kind.extension), kind) {
                        @Override
                        public OutputStream openOutputStream() {
                            return OutputStream.nullOutputStream();
                        }
                    };
                }
            };
            return javac.getTask(null, discarding, diagnostic -> { }, OPTIONS, null, List.of(source)).call();
        } catch (IOException | RuntimeException e) {
            LOG.debug("the compiler's warm-up failed: {}", e.toString());
            return false;
        }
    }

    private static void javac(Manifest manifest, Path src, List<Path> sources, List<Path> classPath, Path output) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw KilnException.failure("addon '" + manifest.name() + "' is made of sources (" + src + ") but this Java runtime ("
                    + System.getProperty("java.home") + ") has no compiler (module jdk.compiler): run Kiln on a JDK "
                    + RELEASE + " or later, or ship the addon as a jar");
        }
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        boolean compiled;
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, Locale.ENGLISH, StandardCharsets.UTF_8)) {
            files.setLocationFromPaths(StandardLocation.CLASS_OUTPUT, List.of(output));
            files.setLocationFromPaths(StandardLocation.CLASS_PATH, classPath);
            // src/ alone: without a source path javac would compile .java files it finds in a dependency's jar
            files.setLocationFromPaths(StandardLocation.SOURCE_PATH, List.of(src));
            compiled = javac.getTask(null, files, diagnostics, OPTIONS, null, files.getJavaFileObjectsFromPaths(sources)).call();
        } catch (IOException e) {
            throw KilnException.failure("addon '" + manifest.name() + "' cannot be compiled: " + e.getMessage());
        }
        List<Diagnostic<? extends JavaFileObject>> errors = new ArrayList<>();
        for (Diagnostic<? extends JavaFileObject> diagnostic : diagnostics.getDiagnostics()) {
            switch (diagnostic.getKind()) {
                case ERROR -> errors.add(diagnostic);
                case WARNING, MANDATORY_WARNING -> LOG.warn("addon '{}': {}: warning: {}", manifest.name(),
                        where(diagnostic), message(diagnostic));
                default -> { }
            }
        }
        if (!compiled || !errors.isEmpty()) {
            throw compileErrors(manifest, src, errors);
        }
    }

    private static KilnException compileErrors(Manifest manifest, Path src, List<Diagnostic<? extends JavaFileObject>> errors) {
        StringBuilder message = new StringBuilder("addon '").append(manifest.name()).append("' does not compile (")
                .append(errors.size()).append(errors.size() == 1 ? " error" : " errors").append(" in ").append(src).append("):");
        for (Diagnostic<? extends JavaFileObject> error : errors.subList(0, Math.min(errors.size(), MAX_ERRORS_SHOWN))) {
            message.append("\n  ").append(where(error)).append(": ").append(message(error));
        }
        if (errors.size() > MAX_ERRORS_SHOWN) {
            message.append("\n  ... and ").append(errors.size() - MAX_ERRORS_SHOWN).append(" more");
        }
        return KilnException.failure(message.toString());
    }

    /** {@code file:line} as javac prints it, or what there is of it. */
    private static String where(Diagnostic<? extends JavaFileObject> diagnostic) {
        JavaFileObject source = diagnostic.getSource();
        String file = source == null ? "(no file)" : Path.of(source.toUri()).toString();
        return diagnostic.getLineNumber() == Diagnostic.NOPOS ? file : file + ":" + diagnostic.getLineNumber();
    }

    /** javac's message on one line: "cannot find symbol (symbol: variable x, location: class Y)". */
    private static String message(Diagnostic<? extends JavaFileObject> diagnostic) {
        List<String> lines = diagnostic.getMessage(Locale.ENGLISH).lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        if (lines.isEmpty()) {
            return "(no message)";
        }
        List<String> details = lines.subList(1, lines.size()).stream().map(l -> l.replaceAll("\\s+", " ")).toList();
        return details.isEmpty() ? lines.getFirst() : lines.getFirst() + " (" + String.join(", ", details) + ")";
    }

    /** Every file under {@code src/} in a stable order, hidden ones (editor swap files, .DS_Store) left out. */
    private static List<Path> filesUnder(Path src, Manifest manifest) {
        try (Stream<Path> walk = Files.walk(src)) {
            return walk.filter(Files::isRegularFile)
                    .filter(p -> !isHidden(src.relativize(p)))
                    .sorted(Comparator.comparing(p -> relative(src, p)))
                    .toList();
        } catch (IOException | UncheckedIOException e) {
            throw KilnException.failure("addon '" + manifest.name() + "': cannot read its sources in " + src + ": " + e.getMessage());
        }
    }

    private static boolean isHidden(Path relative) {
        for (Path part : relative) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    private static boolean isJava(Path file) {
        return file.getFileName().toString().endsWith(".java");
    }

    private static void copyResources(Path src, List<Path> files, Path output, Manifest manifest) {
        try {
            for (Path file : files) {
                if (!isJava(file)) {
                    Path copy = output.resolve(relative(src, file));
                    Files.createDirectories(copy.getParent());
                    Files.copy(file, copy, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw KilnException.failure("addon '" + manifest.name() + "': cannot copy its resources into " + output + ": " + e);
        }
    }

    /**
     * The cache folder. Without a data dir, a new private folder (mode 0700) for this process: a
     * folder shared under /tmp would let another local user plant classes that Kiln then loads.
     * The JVM removes it when it exits.
     */
    private synchronized Path cache(Manifest manifest) {
        if (cache == null) {
            try {
                Path folder = Files.createTempDirectory("kiln-" + CACHE_FOLDER + "-");
                Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("kiln-addons-cache-removal").unstarted(
                        () -> deleteTree(folder)));
                cache = folder;
            } catch (IOException e) {
                throw KilnException.failure("addon '" + manifest.name() + "': cannot create a temporary addons cache: " + e);
            }
        }
        return cache;
    }

    /** A new folder beside {@code target} to compile into. */
    private static Path temporaryFolder(Manifest manifest, Path target) {
        Path cache = target.getParent();
        try {
            Files.createDirectories(cache);
            removeAbandoned(manifest, cache);
            return Files.createTempDirectory(cache, ".tmp-" + target.getFileName() + "-");
        } catch (IOException e) {
            throw KilnException.failure("addon '" + manifest.name() + "': cannot write the addons cache " + cache + " ("
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + "); check data_dir");
        }
    }

    /** Removes the temporary folders that crashed compilations of this addon left, once surely abandoned. */
    private static void removeAbandoned(Manifest manifest, Path cache) throws IOException {
        Instant before = Instant.now().minus(ABANDONED);
        try (Stream<Path> entries = Files.list(cache)) {
            for (Path entry : entries.filter(p -> p.getFileName().toString().startsWith(".tmp-" + manifest.name() + "-")).toList()) {
                if (Files.getLastModifiedTime(entry).toInstant().isBefore(before)) {
                    deleteTree(entry);
                }
            }
        }
    }

    /** Renames the finished folder into place; another process that got there first wins, with the same content. */
    private static void publish(Path temporary, Path target, Manifest manifest) {
        try {
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            LOG.debug("addon '{}': {} was compiled by another process meanwhile", manifest.name(), target);
        } catch (IOException e) {
            if (!Files.isDirectory(target)) {
                throw KilnException.failure("addon '" + manifest.name() + "': cannot write the addons cache " + target
                        + " (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
            }
        }
    }

    private static void deleteTree(Path root) {
        try {
            deleteTreeOrThrow(root);
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("cannot remove the temporary folder {}: {}", root, e.getMessage());
        }
    }

    /** Removes {@code root} and everything under it, if it exists (also for {@link Scaffold}). */
    static void deleteTreeOrThrow(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path path : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }

    private static String relative(Path root, Path file) {
        return root.relativize(file).toString().replace(File.separatorChar, '/');
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void text(MessageDigest digest, String text) {
        digest.update(text.getBytes(StandardCharsets.UTF_8));
        digest.update((byte) 0);
    }

    /** The file's length then its bytes, so that no two different sets of files hash alike by shifting bytes. */
    private static void update(MessageDigest digest, Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            digest.update(Long.toString(Files.size(file)).getBytes(StandardCharsets.US_ASCII));
            digest.update((byte) 0);
            byte[] buffer = new byte[64 * 1024];
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                digest.update(buffer, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
