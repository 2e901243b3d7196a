package dev.kiln.addons.base;

import dev.kiln.api.AddonContext;
import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Odoo's base models, with the fields integrations use and Odoo's access: any internal user reads
 * contacts, users and groups; contact managers write contacts; access-rights managers write users
 * and groups and read the catalogue of models ({@code ir.model}, {@code ir.model.fields}), which
 * Kiln writes from the declarations; the settings group makes custom models and fields in it, as in
 * Odoo. Everyone reads the countries. Portal and public users read only their own contact and those
 * under it.
 */
final class BaseModels {

    private static final String USER = "base.group_user";
    private static final String PORTAL = "base.group_portal";
    private static final String PUBLIC = "base.group_public";
    private static final String CONTACT_MANAGER = "base.group_partner_manager";
    private static final String ACCESS_MANAGER = "base.group_erp_manager";
    private static final String SETTINGS = "base.group_system";

    private BaseModels() { }

    static void declare(AddonContext context) {
        context.model(ModelSpec.of("res.partner").description("Contact").order("name, id desc")
                .field(Field.chars("name").string("Name").index())
                .field(Field.chars("email").string("Email"))
                .field(Field.chars("phone").string("Phone"))
                .field(Field.bool("is_company").string("Is a Company").defaultValue(false)
                        .help("Check if the contact is a company, otherwise it is a person"))
                .field(Field.many2one("parent_id", "res.partner").string("Related Company"))
                .field(Field.one2many("child_ids", "res.partner", "parent_id").string("Contact"))
                .field(Field.one2many("user_ids", "res.users", "partner_id").string("Users"))
                .field(Field.bool("active").string("Active").defaultValue(true))
                .field(Field.chars("street").string("Street"))
                .field(Field.chars("city").string("City"))
                .field(Field.chars("zip").string("Zip"))
                .field(Field.many2one("country_id", "res.country").string("Country").ondelete("restrict"))
                .field(Field.chars("country_code").string("Country Code").help("The ISO country code in two chars."))
                .field(Field.html("comment").string("Notes"))
                .access(USER, "r").access(PORTAL, "r").access(PUBLIC, "r").access(CONTACT_MANAGER, "rwcu")
                .override("create", BaseModels::createPartners)
                .override("write", BaseModels::writePartners)
                .rule("res.partner: portal/public: read own contact", PORTAL, "r", BaseModels::ownContacts)
                .rule("res.partner: public: read own contact", PUBLIC, "r", BaseModels::ownContacts));

        context.model(ModelSpec.of("res.country").description("Country").order("name")
                .field(Field.chars("name").string("Country Name").required())
                .field(Field.chars("code").string("Country Code").required()
                        .help("The ISO country code in two chars. You can use this field for quick search."))
                .access(USER, "r").access(PORTAL, "r").access(PUBLIC, "r").access(SETTINGS, "rwcu"));

        context.model(ModelSpec.of("res.users").description("User").order("name, login")
                .field(Field.chars("login").string("Login").required().help("Used to log into the system"))
                .field(Field.password("password").string("Password"))
                .field(Field.chars("name").string("Name").required())
                .field(Field.many2one("partner_id", "res.partner").string("Related Partner").required().ondelete("restrict"))
                .field(Field.bool("active").string("Active").defaultValue(true))
                .field(Field.many2many("group_ids", "res.groups", "res_groups_users_rel").string("Groups"))
                .access(USER, "r").access(PORTAL, "r").access(PUBLIC, "r").access(ACCESS_MANAGER, "rwcu")
                .method("context_get", call -> contextGet(call))
                .override("create", BaseModels::createUsers));

        context.model(ModelSpec.of("res.groups").description("Access Groups").order("name, id")
                .field(Field.chars("name").string("Name").required())
                .field(Field.chars("xml_id").string("External ID").readonly())
                .field(Field.many2many("user_ids", "res.users", "res_groups_users_rel").string("Users"))
                .access(USER, "r").access(ACCESS_MANAGER, "rwcu"));

        context.model(ModelSpec.of("ir.model").description("Models").order("model")
                .field(Field.chars("name").string("Model Description").required())
                .field(Field.chars("model").string("Model").required())
                .field(Field.text("info").string("Information"))
                .field(Field.selection("state", "manual", "Custom Object", "base", "Base Object").string("Type"))
                .field(Field.chars("modules").string("In Apps").readonly().help("List of modules in which the object is defined"))
                .field(Field.one2many("field_id", "ir.model.fields", "model_id").string("Fields"))
                .access(ACCESS_MANAGER, "r").access(SETTINGS, "rwcu"));

        context.model(ModelSpec.of("ir.model.fields").description("Fields").order("name, id").recName("field_description")
                .field(Field.chars("name").string("Field Name").required())
                .field(Field.chars("model").string("Model Name").required())
                .field(Field.many2one("model_id", "ir.model").string("Model").ondelete("cascade"))
                .field(Field.chars("field_description").string("Field Label"))
                .field(Field.text("help").string("Field Help"))
                .field(Field.selection("ttype", "binary", "binary", "boolean", "boolean", "char", "char", "date", "date",
                        "datetime", "datetime", "float", "float", "html", "html", "integer", "integer", "many2many", "many2many",
                        "many2one", "many2one", "monetary", "monetary", "one2many", "one2many", "selection", "selection",
                        "text", "text").string("Field Type"))
                .field(Field.chars("relation").string("Related Model"))
                .field(Field.chars("relation_field").string("Relation Field"))
                .field(Field.bool("required").string("Required"))
                .field(Field.bool("readonly").string("Readonly"))
                .field(Field.bool("store").string("Stored"))
                .field(Field.bool("index").string("Indexed"))
                .field(Field.selection("state", "manual", "Custom Field", "base", "Base Field").string("Type"))
                .access(ACCESS_MANAGER, "r").access(SETTINGS, "rwcu"));
    }

    /** A portal or public user's contact and the contacts under it. */
    private static List<Object> ownContacts(long uid) {
        return List.of("|", List.of("user_ids", "in", List.of(uid)), List.of("parent_id.user_ids", "in", List.of(uid)));
    }

    /** {@code context_get()}: the user's language, time zone and id; Odoo's way for a key's holder to learn its uid. */
    private static Map<String, Object> contextGet(RpcCall call) {
        if (!call.args().isEmpty() || call.kwargs().keySet().stream().anyMatch(k -> !k.equals("context"))) {
            throw RpcFault.badArguments("context_get() takes no arguments");
        }
        Map<String, Object> context = new LinkedHashMap<>();
        context.put("lang", "en_US");
        context.put("tz", false);
        context.put("uid", call.uid());
        return context;
    }

    /**
     * A new user gets a contact of its name and email (Odoo's users inherit their contact), and the
     * internal user group when no groups are given.
     */
    private static Object createUsers(RpcCall call, ModelSpec.Method next) throws Exception {
        Object given = call.args().isEmpty() ? call.kwargs().get("vals_list") : call.args().getFirst();
        if (!(given instanceof Map<?, ?>) && !(given instanceof List<?>)) {
            return next.call(call);                  // the standard method says what is wrong
        }
        List<?> list = given instanceof Map<?, ?> one ? List.of(one) : (List<?>) given;
        List<Object> completed = new ArrayList<>();
        Connection connection = call.env().connection();
        for (Object item : list) {
            if (!(item instanceof Map<?, ?> vals)) {
                return next.call(call);
            }
            Map<String, Object> copy = new LinkedHashMap<>();
            vals.forEach((k, v) -> copy.put(String.valueOf(k), v));
            if (!copy.containsKey("partner_id") && copy.get("name") instanceof String name && !name.isBlank()) {
                copy.put("partner_id", contact(connection, call.uid(), name, copy.remove("email")));
            }
            if (!copy.containsKey("group_ids")) {
                copy.put("group_ids", List.of(List.of(6, 0, List.of(group(connection, USER)))));
            }
            completed.add(copy);
        }
        return next.call(call.withArg(0, "vals_list", given instanceof Map<?, ?> ? completed.getFirst() : completed));
    }

    /** Contacts get the code of the country they are given ({@code country_code} follows {@code country_id}, as in Odoo). */
    private static Object createPartners(RpcCall call, ModelSpec.Method next) throws Exception {
        Object given = call.args().isEmpty() ? call.kwargs().get("vals_list") : call.args().getFirst();
        if (given instanceof Map<?, ?> one) {
            return next.call(call.withArg(0, "vals_list", withCountryCode(call, one)));
        }
        if (given instanceof List<?> list && list.stream().allMatch(item -> item instanceof Map<?, ?>)) {
            List<Object> completed = new ArrayList<>();
            for (Object item : list) {
                completed.add(withCountryCode(call, (Map<?, ?>) item));
            }
            return next.call(call.withArg(0, "vals_list", completed));
        }
        return next.call(call);
    }

    private static Object writePartners(RpcCall call, ModelSpec.Method next) throws Exception {
        Object given = call.args().size() > 1 ? call.args().get(1) : call.kwargs().get("vals");
        return given instanceof Map<?, ?> vals ? next.call(call.withArg(1, "vals", withCountryCode(call, vals))) : next.call(call);
    }

    private static Map<String, Object> withCountryCode(RpcCall call, Map<?, ?> vals) throws SQLException {
        Map<String, Object> copy = new LinkedHashMap<>();
        vals.forEach((k, v) -> copy.put(String.valueOf(k), v));
        if (!copy.containsKey("country_id") || copy.containsKey("country_code")) {
            return copy;
        }
        Object country = copy.get("country_id");
        if (country instanceof List<?> pair && !pair.isEmpty()) {
            country = pair.getFirst();                     // [id, name] as read gives it
        }
        if (!(country instanceof Number id)) {
            if (country == null || Boolean.FALSE.equals(country)) {
                copy.put("country_code", false);
            }
            return copy;                                   // anything else: the standard method says what is wrong
        }
        try (PreparedStatement query = call.env().connection().prepareStatement("SELECT code FROM res_country WHERE id = ?")) {
            query.setLong(1, id.longValue());
            try (ResultSet row = query.executeQuery()) {
                if (row.next()) {
                    copy.put("country_code", row.getString(1));
                }
            }
        }
        return copy;
    }

    private static long contact(Connection connection, long uid, String name, Object email) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO res_partner (name, email, active, is_company, create_uid, write_uid, create_date, write_date)
                VALUES (?, ?, true, false, ?, ?, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC') RETURNING id""")) {
            insert.setString(1, name);
            insert.setString(2, email instanceof String text ? text : null);
            insert.setLong(3, uid);
            insert.setLong(4, uid);
            try (ResultSet row = insert.executeQuery()) {
                row.next();
                return row.getLong(1);
            }
        }
    }

    private static long group(Connection connection, String xmlId) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement("SELECT id FROM res_groups WHERE xml_id = ?")) {
            query.setString(1, xmlId);
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) {
                    throw RpcFault.userError("group " + xmlId + " is missing from this database");
                }
                return row.getLong(1);
            }
        }
    }
}
