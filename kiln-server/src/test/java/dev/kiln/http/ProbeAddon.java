package dev.kiln.http;

import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.addons.TestAddons;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A test addon, {@code probe}, with routes for every outcome and a static folder with traps. */
final class ProbeAddon {

    private static final String SOURCE = """
            package probe;
            import dev.kiln.api.*;
            import java.util.Map;
            public final class Entry implements Addon {
                public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/probe/echo", type = Route.Type.JSON, auth = Route.Auth.NONE)
                public Object echo(Request request) { return Map.of("got", request.jsonParams()); }

                @Route(value = "/probe/json-fail", type = Route.Type.JSON, auth = Route.Auth.NONE)
                public Object jsonFail(Request request) { throw new IllegalStateException("probe json failure"); }

                @Route(value = "/probe/json-missing", type = Route.Type.JSON, auth = Route.Auth.NONE)
                public Object jsonMissing(Request request) { throw new HttpException.NotFound("no such record"); }

                @Route(value = "/probe/items/<int:id>", auth = Route.Auth.NONE, methods = "GET")
                public Response item(Request request) { return Response.text("item " + request.pathParam("id")); }

                @Route(value = "/probe/post-only", auth = Route.Auth.NONE, methods = {"POST", "PUT"})
                public Response postOnly(Request request) { return Response.text("posted"); }

                @Route(value = "/probe/user", auth = Route.Auth.USER)
                public Response user(Request request) { return Response.text("secret"); }

                @Route(value = "/probe/sleep", auth = Route.Auth.NONE, methods = "GET")
                public Response sleep(Request request) {
                    try {
                        Thread.sleep(30_000);
                        return Response.text("slept");
                    } catch (InterruptedException e) {
                        return Response.text("woken");
                    }
                }

                @Route(value = "/probe/fail", auth = Route.Auth.NONE)
                public Response fail(Request request) { throw new IllegalStateException("probe <b>failure</b>"); }

                /** An exception that cannot be printed: the debug page and error built from it must fall back. */
                static IllegalStateException unprintable() {
                    return new IllegalStateException("unprintable") {
                        @Override public String toString() { throw new UnsupportedOperationException("toString fails"); }
                    };
                }

                @Route(value = "/probe/fail-badly", auth = Route.Auth.NONE)
                public Response failBadly(Request request) { throw unprintable(); }

                @Route(value = "/probe/json-fail-badly", type = Route.Type.JSON, auth = Route.Auth.NONE)
                public Object jsonFailBadly(Request request) { throw unprintable(); }

                @Route(value = "/probe/forbidden", auth = Route.Auth.NONE)
                public Response forbidden(Request request) { throw new HttpException.Forbidden("not yours"); }

                @Route(value = "/probe/stream", auth = Route.Auth.NONE)
                public Response stream(Request request) {
                    return new Response().contentType("text/plain").stream(out -> {
                        for (int i = 0; i < 1000; i++) out.write("line\\n".getBytes());
                    });
                }

                @Route(value = "/probe/slow-stream", auth = Route.Auth.NONE)
                public Response slowStream(Request request) {
                    return new Response().contentType("text/plain").stream(out -> {
                        out.write("begun\\n".getBytes());
                        out.flush();
                        try {
                            Thread.sleep(3_000);
                        } catch (InterruptedException e) {
                            throw new IllegalStateException("interrupted");
                        }
                        out.write("end\\n".getBytes());
                    });
                }

                @Route(value = "/probe/client", auth = Route.Auth.NONE)
                public Response client(Request request) { return Response.text(request.remoteAddress()); }

                @Route(value = "/probe/form", auth = Route.Auth.NONE, methods = "POST", csrf = false)
                public Response form(Request request) {
                    return Response.text(request.param("a").orElse("-") + "," + request.param("b").orElse("-") + ","
                            + request.cookie("c").orElse("-") + "," + request.header("X-Probe").orElse("-"));
                }
            }
            """;

    private ProbeAddon() { }

    /** Builds {@code probe} under {@code root}: jar, static files, a file beside static/ and a symlink out. */
    static LoadedAddons load(Path root) throws IOException {
        Path dir = TestAddons.addon(root, "probe", TestAddons.manifest("probe.Entry", "base"), Map.of("probe.Entry", SOURCE));
        Path statics = Files.createDirectories(dir.resolve("static/src"));
        Files.writeString(statics.resolve("a.txt"), "static a");
        Files.writeString(statics.resolve("style.css"), "body{}");
        Files.writeString(statics.resolve("app.js"), "var x;");
        Files.write(statics.resolve("logo.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G'});
        Files.write(statics.resolve("big.bin"), new byte[600 * 1024]);
        Files.writeString(dir.resolve("secret.txt"), "top secret");
        Files.createSymbolicLink(statics.resolve("escape.txt"), dir.resolve("secret.txt"));
        return AddonLoader.loadServerWide(List.of(root), List.of("probe"));
    }
}
