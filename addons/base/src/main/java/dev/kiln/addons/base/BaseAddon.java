package dev.kiln.addons.base;

import dev.kiln.api.Addon;
import dev.kiln.api.AddonContext;
import dev.kiln.api.OdooApi;
import dev.kiln.api.Request;
import dev.kiln.api.Route;

import java.util.Map;

/**
 * The addon every other depends on. Declares Odoo's base models ({@link BaseModels}: contacts,
 * users, groups, and the catalogue of models and fields) and serves
 * {@code /web/webclient/version_info} in the shape of Odoo's {@code common.version}. Odoo's health
 * check, {@code /web/health}, is Kiln's own (it reports the server's state).
 */
public final class BaseAddon implements Addon {

    private Map<String, Object> versionInfo;

    @Override
    public void register(AddonContext context) {
        versionInfo = OdooApi.version(context.serverVersion());
        context.routes(this);
        BaseModels.declare(context);
    }

    @Route(value = "/web/webclient/version_info", type = Route.Type.JSON, auth = Route.Auth.NONE)
    public Map<String, Object> versionInfo(Request request) {
        return versionInfo;
    }
}
