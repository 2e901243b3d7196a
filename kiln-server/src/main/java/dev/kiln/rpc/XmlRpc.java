package dev.kiln.rpc;

import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The XML-RPC codec of Odoo's external API ({@code /xmlrpc/2/*}), on the JDK's StAX: reads a
 * {@code methodCall}, writes a {@code methodResponse} or a fault.
 *
 * <p>Reading maps {@code int}/{@code i4} (and {@code i1}, {@code i2}, {@code i8},
 * {@code biginteger}) to Integer, or Long beyond 32 bits; {@code double} to Double;
 * {@code boolean} to Boolean; {@code string} (or bare text) to String; {@code base64} to byte[];
 * {@code dateTime.iso8601} to LocalDateTime; {@code struct} to an ordered Map; {@code array} to a
 * List; {@code nil} to null. Writing follows Odoo's marshaller (15 and later): byte[] and dates go
 * out as strings ({@code YYYY-MM-DD HH:MM:SS}, UTC for instants), characters XML 1.0 cannot carry
 * are dropped, null is {@code nil}; {@link Binary} goes out as {@code base64}, a Long beyond 32
 * bits as {@code i8} (which Python's client reads).
 *
 * <p>Hostile input gets an {@link XmlRpcException}, never anything else: no DTD (so no external
 * or recursive entity), at most {@link #MAX_DEPTH} nested values, and a size limit.
 */
public final class XmlRpc {

    /** Nested arrays and structs a call may have. */
    public static final int MAX_DEPTH = 64;

    private static final XMLInputFactory FACTORY = factory();
    private static final DateTimeFormatter ODOO_DATETIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");
    private static final DateTimeFormatter ISO_BASIC = DateTimeFormatter.ofPattern("yyyyMMdd'T'HH:mm:ss");

    /** Binary data sent as {@code base64}; a plain byte[] goes out as a string, as Odoo does. */
    public record Binary(byte[] data) {
    }

    /** A decoded {@code methodCall}. */
    public record Call(String method, List<Object> params) {
    }

    private XmlRpc() { }

    private static XMLInputFactory factory() {
        XMLInputFactory factory = XMLInputFactory.newDefaultFactory();
        factory.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        factory.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        factory.setProperty(XMLInputFactory.IS_REPLACING_ENTITY_REFERENCES, false);
        factory.setProperty(XMLInputFactory.IS_COALESCING, true);
        // the JDK's own element depth limit (100) would cut a call before MAX_DEPTH values and say less
        factory.setProperty("jdk.xml.maxElementDepth", 3 * MAX_DEPTH + 16);
        return factory;
    }

    /** Reads a {@code methodCall} of at most {@code maxBytes} bytes. */
    public static Call readCall(InputStream in, int maxBytes) throws XmlRpcException {
        byte[] body;
        try {
            body = in.readNBytes(maxBytes + 1);
        } catch (IOException e) {
            throw new XmlRpcException("cannot read the request: " + e.getMessage());
        }
        if (body.length > maxBytes) {
            throw new XmlRpcException("request larger than " + maxBytes + " bytes");
        }
        return readCall(body);
    }

    public static Call readCall(byte[] body) throws XmlRpcException {
        XMLStreamReader reader = null;
        try {
            reader = FACTORY.createXMLStreamReader(new ByteArrayInputStream(body));
            Parser parser = new Parser(reader);
            return parser.call();
        } catch (XMLStreamException e) {
            throw new XmlRpcException("malformed XML: " + firstLine(e.getMessage()));
        } catch (RuntimeException e) {
            // the StAX implementation's own errors on broken input (encodings, odd characters)
            throw new XmlRpcException("malformed XML: " + firstLine(String.valueOf(e.getMessage())));
        } finally {
            if (reader != null) {
                try {
                    reader.close();
                } catch (XMLStreamException ignored) {
                    // nothing held but the array
                }
            }
        }
    }

    /** The JDK's message without its "ParseError at [row,col]" line, on one line and short. */
    private static String firstLine(String message) {
        String text = message == null ? "" : message.strip();
        int said = text.indexOf("Message: ");
        text = (said < 0 ? text : text.substring(said + "Message: ".length())).replaceAll("\\s+", " ");
        return text.length() > 200 ? text.substring(0, 200) : text;
    }

    /** A recursive-descent reader over the pull parser. */
    private static final class Parser {

        private final XMLStreamReader reader;

        Parser(XMLStreamReader reader) {
            this.reader = reader;
        }

        Call call() throws XMLStreamException, XmlRpcException {
            expectStart("methodCall");
            expectStart("methodName");
            String method = reader.getElementText().strip();
            if (method.isEmpty()) {
                throw new XmlRpcException("empty methodName");
            }
            List<Object> params = new ArrayList<>();
            int event = nextTag();
            if (event == XMLStreamConstants.START_ELEMENT) {
                requireName("params");
                while (nextTag() == XMLStreamConstants.START_ELEMENT) {
                    requireName("param");
                    expectStart("value");
                    params.add(value(1));
                    expectEnd("param");
                }
                expectEnd("methodCall");
            } else {
                requireName("methodCall");
            }
            while (reader.hasNext()) {
                int trailing = reader.next();
                if (trailing == XMLStreamConstants.START_ELEMENT || trailing == XMLStreamConstants.DTD) {
                    throw new XmlRpcException("content after </methodCall>");
                }
            }
            return new Call(method, params);
        }

        /** Reads a value whose {@code <value>} start was just read, through its end tag. */
        private Object value(int depth) throws XMLStreamException, XmlRpcException {
            if (depth > MAX_DEPTH) {
                throw new XmlRpcException("values nested deeper than " + MAX_DEPTH);
            }
            StringBuilder text = new StringBuilder();
            while (true) {
                int event = next();
                switch (event) {
                    case XMLStreamConstants.CHARACTERS, XMLStreamConstants.CDATA, XMLStreamConstants.SPACE ->
                            text.append(reader.getText());
                    case XMLStreamConstants.END_ELEMENT -> {
                        return text.toString();       // <value>text</value>: a string
                    }
                    case XMLStreamConstants.START_ELEMENT -> {
                        if (!text.toString().isBlank()) {
                            throw new XmlRpcException("text next to <" + reader.getLocalName() + "> in a value");
                        }
                        Object typed = typed(depth);
                        expectEnd("value");
                        return typed;
                    }
                    default -> { }
                }
            }
        }

        private Object typed(int depth) throws XMLStreamException, XmlRpcException {
            String type = reader.getLocalName();
            return switch (type) {
                case "int", "i4", "i1", "i2", "i8", "biginteger" -> integer(reader.getElementText());
                case "double" -> decimal(reader.getElementText());
                case "boolean" -> bool(reader.getElementText());
                case "string" -> reader.getElementText();
                case "base64" -> base64(reader.getElementText());
                case "dateTime.iso8601" -> dateTime(reader.getElementText());
                case "nil" -> {
                    if (nextTag() != XMLStreamConstants.END_ELEMENT) {
                        throw new XmlRpcException("<nil> must be empty");
                    }
                    yield null;
                }
                case "struct" -> struct(depth);
                case "array" -> array(depth);
                default -> throw new XmlRpcException("unknown type <" + type + ">");
            };
        }

        private Map<String, Object> struct(int depth) throws XMLStreamException, XmlRpcException {
            Map<String, Object> members = new LinkedHashMap<>();
            while (nextTag() == XMLStreamConstants.START_ELEMENT) {
                requireName("member");
                expectStart("name");
                String name = reader.getElementText();
                expectStart("value");
                members.put(name, value(depth + 1));
                expectEnd("member");
            }
            return members;
        }

        private List<Object> array(int depth) throws XMLStreamException, XmlRpcException {
            expectStart("data");
            List<Object> items = new ArrayList<>();
            while (nextTag() == XMLStreamConstants.START_ELEMENT) {
                requireName("value");
                items.add(value(depth + 1));
            }
            expectEnd("array");
            return items;
        }

        /** The next event that is not a comment or processing instruction; a DTD is refused. */
        private int next() throws XMLStreamException, XmlRpcException {
            while (true) {
                int event = reader.next();
                switch (event) {
                    case XMLStreamConstants.DTD -> throw new XmlRpcException("DTDs are not allowed");
                    case XMLStreamConstants.ENTITY_REFERENCE ->
                            throw new XmlRpcException("entity reference &" + reader.getLocalName() + "; is not allowed");
                    case XMLStreamConstants.COMMENT, XMLStreamConstants.PROCESSING_INSTRUCTION -> { }
                    default -> {
                        return event;
                    }
                }
            }
        }

        /** The next start or end tag; anything but whitespace between tags is refused. */
        private int nextTag() throws XMLStreamException, XmlRpcException {
            while (true) {
                int event = next();
                switch (event) {
                    case XMLStreamConstants.START_ELEMENT, XMLStreamConstants.END_ELEMENT -> {
                        return event;
                    }
                    case XMLStreamConstants.CHARACTERS, XMLStreamConstants.CDATA, XMLStreamConstants.SPACE -> {
                        if (!reader.getText().isBlank()) {
                            throw new XmlRpcException("unexpected text '" + abbreviate(reader.getText()) + "'");
                        }
                    }
                    case XMLStreamConstants.END_DOCUMENT -> throw new XmlRpcException("the document ends too early");
                    default -> throw new XmlRpcException("unexpected XML event " + event);
                }
            }
        }

        private void expectStart(String name) throws XMLStreamException, XmlRpcException {
            if (nextTag() != XMLStreamConstants.START_ELEMENT) {
                throw new XmlRpcException("expected <" + name + ">, found </" + reader.getLocalName() + ">");
            }
            requireName(name);
        }

        private void expectEnd(String name) throws XMLStreamException, XmlRpcException {
            if (nextTag() != XMLStreamConstants.END_ELEMENT) {
                throw new XmlRpcException("expected </" + name + ">, found <" + reader.getLocalName() + ">");
            }
            requireName(name);
        }

        private void requireName(String name) throws XmlRpcException {
            if (!name.equals(reader.getLocalName())) {
                throw new XmlRpcException("expected <" + name + ">, found <" + reader.getLocalName() + ">");
            }
        }
    }

    private static Object integer(String text) throws XmlRpcException {
        String digits = text.strip();
        try {
            long value = Long.parseLong(digits.startsWith("+") ? digits.substring(1) : digits);
            if (value == (int) value) {
                return (int) value;
            }
            return value;
        } catch (NumberFormatException e) {
            throw new XmlRpcException("not an integer: '" + abbreviate(digits) + "'");
        }
    }

    private static Double decimal(String text) throws XmlRpcException {
        try {
            return Double.valueOf(text.strip());
        } catch (NumberFormatException e) {
            throw new XmlRpcException("not a double: '" + abbreviate(text.strip()) + "'");
        }
    }

    private static Boolean bool(String text) throws XmlRpcException {
        return switch (text.strip()) {
            case "1" -> Boolean.TRUE;
            case "0" -> Boolean.FALSE;
            default -> throw new XmlRpcException("not a boolean (0 or 1): '" + abbreviate(text.strip()) + "'");
        };
    }

    private static byte[] base64(String text) throws XmlRpcException {
        try {
            return Base64.getMimeDecoder().decode(text.strip());
        } catch (IllegalArgumentException e) {
            throw new XmlRpcException("bad base64: " + e.getMessage());
        }
    }

    private static LocalDateTime dateTime(String text) throws XmlRpcException {
        String value = text.strip();
        try {
            return value.contains("-") ? LocalDateTime.parse(value.replace(' ', 'T')) : LocalDateTime.parse(value, ISO_BASIC);
        } catch (DateTimeParseException e) {
            throw new XmlRpcException("not a dateTime.iso8601: '" + abbreviate(value) + "'");
        }
    }

    private static String abbreviate(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }

    /** A {@code methodResponse} carrying {@code value}. */
    public static byte[] response(Object value) {
        StringBuilder xml = new StringBuilder(256).append("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n");
        write(xml, value, 0);
        return xml.append("</param>\n</params>\n</methodResponse>\n").toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A fault {@code methodResponse}: Odoo's codes are 1 application error, 2 warning, 3 access denied, 4 access error. */
    public static byte[] fault(int code, String message) {
        StringBuilder xml = new StringBuilder(256).append("<?xml version='1.0'?>\n<methodResponse>\n<fault>\n");
        Map<String, Object> fault = new LinkedHashMap<>();
        fault.put("faultCode", code);
        fault.put("faultString", message);
        write(xml, fault, 0);
        return xml.append("</fault>\n</methodResponse>\n").toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void write(StringBuilder xml, Object value, int depth) {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException("value nested deeper than " + MAX_DEPTH);
        }
        xml.append("<value>");
        switch (value) {
            case null -> xml.append("<nil/>");
            case Boolean b -> xml.append("<boolean>").append(b ? '1' : '0').append("</boolean>");
            case Integer i -> xml.append("<int>").append(i).append("</int>");
            case Short s -> xml.append("<int>").append(s).append("</int>");
            case Byte b -> xml.append("<int>").append(b).append("</int>");
            case Long l when l == l.intValue() -> xml.append("<int>").append(l).append("</int>");
            case Long l -> xml.append("<i8>").append(l).append("</i8>");
            case BigInteger b -> xml.append("<i8>").append(b.longValueExact()).append("</i8>");
            case Double d -> xml.append("<double>").append(pythonFloat(d)).append("</double>");
            case Float f -> xml.append("<double>").append(pythonFloat(f.doubleValue())).append("</double>");
            case BigDecimal d -> xml.append("<double>").append(pythonFloat(d.doubleValue())).append("</double>");
            case String s -> string(xml, s);
            case Character c -> string(xml, c.toString());
            case Enum<?> e -> string(xml, e.name());
            case byte[] bytes -> string(xml, new String(bytes, StandardCharsets.UTF_8));
            case Binary binary -> xml.append("<base64>").append(Base64.getEncoder().encodeToString(binary.data()))
                    .append("</base64>");
            case LocalDateTime t -> string(xml, ODOO_DATETIME.format(t));
            case LocalDate d -> string(xml, d.toString());
            case Instant t -> string(xml, ODOO_DATETIME.format(t.atOffset(ZoneOffset.UTC)));
            case OffsetDateTime t -> string(xml, ODOO_DATETIME.format(t.withOffsetSameInstant(ZoneOffset.UTC)));
            case ZonedDateTime t -> string(xml, ODOO_DATETIME.format(t.withZoneSameInstant(ZoneOffset.UTC)));
            case Map<?, ?> map -> {
                xml.append("<struct>");
                for (Map.Entry<?, ?> member : map.entrySet()) {
                    xml.append("<member><name>");
                    escape(xml, String.valueOf(member.getKey()));
                    xml.append("</name>");
                    write(xml, member.getValue(), depth + 1);
                    xml.append("</member>");
                }
                xml.append("</struct>");
            }
            case Collection<?> items -> {
                xml.append("<array><data>");
                for (Object item : items) {
                    write(xml, item, depth + 1);
                }
                xml.append("</data></array>");
            }
            case Object[] items -> write(xml, List.of(items), depth);
            default -> throw new IllegalArgumentException("cannot send a " + value.getClass().getName() + " over XML-RPC");
        }
        xml.append("</value>\n");
    }

    private static void string(StringBuilder xml, String s) {
        xml.append("<string>");
        escape(xml, s);
        xml.append("</string>");
    }

    /** Python's repr of a float: what its xmlrpc.client writes and reads back. */
    private static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        return Double.toString(d);
    }

    /** Escapes markup and drops what XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF). */
    static void escape(StringBuilder xml, String text) {
        for (int i = 0; i < text.length(); ) {
            int c = text.codePointAt(i);
            i += Character.charCount(c);
            switch (c) {
                case '&' -> xml.append("&amp;");
                case '<' -> xml.append("&lt;");
                case '>' -> xml.append("&gt;");
                case '\r' -> xml.append("&#13;");
                default -> {
                    boolean allowed = c == '\t' || c == '\n' || (c >= 0x20 && c <= 0xD7FF)
                            || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
                    if (allowed) {
                        xml.appendCodePoint(c);
                    }
                }
            }
        }
    }
}
