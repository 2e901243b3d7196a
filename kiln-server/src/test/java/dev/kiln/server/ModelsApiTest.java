package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Models over the external API, as Odoo's documentation and clients use them: every step of the
 * External API documentation (XML-RPC) and of the JSON-2 page, unchanged; what each group may do
 * and see, record rules included; and a model extended by an addon (a field, a method, an
 * override of {@code create} that calls the standard one), its code run with its own class loader.
 */
@Tag("process")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ModelsApiTest {

    /** An addon extending res.partner: a rank, a method raising it, and every new contact ranked at least 1. */
    private static final String RANKS = """
            package ranks;

            import dev.kiln.api.*;
            import java.sql.*;
            import java.util.*;

            public final class Ranks implements Addon {
                @Override public void register(AddonContext context) {
                    context.model(ModelSpec.extend("res.partner")
                            .field(Field.integer("x_rank").string("Rank").help("Higher is better"))
                            .field(Field.datetime("x_seen").string("Last Seen"))
                            .method("promote", call -> {
                                List<?> ids = call.arg(0, "ids", List.class);
                                try (PreparedStatement up = call.env().connection().prepareStatement(
                                        "UPDATE res_partner SET x_rank = coalesce(x_rank, 0) + 1 WHERE id = ANY(?)")) {
                                    up.setArray(1, call.env().connection().createArrayOf("bigint", ids.toArray()));
                                    up.executeUpdate();
                                }
                                return Thread.currentThread().getContextClassLoader() == Ranks.class.getClassLoader();
                            })
                            .override("create", (call, next) -> {
                                Object vals = call.arg(0, "vals_list", Object.class);
                                if (vals instanceof Map<?, ?> one) {
                                    return next.call(call.withArg(0, "vals_list", ranked(one)));
                                }
                                if (vals instanceof List<?> many && many.stream().allMatch(v -> v instanceof Map<?, ?>)) {
                                    return next.call(call.withArg(0, "vals_list", many.stream().map(v -> ranked((Map<?, ?>) v)).toList()));
                                }
                                return next.call(call);
                            }));
                }

                private static Map<Object, Object> ranked(Map<?, ?> vals) {
                    Map<Object, Object> ranked = new LinkedHashMap<>(vals);
                    ranked.putIfAbsent("x_rank", 1);
                    return ranked;
                }
            }
            """;

    /** The start of a script run as {@code python3 SCRIPT URL DB}: the proxies, calls as the administrator, a fault's code and first line. */
    private static final String ADMIN_SCRIPT = """
            import sys, xmlrpc.client
            url, db = sys.argv[1], sys.argv[2]
            common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
            models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")
            def admin(model, method, *args, **kw):
                return models.execute_kw(db, 2, "admin", model, method, list(args), kw)
            def fault(call):
                try:
                    return f"no fault {call()}"
                except xmlrpc.client.Fault as f:
                    return f"{f.faultCode} {f.faultString.splitlines()[0]}"
            """;

    @TempDir
    static Path dir;
    private static CronHarness database;
    private static KilnProcess kiln;

    @BeforeAll
    static void serve() throws Exception {
        Path addons = CronHarness.addon(dir, "ranks", "ranks.Ranks", RANKS, "V1__nothing.sql", "SELECT 1;");
        database = CronHarness.shared(dir, "models", addons, "base,ranks");
        kiln = database.serve("--max-cron-threads=0");
    }

    @AfterAll
    static void stop() throws Exception {
        database.close();
    }

    private static String url() {
        return "http://127.0.0.1:" + kiln.port();
    }

    @Test
    void everyStepOfOdoosExternalApiDocumentationPassesUnchanged() throws Exception {
        String out = Commands.python(dir, """
                import sys, xmlrpc.client
                url, db, username, password = sys.argv[1], sys.argv[2], "admin", "admin"
                common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
                print("version", sorted(common.version()))
                uid = common.authenticate(db, username, password, {})
                print("uid", uid)
                models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")
                print("rights", models.execute_kw(db, uid, password, 'res.partner', 'check_access_rights', ['read'],
                                                  {'raise_exception': False}))
                made = [models.execute_kw(db, uid, password, 'res.partner', 'create', [{'name': name, 'is_company': company}])
                        for name, company in (("Agrolait", True), ("Deco Addict", True), ("Azure Interior", True),
                                              ("Wood Corner", True), ("Ready Mat", True), ("Joel Willis", False))]
                companies = models.execute_kw(db, uid, password, 'res.partner', 'search', [[['is_company', '=', True]]])
                print("search", companies == [made[0], made[2], made[1], made[4], made[3]])
                print("paginate", models.execute_kw(db, uid, password, 'res.partner', 'search', [[['is_company', '=', True]]],
                                                    {'offset': 1, 'limit': 2}) == companies[1:3])
                print("count", models.execute_kw(db, uid, password, 'res.partner', 'search_count', [[['is_company', '=', True]]]))
                ids = models.execute_kw(db, uid, password, 'res.partner', 'search', [[['is_company', '=', True]]], {'limit': 1})
                [record] = models.execute_kw(db, uid, password, 'res.partner', 'read', [ids])
                print("read", sorted(record))
                print("read fields", models.execute_kw(db, uid, password, 'res.partner', 'read', [ids],
                                                       {'fields': ['name', 'country_id', 'comment']})
                      == [{'id': ids[0], 'name': 'Agrolait', 'country_id': False, 'comment': False}])
                fields = models.execute_kw(db, uid, password, 'res.partner', 'fields_get', [], {'attributes': ['string', 'help', 'type']})
                print("fields_get", fields['name'], fields['is_company'], fields['parent_id'], fields['x_rank'])
                print("search_read", [(r['name'], r['country_id'], r['comment']) for r in models.execute_kw(
                    db, uid, password, 'res.partner', 'search_read', [[['is_company', '=', True]]],
                    {'fields': ['name', 'country_id', 'comment'], 'limit': 5})])
                id = models.execute_kw(db, uid, password, 'res.partner', 'create', [{'name': "New Partner"}])
                print("create", type(id).__name__)
                models.execute_kw(db, uid, password, 'res.partner', 'write', [[id], {'name': "Newer partner"}])
                print("name", models.execute_kw(db, uid, password, 'res.partner', 'read', [[id], ['display_name']])
                      == [{'id': id, 'display_name': 'Newer partner'}])
                print("name_get", models.execute_kw(db, uid, password, 'res.partner', 'name_get', [[id]]) == [[id, "Newer partner"]])
                # a date alone against a datetime is midnight in the context's time zone
                models.execute_kw(db, uid, password, 'res.partner', 'write', [[id], {'x_seen': '2026-01-01 20:00:00'}])
                print("tz", [models.execute_kw(db, uid, password, 'res.partner', 'search_count',
                                               [[['id', '=', id], ['x_seen', '>=', '2026-01-02']]], {'context': {'tz': tz}})
                             for tz in ('UTC', 'Asia/Tokyo', 'America/New_York')],
                      models.execute_kw(db, uid, password, 'res.partner', 'read', [[id], ['x_seen']], {'context': {'tz': 'Asia/Tokyo'}})
                      [0]['x_seen'])
                print("unlink", models.execute_kw(db, uid, password, 'res.partner', 'unlink', [[id]]),
                      models.execute_kw(db, uid, password, 'res.partner', 'search', [[['id', '=', id]]]))
                print("ir.model", models.execute_kw(db, uid, password, 'ir.model', 'search_read', [[['model', '=', 'res.partner']]],
                                                    {'fields': ['name', 'model', 'state', 'modules']}) [0] | {'id': 0})
                print("ir.model.fields", [(f['name'], f['ttype'], f['relation'], f['field_description']) for f in models.execute_kw(
                    db, uid, password, 'ir.model.fields', 'search_read',
                    [[['model', '=', 'res.partner'], ['name', 'in', ['name', 'parent_id', 'x_rank']]]],
                    {'fields': ['name', 'ttype', 'relation', 'field_description']})])
                # ir.model: a custom model, with the fields every model has
                models.execute_kw(db, uid, password, 'ir.model', 'create', [{
                    'name': "Custom Model",
                    'model': "x_custom_model",
                    'state': 'manual',
                }])
                custom = models.execute_kw(db, uid, password, 'x_custom_model', 'fields_get', [], {'attributes': ['string', 'help', 'type']})
                print("custom model", sorted(custom), custom['create_uid'])
                # ir.model.fields: a field on a custom model, and a record of it
                id = models.execute_kw(db, uid, password, 'ir.model', 'create', [{
                    'name': "Custom Model",
                    'model': "x_custom",
                    'state': 'manual',
                }])
                models.execute_kw(db, uid, password, 'ir.model.fields', 'create', [{
                    'model_id': id,
                    'name': 'x_name',
                    'ttype': 'char',
                    'state': 'manual',
                    'required': True,
                }])
                record_id = models.execute_kw(db, uid, password, 'x_custom', 'create', [{'x_name': "test record"}])
                [record] = models.execute_kw(db, uid, password, 'x_custom', 'read', [[record_id]])
                print("custom record", sorted(record), record['x_name'], record['display_name'], record['create_uid'][1])
                # a partner's country, and its code with it
                [belgium] = models.execute_kw(db, uid, password, 'res.country', 'search', [[['code', '=', 'BE']]])
                located = models.execute_kw(db, uid, password, 'res.partner', 'create', [{'name': "Located", 'country_id': belgium}])
                [where] = models.execute_kw(db, uid, password, 'res.partner', 'read', [[located], ['country_id', 'country_code']])
                print("country", where['country_id'] == [belgium, 'Belgium'], where['country_code'],
                      models.execute_kw(db, uid, password, 'res.country', 'search_count', [[]]) > 240)
                models.execute_kw(db, uid, password, 'res.partner', 'unlink', [[located]])
                print("default_get", models.execute_kw(db, uid, password, 'res.partner', 'default_get', [['active', 'is_company', 'name']]),
                      models.execute_kw(db, uid, password, 'res.partner', 'default_get', [['name']], {'context': {'default_name': 'N'}}))
                named, _ = models.execute_kw(db, uid, password, 'res.partner', 'name_create', ['Named'])
                parent = models.execute_kw(db, uid, password, 'res.partner', 'create', [{'name': 'Parent', 'x_rank': 5,
                                                                                          'child_ids': [(0, 0, {'name': 'Kid'})]}])
                [kid] = models.execute_kw(db, uid, password, 'res.partner', 'read', [parent], {'fields': ['child_ids']})[0]['child_ids'] or [0]
                print("overrides", [r['x_rank'] for r in models.execute_kw(db, uid, password, 'res.partner', 'read', [[named, parent, kid], ['x_rank']])])
                print("order", [r['name'] for r in models.execute_kw(db, uid, password, 'res.partner', 'search_read', [[['id', 'in', [named, parent, kid]]]],
                                                                    {'fields': ['name'], 'order': 'name desc'})])
                models.execute_kw(db, uid, password, 'res.partner', 'unlink', [[kid, parent, named]])
                print("name_search", [name for _, name in models.execute_kw(db, uid, password, 'res.partner', 'name_search', ['deco'],
                                                                                {'limit': 10})])
                print("many2one", models.execute_kw(db, uid, password, 'res.users', 'read', [[uid]], {'fields': ['partner_id']})
                      [0]['partner_id'][1])
                # the addon's extension: its field, its method (in its class loader), its create override
                print("extension", models.execute_kw(db, uid, password, 'res.partner', 'read', [made[0:1], ['x_rank']])[0]['x_rank'],
                      models.execute_kw(db, uid, password, 'res.partner', 'promote', [made[0:1]]),
                      models.execute_kw(db, uid, password, 'res.partner', 'read', [made[0:1], ['x_rank']])[0]['x_rank'])
                # Odoo's errors for what Odoo refuses
                def fault(call):
                    try:
                        call()
                        return "no fault"
                    except xmlrpc.client.Fault as f:
                        return f"{f.faultCode} {f.faultString.splitlines()[0]}"
                print("search count=", models.execute_kw(db, uid, password, 'res.partner', 'search', [[['is_company', '=', True]]],
                                                         {'count': True}))
                for name, args, kw in (("search stranger=", [[]], {'stranger': True}),
                                       ("bad field", [[['nope', '=', 1]]], {}),
                                       ("bad operator", [[['name', 'like it', 1]]], {}),
                                       ("malformed", [['&', ['name', '=', 'a']]], {}),
                                       ("bad order", [[]], {'order': 'name; DROP TABLE res_partner'}),
                                       ("order field", [[]], {'order': 'nope desc'})):
                    print(name, fault(lambda: models.execute_kw(db, uid, password, 'res.partner', 'search', args, kw)))
                print("custom required", fault(lambda: models.execute_kw(db, uid, password, 'x_custom', 'create', [{}])))
                print("create field", fault(lambda: models.execute_kw(db, uid, password, 'res.partner', 'create', [{'nope': 1}])))
                print("required", fault(lambda: models.execute_kw(db, uid, password, 'res.users', 'create', [{'login': 'x'}])))
                print("missing", fault(lambda: models.execute_kw(db, uid, password, 'res.partner', 'write', [[987654], {'name': 'x'}])))
                print("password", fault(lambda: models.execute_kw(db, uid, password, 'res.users', 'read', [[uid], ['password']])))
                print("catalogue", fault(lambda: models.execute_kw(db, uid, password, 'ir.model', 'unlink', [[1]])))
                print("restrict", fault(lambda: models.execute_kw(db, uid, password, 'res.partner', 'unlink', [[
                    models.execute_kw(db, uid, password, 'res.users', 'read', [[uid], ['partner_id']])[0]['partner_id'][0]]])))
                """, url(), database.db);
        assertThat(out.lines()).containsExactly(
                "version ['kiln_version', 'protocol_version', 'server_serie', 'server_version', 'server_version_info']",
                "uid 2",
                "rights True",
                "search True",
                "paginate True",
                "count 5",
                "read ['active', 'child_ids', 'city', 'comment', 'country_code', 'country_id', 'create_date', 'create_uid', 'display_name', 'email',"
                        + " 'id', 'is_company', 'name', 'parent_id', 'phone', 'street', 'user_ids', 'write_date', 'write_uid', 'x_rank',"
                        + " 'x_seen', 'zip']",
                "read fields True",
                "fields_get {'type': 'char', 'string': 'Name'} {'type': 'boolean', 'string': 'Is a Company', 'help': 'Check if the"
                        + " contact is a company, otherwise it is a person'} {'type': 'many2one', 'string': 'Related Company'}"
                        + " {'type': 'integer', 'string': 'Rank', 'help': 'Higher is better'}",
                "search_read [('Agrolait', False, False), ('Azure Interior', False, False), ('Deco Addict', False, False),"
                        + " ('Ready Mat', False, False), ('Wood Corner', False, False)]",
                "create int",
                "name True",
                "name_get True",
                // Tokyo's midnight of Jan 2 is 15:00 UTC on Jan 1; read values stay UTC, as in Odoo
                "tz [0, 1, 0] 2026-01-01 20:00:00",
                "unlink True []",
                "ir.model {'id': 0, 'name': 'Contact', 'model': 'res.partner', 'state': 'base', 'modules': 'base, ranks'}",
                "ir.model.fields [('name', 'char', False, 'Name'), ('parent_id', 'many2one', 'res.partner', 'Related Company'),"
                        + " ('x_rank', 'integer', False, 'Rank')]",
                "custom model ['create_date', 'create_uid', 'display_name', 'id', 'write_date', 'write_uid']"
                        + " {'type': 'many2one', 'string': 'Created by'}",
                "custom record ['create_date', 'create_uid', 'display_name', 'id', 'write_date', 'write_uid', 'x_name']"
                        + " test record test record Administrator",
                "country True BE True",
                "default_get {'active': True, 'is_company': False} {'name': 'N'}",
                "overrides [1, 5, 1]",
                "order ['Parent', 'Named', 'Kid']",
                "name_search ['Deco Addict']",
                "many2one Administrator",
                "extension 1 True 2",
                "search count= 5",
                "search stranger= 1 search() got an unexpected keyword argument 'stranger'",
                "bad field 1 Invalid field res.partner.nope in condition ('nope', '=', 1)",
                "bad operator 1 Invalid operator in condition ('name', 'like it', 1)",
                "malformed 1 Domain() malformed domain ['&', ['name', '=', 'a']]",
                "bad order 2 Invalid \"order\" specified (name; DROP TABLE res_partner). A valid \"order\" specification is a"
                        + " comma-separated list of valid field names (optionally followed by asc/desc for the direction)",
                "order field 1 Invalid field 'nope' on model 'res.partner'",
                "custom required 2 Missing required value for the field 'X Name' (x_name).",
                "create field 1 Invalid field 'nope' in 'res.partner'",
                "required 2 Missing required value for the field 'Name' (name).",
                "missing 2 Record does not exist or has been deleted.",
                "password 4 You do not have enough rights to access the field \"password\" on User (res.users). Please contact your"
                        + " system administrator.",
                "catalogue 2 Model 'res.partner' contains module data and cannot be removed",
                "restrict 2 The operation cannot be completed: another record requires the record being deleted, or refers to a"
                        + " record that does not exist. If possible, archive it instead.");
        assertThat(kiln.log()).doesNotContain("Exception").doesNotContain("DROP TABLE res_partner\"");
    }

    @Test
    @Order(Integer.MAX_VALUE)            // last: until it removes them, res.partner has its custom field
    void customModelsAndFieldsMadeOverTheApiAreServedByEveryProcessAndRemovedWithTheirTables() throws Exception {
        String script = ADMIN_SCRIPT + """
                step = sys.argv[3]
                if step == "make":
                    book = admin('ir.model', 'create', {'name': "Book", 'model': "x_library.book", 'field_id': [
                        (0, 0, {'name': 'x_name', 'ttype': 'char', 'required': True, 'field_description': 'Title'}),
                        (0, 0, {'name': 'x_pages', 'ttype': 'integer', 'index': True}),
                        (0, 0, {'name': 'x_author_id', 'ttype': 'many2one', 'relation': 'res.partner'}),
                        (0, 0, {'name': 'x_summary', 'ttype': 'text'}), (0, 0, {'name': 'x_review', 'ttype': 'html'}),
                        (0, 0, {'name': 'x_cover', 'ttype': 'binary'}), (0, 0, {'name': 'x_price', 'ttype': 'monetary'}),
                        (0, 0, {'name': 'x_weight', 'ttype': 'float'}), (0, 0, {'name': 'x_available', 'ttype': 'boolean'}),
                        (0, 0, {'name': 'x_published', 'ttype': 'date'}), (0, 0, {'name': 'x_added', 'ttype': 'datetime'})]})
                    fan = admin('ir.model.fields', 'create', {'model': 'res.partner', 'name': 'x_favourite_book_id',
                                                              'ttype': 'many2one', 'relation': 'x_library.book'})
                    admin('ir.model.fields', 'create', {'model_id': book, 'name': 'x_fan_ids', 'ttype': 'one2many',
                                                        'relation': 'res.partner', 'relation_field': 'x_favourite_book_id'})
                    print("catalogue", [(f['name'], f['ttype'], f['state']) for f in admin('ir.model.fields', 'search_read',
                          [['model', '=', 'x_library.book'], ['state', '=', 'manual']], fields=['name', 'ttype', 'state'])])
                    for name, model, vals in (
                            ("sql in a model name", 'ir.model', {'name': 'x', 'model': 'x_a; DROP TABLE res_partner'}),
                            ("no x_", 'ir.model', {'name': 'x', 'model': 'library.book'}),
                            ("base state", 'ir.model', {'name': 'x', 'model': 'x_other', 'state': 'base'}),
                            ("taken", 'ir.model', {'name': 'x', 'model': 'x_library.book'}),
                            ("field name", 'ir.model.fields', {'model': 'res.partner', 'name': 'x_a"b', 'ttype': 'char'}),
                            ("field no x_", 'ir.model.fields', {'model': 'res.partner', 'name': 'nickname', 'ttype': 'char'}),
                            ("field taken", 'ir.model.fields', {'model': 'res.partner', 'name': 'x_rank', 'ttype': 'char'}),
                            ("field type", 'ir.model.fields', {'model': 'res.partner', 'name': 'x_ref', 'ttype': 'reference'}),
                            ("field relation", 'ir.model.fields', {'model': 'res.partner', 'name': 'x_r_id', 'ttype': 'many2one',
                                                                    'relation': 'res.partner; DROP TABLE res_partner'}),
                            ("field model", 'ir.model.fields', {'model_id': 987654, 'name': 'x_y', 'ttype': 'char'})):
                        print(name, fault(lambda: admin(model, 'create', vals)))
                    [partner_model] = admin('ir.model', 'search', [['model', '=', 'res.partner']])
                    print("rename base", fault(lambda: admin('ir.model', 'write', [partner_model], {'name': 'Partner'})))
                    print("retype", fault(lambda: admin('ir.model.fields', 'write', [fan], {'ttype': 'char'})))
                    print("clerk", fault(lambda: models.execute_kw(db, CLERK, "clerk-pass", 'ir.model', 'create',
                                                                   [{'name': 'x', 'model': 'x_clerks'}])))
                elif step == "use":
                    book = admin('x_library.book', 'create', {'x_name': 'Dune', 'x_pages': 412,
                                                              'x_author_id': admin('res.partner', 'create', {'name': 'Frank'})})
                    reader = admin('res.partner', 'create', {'name': 'Reader', 'x_favourite_book_id': book})
                    [read] = admin('x_library.book', 'read', [book], ['display_name', 'x_pages', 'x_author_id', 'x_fan_ids'])
                    print("book", read['display_name'], read['x_pages'], read['x_author_id'][1], read['x_fan_ids'] == [reader])
                    typed = {'x_summary': 'A desert planet', 'x_review': '<p>Spice</p>', 'x_cover': 'aGVsbG8=', 'x_price': 9.99,
                             'x_weight': 0.5, 'x_available': True, 'x_published': '1965-08-01', 'x_added': '2026-12-03 10:00:00'}
                    admin('x_library.book', 'write', [book], typed)
                    print("types", admin('x_library.book', 'read', [book], list(typed))[0] == dict(typed, id=book))
                    print("search", admin('x_library.book', 'search_count', [['x_author_id.name', '=', 'Frank'], ['x_pages', '>', 400]]),
                          admin('res.partner', 'search_read', [['x_favourite_book_id.x_name', '=', 'Dune']], fields=['name'])[0]['name'])
                    print("fields_get", admin('x_library.book', 'fields_get', ['x_name'], attributes=['string', 'type', 'required']))
                    [fan] = admin('ir.model.fields', 'search', [['model', '=', 'res.partner'], ['name', '=', 'x_favourite_book_id']])
                    print("other side first", fault(lambda: admin('ir.model.fields', 'unlink', [fan])))
                    [fans] = admin('ir.model.fields', 'search', [['model', '=', 'x_library.book'], ['name', '=', 'x_fan_ids']])
                    print("points to it", fault(lambda: admin('ir.model', 'unlink', admin('ir.model', 'search', [['model', '=', 'x_library.book']]))))
                    admin('ir.model.fields', 'write', [fans], {'field_description': 'Fans'})
                    print("relabelled", admin('x_library.book', 'fields_get', ['x_fan_ids'], attributes=['string']))
                    print("unlink fields", admin('ir.model.fields', 'unlink', [fans, fan]))
                    print("unlink model", admin('ir.model', 'unlink', admin('ir.model', 'search', [['model', '=', 'x_library.book']])))
                else:
                    print("gone", fault(lambda: admin('x_library.book', 'search', [])),
                          fault(lambda: admin('res.partner', 'search', [['x_favourite_book_id', '=', 1]])))
                """;
        String clerk = Commands.python(dir, """
                import sys, xmlrpc.client
                models = xmlrpc.client.ServerProxy(f"{sys.argv[1]}/xmlrpc/2/object")
                print(models.execute_kw(sys.argv[2], 2, "admin", 'res.users', 'create',
                                        [{'login': 'librarian', 'name': 'Clerk', 'password': 'clerk-pass'}]))
                """, url(), database.db).strip();
        String made = Commands.python(dir, script.replace("CLERK", clerk), url(), database.db, "make");
        assertThat(made.lines()).containsExactly(
                "catalogue [('x_added', 'datetime', 'manual'), ('x_author_id', 'many2one', 'manual'), ('x_available', 'boolean', 'manual'),"
                        + " ('x_cover', 'binary', 'manual'), ('x_fan_ids', 'one2many', 'manual'), ('x_name', 'char', 'manual'),"
                        + " ('x_pages', 'integer', 'manual'), ('x_price', 'monetary', 'manual'), ('x_published', 'date', 'manual'),"
                        + " ('x_review', 'html', 'manual'), ('x_summary', 'text', 'manual'), ('x_weight', 'float', 'manual')]",
                "sql in a model name 2 The model name must start with 'x_' and contain only lowercase letters, digits, underscores"
                        + " and dots (at most 63 characters), not 'x_a; DROP TABLE res_partner'",
                "no x_ 2 The model name must start with 'x_' and contain only lowercase letters, digits, underscores and dots"
                        + " (at most 63 characters), not 'library.book'",
                "base state 2 Only custom models (state 'manual') are made over the API; the others come from addons, not 'base'",
                "taken 2 The model name must be unique: x_library.book exists already",
                "field name 2 Custom fields must have a name that starts with 'x_' and contains only lowercase letters, digits and"
                        + " underscores (at most 63 characters), not 'x_a\"b'",
                "field no x_ 2 Custom fields must have a name that starts with 'x_' and contains only lowercase letters, digits and"
                        + " underscores (at most 63 characters), not 'nickname'",
                "field taken 2 Field names must be unique per model: res.partner.x_rank exists already",
                "field type 2 Kiln makes custom fields of the types binary, boolean, char, date, datetime, float, html, integer,"
                        + " monetary, text, many2one, one2many and many2many, not 'reference'",
                "field relation 2 Unknown model name 'res.partner; DROP TABLE res_partner' in Related Model",
                "field model 2 Record does not exist or has been deleted.",
                "rename base 2 Model res.partner comes from an addon: only custom ones change over the API",
                "retype 2 Only the field_description and help of a custom field change over the API, not ttype",
                "clerk 4 You are not allowed to create 'Models' (ir.model) records.");
        assertThat(database.count("SELECT count(*) FROM pg_indexes WHERE tablename = 'x_library_book' AND indexname LIKE '%x_pages%'"))
                .as("x_pages asked for an index").isOne();

        // a process started after the change builds the models from the catalogue; the first one hears the change
        KilnProcess other = database.serve("--max-cron-threads=0");
        String used = Commands.python(dir, script, "http://127.0.0.1:" + other.port(), database.db, "use");
        assertThat(used.lines()).containsExactly(
                "book Dune 412 Frank True",
                "types True",
                "search 1 Reader",
                "fields_get {'x_name': {'type': 'char', 'string': 'Title', 'required': True}}",
                "other side first 2 Field x_library.book.x_fan_ids is the other side of res.partner.x_favourite_book_id: remove it first",
                "points to it 2 Field res.partner.x_favourite_book_id points to a model being removed: remove the field first",
                "relabelled {'x_fan_ids': {'string': 'Fans'}}",
                "unlink fields True",
                "unlink model True");
        assertThat(database.query("SELECT to_regclass('x_library_book')")).isNull();
        assertThat(database.count("SELECT count(*) FROM information_schema.columns WHERE table_name = 'res_partner'"
                + " AND column_name = 'x_favourite_book_id'")).isZero();
        await().atMost(KilnProcess.PATIENCE).untilAsserted(() ->
                assertThat(Commands.python(dir, script, url(), database.db, "gone").strip()).isEqualTo(
                        "gone 2 Object x_library.book doesn't exist 1 Invalid field res.partner.x_favourite_book_id in condition"
                                + " ('x_favourite_book_id', '=', 1)"));
        assertThat(kiln.log() + other.log()).doesNotContain("Exception").doesNotContain("DROP TABLE res_partner\"");
    }

    /** An addon declaring shelves with {@code fields} (Java expressions), and a model of tags when {@code tags}. */
    private static String shelves(String fields, boolean tags) {
        return """
                package shelves;

                import dev.kiln.api.*;

                public final class Shelves implements Addon {
                    @Override public void register(AddonContext context) {
                        context.model(ModelSpec.of("shelf.unit").field(Field.chars("name").required())FIELDS
                                .access("base.group_user", "rwcu"));
                        TAGS
                    }
                }
                """.replace("FIELDS", fields).replace("TAGS", tags
                ? "context.model(ModelSpec.of(\"shelf.tag\").field(Field.chars(\"name\").required()).access(\"base.group_user\", \"r\"));"
                : "");
    }

    @Test
    void anUpdateAddsTheNewFieldsAndModelsAndStopsAtAColumnOfAnotherKind() throws Exception {
        Path own = Files.createDirectories(dir.resolve("shelf-addons"));
        String path = "--addons-path=" + own;
        String db = CronHarness.unique("shelves");
        Function<String, String> write = fields -> TestAddons.addon(own, "shelves", TestAddons.manifest("shelves.Shelves", "base"),
                Map.of("shelves.Shelves", shelves(fields, fields.contains("width")))).toString();
        write.apply(".field(Field.integer(\"slots\"))");
        try (KilnProcess init = KilnProcess.launch(Files.createTempDirectory(dir, "shelves"), List.of(), path, "-d", db, "-i",
                "shelves", "--stop-after-init")) {
            assertThat(init.awaitExit(Duration.ofSeconds(90))).as(init.log()).isZero();
        }
        try (Connection connection = database.connect(db); Statement statement = connection.createStatement()) {
            statement.execute("INSERT INTO shelf_unit (name) VALUES ('old')");
            // a custom field, as ir.model.fields makes one, which the addon's next version declares itself
            statement.execute("ALTER TABLE shelf_unit ADD COLUMN x_note text");
            statement.execute("INSERT INTO ir_model_fields (model_id, model, name, ttype, state) SELECT id, model, 'x_note', 'char',"
                    + " 'manual' FROM ir_model WHERE model = 'shelf.unit'");
        }

        write.apply(".field(Field.integer(\"slots\")).field(Field.chars(\"label\").index()).field(Field.floating(\"width\").required())"
                + ".field(Field.chars(\"x_note\"))");
        try (KilnProcess update = KilnProcess.launch(Files.createTempDirectory(dir, "shelves"), List.of(), path, "-d", db, "-u",
                "shelves", "--stop-after-init")) {
            assertThat(update.awaitExit(Duration.ofSeconds(90))).as(update.log()).isZero();
        }
        try (Connection connection = database.connect(db); Statement statement = connection.createStatement()) {
            assertThat(rows(statement, """
                    SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
                    WHERE table_name IN ('shelf_unit', 'shelf_tag') AND column_name IN ('name', 'slots', 'label', 'width')
                    ORDER BY 1""")).containsExactly(
                    "shelf_tag.name text NO",                   // a new, empty table: required is NOT NULL
                    "shelf_unit.label text YES",
                    "shelf_unit.name text NO",
                    "shelf_unit.slots integer YES",
                    "shelf_unit.width double precision YES");   // required, but the old row has none yet
            assertThat(rows(statement, "SELECT indexname FROM pg_indexes WHERE tablename = 'shelf_unit' AND indexname LIKE '%label%'"))
                    .containsExactly("shelf_unit_label_idx");
            assertThat(rows(statement, "SELECT name || ' ' || state FROM ir_model_fields WHERE model = 'shelf.unit'"
                    + " AND name IN ('label', 'width', 'x_note') ORDER BY name"))
                    .as("the custom field the addon now declares is the addon's").containsExactly("label base", "width base", "x_note base");
        }

        write.apply(".field(Field.chars(\"slots\")).field(Field.chars(\"label\").index()).field(Field.floating(\"width\").required())");
        try (KilnProcess update = KilnProcess.launch(Files.createTempDirectory(dir, "shelves"), List.of(), path, "-d", db, "-u",
                "shelves", "--stop-after-init")) {
            assertThat(update.awaitExit(Duration.ofSeconds(90))).as(update.log()).isEqualTo(1);
            assertThat(update.log()).contains("field shelf_unit.slots is a char field but its column is of type int4: convert it in a"
                    + " migration first (ALTER TABLE shelf_unit ALTER COLUMN slots TYPE ... USING ...)");
        }
        try (Connection connection = database.connect(db); Statement statement = connection.createStatement()) {
            assertThat(rows(statement, "SELECT data_type FROM information_schema.columns WHERE table_name = 'shelf_unit'"
                    + " AND column_name = 'slots'")).as("nothing of the refused update applied").containsExactly("integer");
        }
    }

    private static List<String> rows(Statement statement, String sql) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (ResultSet row = statement.executeQuery(sql)) {
            while (row.next()) {
                rows.add(row.getString(1));
            }
        }
        return rows;
    }

    @Test
    void eachGroupDoesWhatItsAccessAllowsAndSeesWhatItsRulesLetIt() throws Exception {
        String out = Commands.python(dir, ADMIN_SCRIPT + """
                [portal_group] = admin('res.groups', 'search', [['xml_id', '=', 'base.group_portal']])
                portal = admin('res.users', 'create', {'login': 'portal', 'name': 'Pat Portal', 'password': 'portal-pass',
                                                         'group_ids': [(6, 0, [portal_group])]})
                clerk = admin('res.users', 'create', {'login': 'clerk', 'name': 'Cleo Clerk', 'password': 'clerk-pass'})
                own = admin('res.users', 'read', [portal], ['partner_id'])[0]['partner_id'][0]
                child = admin('res.partner', 'create', {'name': 'Pat Junior', 'parent_id': own})
                grandchild = admin('res.partner', 'create', {'name': 'Pat Grandchild', 'parent_id': child})
                other = admin('res.partner', 'create', {'name': 'Someone Else'})
                print("groups", admin('res.users', 'read', [clerk], ['group_ids'])[0]['group_ids']
                      == admin('res.groups', 'search', [['xml_id', '=', 'base.group_user']]))
                uid = common.authenticate(db, "portal", "portal-pass", {})
                def as_portal(model, method, *args, **kw):
                    return models.execute_kw(db, uid, "portal-pass", model, method, list(args), kw)
                print("portal sees", sorted(as_portal('res.partner', 'search', [])) == sorted([own, child]),
                      as_portal('res.partner', 'search_count', [['name', 'ilike', 'pat']]))
                print("portal reads other", fault(lambda: as_portal('res.partner', 'read', [other], ['name'])))
                print("portal x2many", as_portal('res.partner', 'read', [child], ['child_ids'])[0]['child_ids'],
                      admin('res.partner', 'read', [child], ['child_ids'])[0]['child_ids'] == [grandchild])
                print("portal rule", fault(lambda: as_portal('res.partner', 'check_access_rule', [own], 'read')),
                      fault(lambda: as_portal('res.partner', 'check_access_rule', [other], 'read')))
                print("portal writes own", fault(lambda: as_portal('res.partner', 'write', [own], {'name': 'x'})))
                print("portal catalogue", fault(lambda: as_portal('ir.model', 'search', [])))
                print("portal rights", as_portal('res.partner', 'check_access_rights', 'read', raise_exception=False),
                      as_portal('res.partner', 'check_access_rights', 'write', raise_exception=False),
                      as_portal('res.partner', 'has_access', [own], 'read'), as_portal('res.partner', 'has_access', [other], 'read'))
                clerk_uid = common.authenticate(db, "clerk", "clerk-pass", {})
                def as_clerk(model, method, *args, **kw):
                    return models.execute_kw(db, clerk_uid, "clerk-pass", model, method, list(args), kw)
                print("clerk sees all", as_clerk('res.partner', 'search_count', []) == admin('res.partner', 'search_count', []))
                print("clerk creates", fault(lambda: as_clerk('res.partner', 'create', {'name': 'x'})))
                # archived: gone from searches unless asked, refused at login and on the next call at once
                admin('res.users', 'write', [clerk], {'active': False})
                print("archived", admin('res.users', 'search', [['login', '=', 'clerk']]),
                      admin('res.users', 'search', [['login', '=', 'clerk']], context={'active_test': False}) == [clerk])
                print("archived login", common.authenticate(db, "clerk", "clerk-pass", {}))
                print("archived call", fault(lambda: as_clerk('res.partner', 'search_count', [])))
                """, url(), database.db);
        assertThat(out.lines()).containsExactly(
                "groups True",
                "portal sees True 2",
                "portal reads other 4 Uh-oh! Looks like you have stumbled upon some top-secret records.",
                "portal x2many [] True",
                "portal rule no fault True 4 Uh-oh! Looks like you have stumbled upon some top-secret records.",
                "portal writes own 4 You are not allowed to modify 'Contact' (res.partner) records.",
                "portal catalogue 4 You are not allowed to access 'Models' (ir.model) records.",
                "portal rights True False True False",
                "clerk sees all True",
                "clerk creates 4 You are not allowed to create 'Contact' (res.partner) records.",
                "archived [] True",
                "archived login False",
                "archived call 3 Access Denied");
    }

    @Test
    void theJson2PagesExamplesPassUnchanged() throws Exception {
        String out = Commands.python(dir, """
                import json, sys, urllib.error, urllib.request
                url, db = sys.argv[1], sys.argv[2]
                def post(path, body, headers):
                    request = urllib.request.Request(url + path, json.dumps(body).encode(),
                                                     dict(headers, **{"Content-Type": "application/json"}))
                    try:
                        with urllib.request.urlopen(request) as answer:
                            return answer.status, answer.headers, json.load(answer)
                    except urllib.error.HTTPError as error:
                        return error.code, error.headers, json.load(error)
                _, headers, _ = post("/web/session/authenticate", {"jsonrpc": "2.0", "method": "call", "id": 1,
                                     "params": {"db": db, "login": "admin", "password": "admin"}}, {})
                session = {"Cookie": headers["Set-Cookie"].split(";")[0]}
                key = post("/web/session/apikeys/create", {"jsonrpc": "2.0", "method": "call", "id": 2,
                           "params": {"name": "json-2", "scope": "rpc"}}, session)[2]["result"]["key"]
                bearer = {"Authorization": f"bearer {key}", "X-Odoo-Database": db, "User-Agent": "mysoftware"}
                _, _, made = post("/json/2/res.partner/create", {"vals_list": {"name": "Deco Addict", "is_company": True}}, bearer)
                print("create", type(made).__name__, len(made))
                status, _, rows = post("/json/2/res.partner/search_read", {"context": {"lang": "en_US"},
                    "domain": [["name", "ilike", "%deco%"], ["is_company", "=", True]], "fields": ["name"]}, bearer)
                print("search_read", status, sorted(rows[0]), {r["name"] for r in rows}, made[0] in [r["id"] for r in rows])
                _, _, ids = post("/json/2/res.partner/search", {"context": {"lang": "en_US"},
                    "domain": [["name", "ilike", "%deco%"], ["is_company", "=", True]]}, bearer)
                _, _, read = post("/json/2/res.partner/read", {"ids": ids, "context": {"lang": "en_US"}, "fields": ["name"]}, bearer)
                print("search, read", read == rows)
                print("read with load", post("/json/2/res.partner/read", {"ids": made, "context": {"lang": "en_US"},
                      "fields": ["name", "create_uid"], "load": None}, bearer)[2][0]["create_uid"])
                print("write", post("/json/2/res.partner/write", {"ids": made, "vals": {"email": "deco@example.com"}}, bearer)[2])
                print("uid", post("/json/2/res.users/context_get", {}, bearer)[2]["uid"])
                status, _, error = post("/json/2/res.partner/search", {"domain": [["name", "=="]]}, bearer)
                print("bad domain", status, error["name"], error["message"])
                status, _, error = post("/json/2/res.partner/search", {}, bearer)
                print("no domain", status, error["name"], error["message"])
                print("unlink", post("/json/2/res.partner/unlink", {"ids": made}, bearer)[2])
                """, url(), database.db);
        assertThat(out.lines()).containsExactly(
                "create list 1",
                "search_read 200 ['id', 'name'] {'Deco Addict'} True",
                "search, read True",
                "read with load 2",
                "write True",
                "uid 2",
                "bad domain 422 builtins.ValueError Domain() invalid item in domain: ['name', '==']",
                "no domain 422 builtins.TypeError search() missing a required argument: 'domain'",
                "unlink True");
    }

    @Test
    void withDemoANewDatabaseHasOdoosDemoContactsAndWithoutItNone() throws Exception {
        String db = CronHarness.unique("demo");
        try (KilnProcess init = KilnProcess.launch(Files.createTempDirectory(dir, "demo"), List.of(),
                "-d", db, "--with-demo", "--stop-after-init")) {
            assertThat(init.awaitExit(Duration.ofSeconds(90))).as(init.log()).isZero();
        }
        assertThat(query(db, """
                SELECT count(*) FILTER (WHERE is_company), count(*) FILTER (WHERE p.name = 'Brandon Freeman'
                       AND parent_id = (SELECT id FROM res_partner WHERE name = 'Azure Interior')),
                       (SELECT count(*) FROM kiln_demo WHERE addon = 'base')
                FROM res_partner p""")).as("companies, a person at one, base's demo loaded").containsExactly(5L, 1L, 1L);
        assertThat(query(database.db, "SELECT (SELECT count(*) FROM res_partner WHERE name = 'Brandon Freeman'),"
                + " to_regclass('kiln_demo') IS NULL")).as("a database made without --with-demo").containsExactly(0L, true);
    }

    /** The first row of {@code sql} on {@code db}, as the superuser. */
    private static List<Object> query(String db, String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://localhost:" + CronHarness.sharedPort() + "/" + db,
                "postgres", ""); Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(sql)) {
            row.next();
            List<Object> values = new ArrayList<>();
            for (int i = 1; i <= row.getMetaData().getColumnCount(); i++) {
                values.add(row.getObject(i));
            }
            return values;
        }
    }
}
