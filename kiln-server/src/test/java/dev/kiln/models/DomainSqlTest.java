package dev.kiln.models;

import dev.kiln.addons.LoadedAddon;
import dev.kiln.addons.Manifest;
import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcFault;
import dev.kiln.db.SharedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Domains compiled to SQL, on a real table: the rows the SQL selects are the rows an in-memory
 * evaluation of Odoo's rules selects ({@link DomainEval}), for thousands of random domains on
 * random data with empty values; and no hostile name, operator, order or value reaches the SQL.
 */
class DomainSqlTest {

    private static final String DB = "kiln_domain_sql";
    private static Connection connection;
    private static Models models;
    private static Model item;
    private static final Map<Long, Map<String, Object>> ROWS = new LinkedHashMap<>();
    private static final List<String> WORDS = List.of("", "a", "ab", "abc", "b", "ba", "bca", "c", "ca", "cab");

    @BeforeAll
    static void table() throws SQLException {
        int port = SharedPostgres.port();
        try (Connection admin = DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/postgres", "postgres", "");
             Statement statement = admin.createStatement()) {
            statement.execute("DROP DATABASE IF EXISTS " + DB + " WITH (FORCE)");
            statement.execute("CREATE DATABASE " + DB + " TEMPLATE template0 ENCODING 'UTF8'");
        }
        connection = DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/" + DB, "postgres", "");
        LoadedAddon addon = addon(List.of(
                ModelSpec.of("res.users").field(Field.chars("name")),
                ModelSpec.of("x.item").description("Item").order("name, id")
                        .field(Field.chars("name"))
                        .field(Field.chars("code"))
                        .field(Field.integer("qty"))
                        .field(Field.floating("price"))
                        .field(Field.bool("flag"))
                        .field(Field.date("day"))
                        .field(Field.many2one("parent_id", "x.item"))
                        .field(Field.one2many("child_ids", "x.item", "parent_id"))));
        models = Models.of(List.of(addon));
        item = models.require("x.item");
        ModelSchema.apply(connection, models, addon);
        Random random = new Random(20261203);
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO x_item (name, code, qty, price, flag, day, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")) {
            for (int i = 0; i < 80; i++) {
                Map<String, Object> row = new HashMap<>();
                row.put("name", maybe(random, WORDS.get(random.nextInt(WORDS.size()))));
                row.put("code", maybe(random, WORDS.get(random.nextInt(WORDS.size()))));
                row.put("qty", maybe(random, (long) random.nextInt(5) - 1));
                row.put("price", maybe(random, List.of(0.0, 1.5, 2.25, -3.0).get(random.nextInt(4))));
                row.put("flag", maybe(random, random.nextBoolean()));
                row.put("day", maybe(random, LocalDate.of(2026, 1, 1 + random.nextInt(4))));
                row.put("parent_id", ROWS.isEmpty() || random.nextInt(3) == 0 ? null
                        : new ArrayList<>(ROWS.keySet()).get(random.nextInt(ROWS.size())));
                int index = 1;
                for (String column : List.of("name", "code", "qty", "price", "flag", "day", "parent_id")) {
                    insert.setObject(index++, row.get(column));
                }
                try (ResultSet id = insert.executeQuery()) {
                    id.next();
                    ROWS.put(id.getLong(1), row);
                }
            }
        }
    }

    @AfterAll
    static void close() throws SQLException {
        connection.close();
    }

    private static LoadedAddon addon(List<ModelSpec> specs) {
        Manifest manifest = new Manifest("x", "x", "1.0", "", List.of(), false, "LGPL-3", null, Path.of("x"));
        return new LoadedAddon(manifest, null, null, java.util.Optional.empty(), List.of(), specs);
    }

    private static Object maybe(Random random, Object value) {
        return random.nextInt(5) == 0 ? null : value;
    }

    @Test
    void everyRandomDomainSelectsTheRowsOdoosRulesSelect() throws SQLException {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        DomainEval oracle = new DomainEval(item, ROWS);
        for (int i = 0; i < 3_000; i++) {
            List<Object> raw = domain(random, 1 + random.nextInt(3));
            Domain domain = Domain.parse(raw);
            assertThat(sql(domain)).as("seed %d, domain %s", seed, raw).isEqualTo(oracle.select(domain));
        }
    }

    private Set<Long> sql(Domain domain) throws SQLException {
        Sql sql = new Sql().append("SELECT t0.id FROM x_item t0 WHERE ")
                .append(new DomainSql(models, m -> Domain.TRUE).compile(item, domain, "t0"));
        Set<Long> ids = new HashSet<>();
        try (PreparedStatement statement = sql.prepare(connection); ResultSet rows = statement.executeQuery()) {
            while (rows.next()) {
                ids.add(rows.getLong(1));
            }
        }
        return ids;
    }

    /** A random domain in prefix form: {@code size} trees side by side (an implicit AND), each of depth up to 3. */
    private static List<Object> domain(Random random, int size) {
        List<Object> items = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            tree(random, 3, items);
        }
        return items;
    }

    private static void tree(Random random, int depth, List<Object> items) {
        int pick = depth == 0 ? 9 : random.nextInt(10);
        if (pick < 3) {
            items.add(random.nextBoolean() ? "&" : "|");
            tree(random, depth - 1, items);
            tree(random, depth - 1, items);
        } else if (pick == 3) {
            items.add("!");
            tree(random, depth - 1, items);
        } else {
            items.add(leaf(random));
        }
    }

    private static List<Object> leaf(Random random) {
        String[] fields = {"name", "code", "qty", "price", "flag", "day", "parent_id", "parent_id.name", "parent_id.qty", "id",
            "child_ids"};
        String field = fields[random.nextInt(fields.length)];
        return switch (field) {
            case "name", "code", "parent_id.name" -> {
                String op = pick(random, "=", "!=", "in", "not in", "<", ">", "<=", ">=", "like", "not like", "ilike",
                        "not ilike", "=like", "=ilike", "not =like", "=?");
                Object value = text(random);
                if (op.contains("like") && !(value instanceof String)) {
                    value = op.contains("=") ? WORDS.get(random.nextInt(WORDS.size())) : false;   // =like takes a string only
                } else if ((op.startsWith("<") || op.startsWith(">")) && value instanceof List<?>) {
                    value = WORDS.get(random.nextInt(WORDS.size()));
                }
                yield List.of(field, op, value);
            }
            case "qty", "parent_id.qty" -> {
                String op = pick(random, "=", "!=", "<", ">", "<=", ">=", "in", "not in", "=?");
                boolean list = !op.startsWith("<") && !op.startsWith(">") && !op.equals("=?") && random.nextBoolean();
                yield List.of(field, op, random.nextInt(6) == 0 ? false : !list ? (Object) (random.nextInt(5) - 1)
                        : List.of(random.nextInt(5) - 1, random.nextInt(4) == 0 ? false : random.nextInt(5) - 1));
            }
            case "price" -> List.of(field, pick(random, "=", "!=", "<", ">", "<=", ">="),
                    random.nextInt(6) == 0 ? false : List.of(0.0, 1.5, 2.25, -3.0, 1).get(random.nextInt(5)));
            case "flag" -> List.of(field, pick(random, "=", "!="), random.nextInt(3) == 0 ? false : random.nextBoolean());
            case "day" -> List.of(field, pick(random, "=", "!=", "<", ">=", "in"), random.nextInt(6) == 0 ? false
                    : "2026-01-0" + (1 + random.nextInt(4)));
            case "id" -> List.of(field, pick(random, "child_of", "parent_of", "in", "not in", "="), random.nextBoolean()
                    ? (Object) (1 + random.nextInt(90)) : List.of(1 + random.nextInt(90), 1 + random.nextInt(90)));
            case "child_ids" -> List.of(field, pick(random, "in", "not in", "=", "!="), random.nextInt(4) == 0 ? false
                    : List.of(1 + random.nextInt(80)));
            default -> List.of(field, pick(random, "=", "!=", "in", "ilike", "not ilike", "child_of", "parent_of"),
                    random.nextInt(4) == 0 ? false : random.nextBoolean() ? (Object) (1 + random.nextInt(80)) : text(random));
        };
    }

    private static Object text(Random random) {
        return switch (random.nextInt(8)) {
            case 0 -> false;
            case 1 -> List.of(WORDS.get(random.nextInt(WORDS.size())), WORDS.get(random.nextInt(WORDS.size())));
            case 2 -> WORDS.get(random.nextInt(WORDS.size())) + "%";
            case 3 -> "_" + WORDS.get(random.nextInt(WORDS.size()));
            default -> WORDS.get(random.nextInt(WORDS.size()));
        };
    }

    private static String pick(Random random, String... options) {
        return options[random.nextInt(options.length)];
    }

    @Test
    void hostileNamesOperatorsAndShapesAreRefusedBeforeAnySql() {
        for (Object hostile : List.of(
                List.of(List.of("name; DROP TABLE x_item; --", "=", "a")),
                List.of(List.of("name\" OR 1=1 --", "=", "a")),
                List.of(List.of("parent_id.name) OR (1=1", "=", "a")),
                List.of(List.of("qty", "= 1 OR 1=1 --", 1)),
                List.of(List.of("qty", "in (SELECT id FROM x_item)", 1)),
                List.of(List.of("password", "=", "x")),
                List.of(List.of("name.id", "=", 1)),
                List.of(List.of("name", "child_of", 1)),
                List.of("&", List.of("name", "=", "a")),
                List.of("!"),
                List.of("name", "=", "a"),
                List.of(List.of("name", "=", java.util.Map.of("a", 1))),
                List.of(List.of("", "=", 1)),
                List.of(List.of(7, "=", 1)))) {
            assertThatThrownBy(() -> sql(Domain.parse(hostile))).as("%s", hostile).isInstanceOf(RpcFault.class);
        }
        assertThatThrownBy(() -> Domain.parse("[('name','=','a')]")).isInstanceOf(RpcFault.class);
        List<Object> tooLong = new ArrayList<>();
        for (int i = 0; i < Domain.MAX_ITEMS + 1; i++) {
            tooLong.add(List.of("qty", "=", i));
        }
        assertThatThrownBy(() -> Domain.parse(tooLong)).isInstanceOf(RpcFault.class).hasMessageContaining("too long");
        List<Object> tooDeep = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            tooDeep.add(i % 2 == 0 ? "&" : "|");
            tooDeep.add(List.of("qty", "=", i));
        }
        tooDeep.add(List.of("qty", "=", -1));
        assertThatThrownBy(() -> Domain.parse(tooDeep)).isInstanceOf(RpcFault.class).hasMessageContaining("too deep");
        List<Object> wide = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            wide.add("|");
        }
        for (int i = 0; i <= 2_000; i++) {
            wide.add(List.of("qty", "=", i));
        }
        assertThat(Domain.parse(wide)).as("an OR of many, as Odoo writes it, is one level").isInstanceOf(Domain.Or.class);
        assertThat(ROWS).hasSize(80);
    }

    @Test
    void hostileValuesAreBoundAndMatchNothingTheyShouldNot() throws SQLException {
        for (String value : List.of("' OR '1'='1", "a'); DROP TABLE x_item; --", "\\", "%' OR 1=1 --")) {
            Set<Long> found = sql(Domain.parse(List.of(List.of("name", "=", value))));
            assertThat(found).as(value).isEmpty();
        }
        assertThatThrownBy(() -> sql(Domain.parse(List.of(List.of("name", "=", "a\u0000b"))))).isInstanceOf(RpcFault.class)
                .hasMessageContaining("NUL");
        try (Statement statement = connection.createStatement(); ResultSet count = statement.executeQuery("SELECT count(*) FROM x_item")) {
            count.next();
            assertThat(count.getInt(1)).isEqualTo(80);
        }
    }

    @Test
    void ordersAreParsedAgainstTheFieldsAndNothingElseIsTaken() {
        assertThat(Order.parse("name desc nulls last, id", item).sql(item, "t0", models))
                .isEqualTo("t0.name DESC NULLS LAST, t0.id ASC");
        assertThat(Order.parse("flag, parent_id DESC", item).sql(item, "t0", models))
                .isEqualTo("COALESCE(t0.flag, false) ASC, (SELECT o.name FROM x_item o WHERE o.id = t0.parent_id) DESC, t0.id ASC");
        for (String hostile : List.of("name; DROP TABLE x_item", "(SELECT 1)", "name desc, ", "id desc limit 1",
                "name collate \"C\"", "nope", "child_ids", "name asc desc", "1")) {
            assertThatThrownBy(() -> Order.parse(hostile, item)).as(hostile).isInstanceOf(RpcFault.class);
        }
    }
}
