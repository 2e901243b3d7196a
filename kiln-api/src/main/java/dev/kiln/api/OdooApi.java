package dev.kiln.api;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The release of Odoo whose external API Kiln serves, as {@code common.version} and
 * {@code /web/webclient/version_info} report it: clients choose their protocol by it (some take the
 * pre-8 OpenERP path for a major version below 8). Kiln's own version travels beside it, under
 * {@code kiln_version}.
 */
public final class OdooApi {

    /** Odoo's {@code server_version} and {@code server_serie}. */
    public static final String VERSION = "19.0";
    /** Odoo's {@code server_version_info}. */
    public static final List<Object> VERSION_INFO = List.of(19, 0, 0, "final", 0, "");

    private OdooApi() { }

    /** {@code common.version()}'s answer, with {@code kilnVersion} under {@code kiln_version}. */
    public static Map<String, Object> version(String kilnVersion) {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("server_version", VERSION);
        answer.put("server_version_info", VERSION_INFO);
        answer.put("server_serie", VERSION);
        answer.put("protocol_version", 1);
        answer.put("kiln_version", kilnVersion);
        return Collections.unmodifiableMap(answer);
    }
}
