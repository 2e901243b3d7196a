package dev.kiln.addons.base;

import dev.kiln.api.Addon;
import dev.kiln.api.AddonContext;
import dev.kiln.api.Request;
import dev.kiln.api.Route;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The addon every other depends on. Serves {@code /web/webclient/version_info} in the shape of
 * Odoo's {@code common.version}; offers {@code res.users} to the external API ({@link UsersService}).
 * Odoo's health check, {@code /web/health}, is Kiln's own (it reports the server's state).
 */
public final class BaseAddon implements Addon {

    private Map<String, Object> versionInfo;

    @Override
    public void register(AddonContext context) {
        versionInfo = versionInfo(context.serverVersion());
        context.routes(this);
        context.service("res.users", new UsersService());
    }

    @Route(value = "/web/webclient/version_info", type = Route.Type.JSON, auth = Route.Auth.NONE)
    public Map<String, Object> versionInfo(Request request) {
        return versionInfo;
    }

    /** {@code 0.1.0} → server_version_info {@code [0, 1, 0, "final", 0, ""]}, server_serie {@code 0.1}. */
    static Map<String, Object> versionInfo(String version) {
        String[] parts = version.split("[.-]");
        List<Object> info = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            info.add(i < parts.length && parts[i].chars().allMatch(Character::isDigit) && !parts[i].isEmpty()
                    ? Integer.parseInt(parts[i]) : 0);
        }
        boolean snapshot = version.toUpperCase(java.util.Locale.ROOT).contains("SNAPSHOT");
        info.add(snapshot ? "alpha" : "final");
        info.add(0);
        info.add("");
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("server_version", version);
        map.put("server_version_info", List.copyOf(info));
        map.put("server_serie", info.get(0) + "." + info.get(1));
        map.put("protocol_version", 1);
        return java.util.Collections.unmodifiableMap(map);
    }
}
