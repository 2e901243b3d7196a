package dev.kiln.addons;

import dev.kiln.failure.KilnException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.lang.model.SourceVersion;

/**
 * Odoo's {@code odoo-bin scaffold}: a new source addon ({@link AddonCompiler}) with one of each
 * thing an addon declares, written so that it compiles, installs and answers as it is:
 *
 * <pre>
 * NAME/
 *   manifest.json                     depends on base; entry NAME.&lt;Name&gt;Addon
 *   src/NAME/&lt;Name&gt;Addon.java         GET /NAME (reads the migration's table) and the cron job NAME.check
 *   migrations/V1__greeting.sql       the table NAME_greeting and its first row
 *   static/index.html                 served at /NAME/static/index.html
 *   tests/&lt;Name&gt;Test.java            a check against a running Kiln: java tests/&lt;Name&gt;Test.java URL
 *   README.md
 * </pre>
 *
 * The name becomes the folder, the Java package and the route, so it must be all three: lowercase
 * letters, digits and underscores, starting with a letter, and no Java keyword. The addon is written
 * into a temporary folder beside the target and renamed into place: a failure leaves nothing behind.
 */
public final class Scaffold {

    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,63}");

    private Scaffold() { }

    /**
     * Writes the addon {@code name} as {@code <parent>/<name>/} and returns that folder.
     *
     * @throws KilnException a usage error (exit 2) when the name is not valid or the folder exists
     */
    public static Path create(String name, Path parent) {
        checkName(name);
        Path target = parent.toAbsolutePath().normalize().resolve(name);
        if (Files.exists(target)) {
            throw KilnException.usage(target + " already exists: choose another name or folder (nothing was written)");
        }
        Map<String, String> files = files(name);
        Path temporary;
        try {
            Files.createDirectories(target.getParent());
            temporary = Files.createTempDirectory(target.getParent(), "." + name + "-scaffold-");
        } catch (IOException e) {
            throw KilnException.failure("cannot write into " + target.getParent() + " (" + e.getClass().getSimpleName() + ": "
                    + e.getMessage() + ")");
        }
        try {
            for (Map.Entry<String, String> file : files.entrySet()) {
                Path path = temporary.resolve(file.getKey());
                Files.createDirectories(path.getParent());
                Files.writeString(path, file.getValue());
            }
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            throw KilnException.usage(target + " already exists: choose another name or folder (nothing was written)");
        } catch (IOException e) {
            throw KilnException.failure("cannot write the addon " + target + " (" + e.getClass().getSimpleName() + ": "
                    + e.getMessage() + ")");
        } finally {
            deleteTree(temporary);
        }
        return target;
    }

    /** The files of the addon {@code name}, by path relative to its folder. */
    static Map<String, String> files(String name) {
        String type = className(name);
        Map<String, String> files = new LinkedHashMap<>();
        files.put("manifest.json", fill(MANIFEST, name));
        files.put(AddonCompiler.SOURCE_FOLDER + "/" + name + "/" + type + "Addon.java", fill(ENTRY, name));
        files.put("migrations/V1__greeting.sql", fill(MIGRATION, name));
        files.put("static/index.html", fill(STATIC, name));
        files.put("tests/" + type + "Test.java", fill(TEST, name));
        files.put("README.md", fill(README, name));
        return files;
    }

    static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw KilnException.usage("addon name '" + name + "' is not valid: use lowercase letters, digits and underscores,"
                    + " starting with a letter, at most 64 characters (it names the folder, the Java package and the route)");
        }
        if (SourceVersion.isKeyword(name)) {
            throw KilnException.usage("addon name '" + name + "' is not valid: it is a Java keyword, which cannot name the"
                    + " addon's Java package");
        }
        if (Set.of("java", "javax", "jdk", "sun", "com", "org").contains(name)) {
            throw KilnException.usage("addon name '" + name + "' is not valid: a package named " + name
                    + " belongs to the JDK or clashes with library packages; choose another name");
        }
        String dist = System.getProperty(AddonsPath.DIST_PROPERTY);
        if (dist != null && Files.isDirectory(Path.of(dist, "addons", name))) {
            throw KilnException.usage("addon name '" + name + "' is taken by an addon bundled with Kiln: choose another name");
        }
    }

    /** {@code hello_world} → {@code HelloWorld}. */
    static String className(String name) {
        StringBuilder type = new StringBuilder();
        for (String word : name.split("_")) {
            if (!word.isEmpty()) {
                type.append(Character.toUpperCase(word.charAt(0))).append(word.substring(1));
            }
        }
        return type.toString();
    }

    /** {@code hello_world} → {@code Hello World}. */
    private static String title(String name) {
        return String.join(" ", Stream.of(name.split("_")).filter(w -> !w.isEmpty())
                .map(w -> Character.toUpperCase(w.charAt(0)) + w.substring(1)).toList());
    }

    private static String fill(String template, String name) {
        return template.replace("{{name}}", name).replace("{{Type}}", className(name)).replace("{{Title}}", title(name));
    }

    private static void deleteTree(Path root) {
        try {
            AddonCompiler.deleteTreeOrThrow(root);
        } catch (IOException | UncheckedIOException e) {
            // a stray hidden folder beside the addon is harmless; the failure itself was reported
        }
    }

    private static final String MANIFEST = """
            {
              "name": "{{Title}}",
              "version": "0.1.0",
              "summary": "{{Title}}: a route, a cron job, a migration and a static file",
              "depends": ["base"],
              "license": "LGPL-3",
              "entry": "{{name}}.{{Type}}Addon"
            }
            """;

    private static final String ENTRY = """
            package {{name}};

            import dev.kiln.api.Addon;
            import dev.kiln.api.AddonContext;
            import dev.kiln.api.CronContext;
            import dev.kiln.api.CronJob;
            import dev.kiln.api.HttpException;
            import dev.kiln.api.Request;
            import dev.kiln.api.Response;
            import dev.kiln.api.Route;
            import java.sql.PreparedStatement;
            import java.sql.ResultSet;
            import java.sql.SQLException;
            import org.slf4j.Logger;
            import org.slf4j.LoggerFactory;

            /**
             * The {{name}} addon: {@code GET /{{name}}} answers the greeting stored by the migration
             * (migrations/V1__greeting.sql), and the cron job {@code {{name}}.check} stamps it every hour.
             * Kiln compiles this folder (src/) when it loads the addon; edit, restart, and it compiles again.
             */
            public final class {{Type}}Addon implements Addon {

                private static final Logger LOG = LoggerFactory.getLogger({{Type}}Addon.class);

                @Override
                public void register(AddonContext context) {
                    context.routes(this);
                    context.cron(CronJob.every(1, CronJob.Unit.HOURS, "check", this::check));
                }

                /** Runs in the request's database (the addon must be installed there), in one transaction. */
                @Route(value = "/{{name}}", auth = Route.Auth.PUBLIC, methods = "GET")
                public Response greeting(Request request) throws SQLException {
                    try (PreparedStatement query = request.env().connection().prepareStatement(
                            "SELECT text FROM {{name}}_greeting ORDER BY id LIMIT 1");
                         ResultSet row = query.executeQuery()) {
                        if (!row.next()) {
                            throw new HttpException.NotFound("no greeting yet");
                        }
                        return Response.text(row.getString(1));
                    }
                }

                /** The cron job {{name}}.check: committed when it returns, rolled back when it throws. */
                private void check(CronContext job) throws SQLException {
                    try (PreparedStatement update = job.connection().prepareStatement(
                            "UPDATE {{name}}_greeting SET checked_at = now()")) {
                        LOG.info("{}: {} greetings checked", job.job(), update.executeUpdate());
                    }
                }
            }
            """;

    private static final String MIGRATION = """
            -- Run once when {{name}} is installed (kiln -d DB -i {{name}}), in the installation's transaction.
            -- An applied script must never change: put the next change in V2__<what>.sql.
            CREATE TABLE {{name}}_greeting (
                id bigserial PRIMARY KEY,
                text text NOT NULL,
                checked_at timestamptz);
            INSERT INTO {{name}}_greeting (text) VALUES ('Hello, world');
            """;

    private static final String STATIC = """
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><title>{{Title}}</title></head>
            <body>
            <h1>{{Title}}</h1>
            <p>A static file of the addon {{name}}, served at /{{name}}/static/index.html.
            Its route: <a href="/{{name}}">/{{name}}</a>.</p>
            </body>
            </html>
            """;

    private static final String TEST = """
            import java.net.URI;
            import java.net.http.HttpClient;
            import java.net.http.HttpRequest;
            import java.net.http.HttpResponse;

            /**
             * Checks {{name}} against a running Kiln where it is installed. Kiln does not compile tests/ into
             * the addon; run this file with the JDK alone (a single-file program):
             *
             *   kiln --addons-path=<folder holding {{name}}> -d mydb -i {{name}}    # in one terminal
             *   java tests/{{Type}}Test.java http://localhost:8069 mydb              # in another
             *
             * It exits 0 when every check passes, 1 otherwise.
             */
            public class {{Type}}Test {

                public static void main(String[] args) throws Exception {
                    String base = args.length > 0 ? args[0] : "http://localhost:8069";
                    String database = args.length > 1 ? args[1] : null;
                    HttpClient client = HttpClient.newHttpClient();
                    int failed = 0;
                    failed += check(client, base + "/{{name}}", database, "Hello, world");
                    failed += check(client, base + "/{{name}}/static/index.html", database, "<h1>{{Title}}</h1>");
                    System.out.println(failed == 0 ? "{{name}}: all checks passed" : "{{name}}: " + failed + " checks failed");
                    System.exit(failed == 0 ? 0 : 1);
                }

                /** GETs {@code url}; 0 when it answers 200 with {@code expected} in its body, else 1. */
                private static int check(HttpClient client, String url, String database, String expected) throws Exception {
                    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url));
                    if (database != null) {
                        request.header("X-Kiln-Database", database);
                    }
                    HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
                    boolean ok = response.statusCode() == 200 && response.body().contains(expected);
                    System.out.println((ok ? "ok    " : "FAIL  ") + url + " -> " + response.statusCode());
                    return ok ? 0 : 1;
                }
            }
            """;

    private static final String README = """
            # {{Title}}

            A Kiln source addon made by `kiln scaffold {{name}}`. Kiln compiles `src/` when it loads the
            addon and keeps the classes in `<data_dir>/addons-cache/` until a source changes.

            | file | what |
            |---|---|
            | `manifest.json` | name, version, dependencies, entry class |
            | `src/{{name}}/{{Type}}Addon.java` | the entry class: the route `GET /{{name}}` and the cron job `{{name}}.check` |
            | `src/**` (not `.java`) | resources, read with `getResourceAsStream` |
            | `migrations/V1__greeting.sql` | SQL run once at installation; add `V2__...` for changes |
            | `static/` | served at `/{{name}}/static/...` |
            | `tests/{{Type}}Test.java` | a check against a running Kiln (not part of the addon) |

            Run it:

                kiln --addons-path=<folder holding {{name}}> -d mydb -i {{name}}
                curl http://localhost:8069/{{name}}
                java tests/{{Type}}Test.java http://localhost:8069 mydb
            """;
}
