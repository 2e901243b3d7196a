package dev.kiln.addons;

import dev.kiln.failure.KilnException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Orders addons so that each comes after everything it depends on (depth first, in the order the
 * names and {@code depends} lists are written, so the order is stable from run to run).
 */
public final class DependencyGraph {

    private final Map<String, Manifest> available;
    private final List<Manifest> ordered = new ArrayList<>();
    private final Set<String> done = new HashSet<>();
    private final LinkedHashSet<String> visiting = new LinkedHashSet<>();

    private DependencyGraph(Map<String, Manifest> available) {
        this.available = available;
    }

    /**
     * {@code names} and everything they depend on, dependencies first.
     *
     * @throws KilnException a requested name is not on the path, a dependency is missing, or a cycle
     */
    public static List<Manifest> order(Map<String, Manifest> available, List<String> names) {
        DependencyGraph graph = new DependencyGraph(available);
        for (String name : names) {
            Manifest manifest = available.get(name);
            if (manifest == null) {
                throw KilnException.failure("addon '" + name + "' is not on the addons path (searched "
                        + searched(available) + "); check --addons-path and --load");
            }
            graph.visit(manifest);
        }
        return List.copyOf(graph.ordered);
    }

    private void visit(Manifest manifest) {
        String name = manifest.name();
        if (done.contains(name)) {
            return;
        }
        if (!visiting.add(name)) {
            throw cycle(name);
        }
        for (String dependency : manifest.depends()) {
            Manifest next = available.get(dependency);
            if (next == null) {
                throw KilnException.failure("addon '" + name + "' depends on '" + dependency
                        + "', which is not on the addons path (" + manifest.file() + ")");
            }
            visit(next);
        }
        visiting.remove(name);
        done.add(name);
        ordered.add(manifest);
    }

    private KilnException cycle(String name) {
        List<String> path = new ArrayList<>(visiting);
        List<String> loop = new ArrayList<>(path.subList(path.indexOf(name), path.size()));
        loop.add(name);
        List<String> files = loop.subList(0, loop.size() - 1).stream()
                .map(n -> available.get(n).file().toString()).toList();
        return KilnException.failure("addons depend on each other in a cycle: " + String.join(" -> ", loop)
                + " (" + String.join(", ", files) + ")");
    }

    private static String searched(Map<String, Manifest> available) {
        Set<String> folders = new LinkedHashSet<>();
        for (Manifest m : available.values()) {
            folders.add(m.directory().getParent().toString());
        }
        return folders.isEmpty() ? "no addons found" : String.join(", ", folders);
    }
}
