package dev.kiln.http;

import dev.kiln.api.Response;

/**
 * The minimal login form Kiln serves at {@code /web/login} until a web client provides its own. It
 * carries a CSRF token that its POST must send back with the cookie of the same value, and may not
 * be framed by another site (Odoo's {@code X-Frame-Options} and CSP {@code frame-ancestors}).
 */
final class LoginPage {

    private LoginPage() { }

    static Response form(String db, String redirect, String error, String csrfToken) {
        StringBuilder html = new StringBuilder(512)
                .append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Log in</title></head><body>\n")
                .append("<form method=\"post\" action=\"/web/login\">\n");
        if (error != null) {
            html.append("<p role=\"alert\">").append(ErrorPages.escape(error)).append("</p>\n");
        }
        if (db != null) {
            html.append("<input type=\"hidden\" name=\"db\" value=\"").append(ErrorPages.escape(db)).append("\">\n");
        }
        html.append("<input type=\"hidden\" name=\"csrf_token\" value=\"").append(ErrorPages.escape(csrfToken)).append("\">\n")
                .append("<input type=\"hidden\" name=\"redirect\" value=\"").append(ErrorPages.escape(redirect)).append("\">\n")
                .append("<label>Login <input name=\"login\" autocomplete=\"username\" required autofocus></label>\n")
                .append("<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\n")
                .append("<button type=\"submit\">Log in</button>\n</form>\n</body></html>\n");
        return Response.html(html.toString()).header("Cache-Control", "no-store")
                .header("X-Frame-Options", "DENY").header("Content-Security-Policy", "frame-ancestors 'self'");
    }
}
