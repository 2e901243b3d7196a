package dev.kiln.addons.hello;

import dev.kiln.api.Addon;
import dev.kiln.api.AddonContext;
import dev.kiln.api.Request;
import dev.kiln.api.Response;
import dev.kiln.api.Route;

/** The smallest addon: {@code GET /hello}, the route the HTTP benchmark measures. */
public final class HelloAddon implements Addon {

    @Override
    public void register(AddonContext context) {
        context.routes(this);
    }

    @Route(value = "/hello", auth = Route.Auth.NONE, methods = "GET")
    public Response hello(Request request) {
        return Response.text("Hello, world");
    }
}
