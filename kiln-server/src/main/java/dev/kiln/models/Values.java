package dev.kiln.models;

import dev.kiln.api.Field;
import dev.kiln.api.RpcFault;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Set;

/**
 * Values between the wire (what XML-RPC and JSON carry: String, Integer, Long, Double, Boolean,
 * null) and a column of a field's type, with Odoo's readings: {@code False} is "no value", a date
 * is {@code YYYY-MM-DD}, a datetime {@code YYYY-MM-DD HH:MM:SS} in UTC.
 */
final class Values {

    static final DateTimeFormatter DATETIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");
    private static final Set<String> TRUTHY = Set.of("true", "t", "1", "yes", "y", "on");
    private static final Set<String> FALSY = Set.of("false", "f", "0", "no", "n", "off", "");

    private Values() { }

    /** Whether the wire value means "no value": null or False. */
    static boolean isFalse(Object value) {
        return value == null || Boolean.FALSE.equals(value);
    }

    /** The SQL type of an array of {@code field}'s values. */
    static String sqlType(Field.Type type) {
        return switch (type) {
            case INTEGER, MANY2ONE, ONE2MANY, MANY2MANY -> "bigint";
            case FLOAT, MONETARY -> "float8";
            case BOOLEAN -> "boolean";
            case DATE -> "date";
            case DATETIME -> "timestamp";
            default -> "text";
        };
    }

    /**
     * {@code value} as a bind value of {@code type}'s column (null for False), or Odoo's ValueError
     * naming {@code where}.
     */
    static Object toColumn(Field.Type type, Object value, String where) {
        if (isFalse(value) && type != Field.Type.BOOLEAN) {
            return null;
        }
        return switch (type) {
            case CHAR, TEXT, HTML, SELECTION, BINARY, PASSWORD -> switch (value) {
                case String s when s.indexOf('\0') >= 0 -> throw wrong("…\\x00…", "text without NUL characters", where);
                case String s -> s;
                case Number n -> n.toString();
                case Boolean b -> b.toString();
                default -> throw wrong(value, "a string", where);
            };
            case INTEGER, MANY2ONE, ONE2MANY, MANY2MANY -> switch (value) {
                case Integer i -> i.longValue();
                case Long l -> l;
                case Double d when d == Math.rint(d) && !d.isInfinite() -> d.longValue();
                case Boolean b -> b ? 1L : 0L;
                default -> throw wrong(value, "an integer", where);
            };
            case FLOAT, MONETARY -> switch (value) {
                case Number n when Double.isFinite(n.doubleValue()) -> n.doubleValue();
                case Boolean b -> b ? 1.0 : 0.0;
                default -> throw wrong(value, "a number", where);
            };
            case BOOLEAN -> switch (value) {
                case null -> false;
                case Boolean b -> b;
                case Number n -> n.doubleValue() != 0;
                case String s when TRUTHY.contains(s.toLowerCase(Locale.ROOT)) -> true;
                case String s when FALSY.contains(s.toLowerCase(Locale.ROOT)) -> false;
                default -> throw wrong(value, "a boolean", where);
            };
            case DATE -> date(value, where);
            case DATETIME -> datetime(value, where);
        };
    }

    static LocalDate date(Object value, String where) {
        if (value instanceof String s) {
            try {
                return LocalDate.parse(s.length() > 10 ? s.substring(0, 10) : s);
            } catch (DateTimeParseException e) {
                // below
            }
        }
        throw wrong(value, "a date (YYYY-MM-DD)", where);
    }

    static LocalDateTime datetime(Object value, String where) {
        if (value instanceof String s) {
            try {
                if (s.length() == 10) {
                    return LocalDate.parse(s).atStartOfDay();
                }
                String plain = s.replace('T', ' ');
                if (plain.length() >= 19 && plain.length() <= 26 && !plain.contains("+") && !plain.endsWith("Z")) {
                    return LocalDateTime.parse(plain.substring(0, 19), DATETIME);
                }
            } catch (DateTimeParseException e) {
                // below
            }
        }
        throw wrong(value, "a datetime (YYYY-MM-DD HH:MM:SS, UTC)", where);
    }

    /** A column's value as the wire carries it (False for no value; Odoo's 0 for numbers). */
    static Object toWire(Field.Type type, Object column) {
        if (column == null) {
            return switch (type) {
                case INTEGER -> 0;
                case FLOAT, MONETARY -> 0.0;
                default -> Boolean.FALSE;
            };
        }
        return switch (column) {
            case LocalDateTime t -> t.format(DATETIME);
            case java.sql.Timestamp t -> t.toLocalDateTime().format(DATETIME);
            case LocalDate d -> d.toString();
            case java.sql.Date d -> d.toLocalDate().toString();
            case Long l when type == Field.Type.INTEGER || type == Field.Type.MANY2ONE ->
                    l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE ? (Object) l.intValue() : (Object) l.doubleValue();
            default -> column;
        };
    }

    private static RpcFault wrong(Object value, String expected, String where) {
        return RpcFault.invalidValue("Wrong value " + Domain.repr(value) + " for " + where + ": " + expected + " is expected");
    }
}
