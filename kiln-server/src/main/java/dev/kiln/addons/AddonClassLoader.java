package dev.kiln.addons;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * One class loader per addon, over {@code <addon>/<name>.jar} (or, for a source addon, the folder
 * its sources were compiled into) and {@code <addon>/lib/*.jar}.
 *
 * <p>An addon sees, in this order: the JDK (the platform loader), the server's {@code dev.kiln.api}
 * and {@code org.slf4j} packages, the classes of the addons it depends on (transitively), then its
 * own jars. Nothing else of the server is visible, so an addon cannot bind to Jetty or Jackson
 * internals that change under it, and its own copy of a library never clashes with the server's.
 */
final class AddonClassLoader extends URLClassLoader {

    static {
        ClassLoader.registerAsParallelCapable();
    }

    private static final String[] SHARED = {"dev.kiln.api.", "org.slf4j."};

    private final ClassLoader server;
    private final List<AddonClassLoader> dependencies;

    AddonClassLoader(String addon, URL[] jars, ClassLoader server, List<AddonClassLoader> dependencies) {
        super("addon:" + addon, jars, ClassLoader.getPlatformClassLoader());
        this.server = server;
        this.dependencies = List.copyOf(dependencies);
    }

    /** The addon's jars: {@code <name>.jar} if present, then {@code lib/*.jar} in name order. */
    static URL[] jarsOf(Path directory, String name) {
        List<Path> jars = new ArrayList<>();
        Path main = directory.resolve(name + ".jar");
        if (Files.isRegularFile(main)) {
            jars.add(main);
        }
        jars.addAll(libJarsOf(directory));
        return urls(jars);
    }

    /** The addon's {@code lib/*.jar} in name order. */
    static List<Path> libJarsOf(Path directory) {
        Path lib = directory.resolve("lib");
        if (!Files.isDirectory(lib)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(lib)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static URL[] urls(List<Path> code) {
        URL[] urls = new URL[code.size()];
        for (int i = 0; i < urls.length; i++) {
            try {
                urls[i] = code.get(i).toUri().toURL();
            } catch (MalformedURLException e) {
                throw new IllegalArgumentException(e);
            }
        }
        return urls;
    }

    /** The jars and folders this addon's own code comes from, for the compiler of an addon depending on it. */
    List<Path> codePaths() {
        List<Path> paths = new ArrayList<>();
        for (URL url : getURLs()) {
            try {
                paths.add(Path.of(url.toURI()));
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException(e);
            }
        }
        return paths;
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        synchronized (getClassLoadingLock(name)) {
            Class<?> c = findLoadedClass(name);
            if (c == null && isShared(name)) {
                c = server.loadClass(name);
            }
            if (c == null) {
                c = fromPlatform(name);
            }
            if (c == null) {
                c = fromDependencies(name);
            }
            if (c == null) {
                c = findClass(name);
            }
            if (resolve) {
                resolveClass(c);
            }
            return c;
        }
    }

    @Override
    public URL getResource(String name) {
        URL url = ClassLoader.getPlatformClassLoader().getResource(name);
        if (url == null) {
            url = findResource(name);
        }
        for (int i = 0; url == null && i < dependencies.size(); i++) {
            url = dependencies.get(i).findResource(name);
        }
        return url;
    }

    /** A class defined by this addon's own jars, or null; dependants call it. */
    Class<?> findOwnClass(String name) {
        synchronized (getClassLoadingLock(name)) {
            Class<?> c = findLoadedClass(name);
            if (c != null) {
                return c;
            }
            try {
                return findClass(name);
            } catch (ClassNotFoundException e) {
                return null;
            }
        }
    }

    private static boolean isShared(String name) {
        for (String prefix : SHARED) {
            if (name.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    private static Class<?> fromPlatform(String name) {
        try {
            return ClassLoader.getPlatformClassLoader().loadClass(name);
        } catch (ClassNotFoundException e) {
            return null;
        }
    }

    private Class<?> fromDependencies(String name) {
        for (AddonClassLoader dependency : dependencies) {
            Class<?> c = dependency.findOwnClass(name);
            if (c != null) {
                return c;
            }
        }
        return null;
    }
}
