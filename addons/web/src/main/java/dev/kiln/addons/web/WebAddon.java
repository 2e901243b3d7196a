package dev.kiln.addons.web;

import dev.kiln.api.Addon;
import dev.kiln.api.AddonContext;
import dev.kiln.api.Request;
import dev.kiln.api.Response;
import dev.kiln.api.Route;

/** A small landing page at {@code /} and {@code /web}, styled by this addon's static CSS. */
public final class WebAddon implements Addon {

    private String page;

    @Override
    public void register(AddonContext context) {
        page = """
                <!DOCTYPE html>
                <html lang="en">
                <head>
                <meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Kiln</title>
                <link rel="stylesheet" href="/web/static/src/css/web.css">
                </head>
                <body>
                <main>
                <h1>Kiln</h1>
                <p>Kiln %s is running.</p>
                <ul>
                <li><a href="/web/health">/web/health</a>: health check</li>
                </ul>
                </main>
                </body>
                </html>
                """.formatted(context.serverVersion());
        context.routes(this);
    }

    @Route(value = {"/", "/web"}, auth = Route.Auth.NONE, methods = {"GET", "HEAD"})
    public Response landing(Request request) {
        return Response.html(page);
    }
}
