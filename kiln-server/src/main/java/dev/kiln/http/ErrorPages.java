package dev.kiln.http;

import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpStatus;

/**
 * The short HTML bodies of error responses. The stack trace appears only in debug mode, escaped;
 * otherwise it stays in the log.
 */
final class ErrorPages {

    private ErrorPages() { }

    static String reason(int status) {
        if (status == 500) {
            return "Internal Server Error";
        }
        String reason = HttpStatus.getMessage(status);
        return reason == null ? "Error" : reason;
    }

    static byte[] page(int status, String message, String trace) {
        String reason = reason(status);
        StringBuilder html = new StringBuilder(256)
                .append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
                .append(status).append(' ').append(escape(reason))
                .append("</title></head><body><h1>").append(escape(reason)).append("</h1>");
        if (message != null && !message.isEmpty() && !message.equals(reason)) {
            html.append("<p>").append(escape(message)).append("</p>");
        }
        if (trace != null) {
            html.append("<pre>").append(escape(trace)).append("</pre>");
        }
        return html.append("</body></html>\n").toString().getBytes(StandardCharsets.UTF_8);
    }

    static String escape(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            String entity = switch (c) {
                case '<' -> "&lt;";
                case '>' -> "&gt;";
                case '&' -> "&amp;";
                case '"' -> "&quot;";
                case '\'' -> "&#39;";
                default -> null;
            };
            if (entity != null && out == null) {
                out = new StringBuilder(text.length() + 16).append(text, 0, i);
            }
            if (out != null) {
                if (entity != null) out.append(entity); else out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }
}
