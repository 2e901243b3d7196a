package dev.kiln.auth;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PasswordsTest {

    @Test
    void aHashVerifiesItsPasswordOnlyAndIsSaltedAnew() {
        String hash = Passwords.hash("s3cret", 1000);
        assertThat(hash).startsWith("$pbkdf2-sha512$1000$");
        assertThat(Passwords.verify("s3cret", hash)).isTrue();
        assertThat(Passwords.verify("S3cret", hash)).isFalse();
        assertThat(Passwords.hash("s3cret", 1000)).isNotEqualTo(hash);
    }

    @Test
    void aHashInPasslibsFormatAsOdooWritesItVerifies() {
        // Python: hashlib.pbkdf2_hmac("sha512", b"admin", b"0123456789abcdef", 1000), written the way
        // passlib's pbkdf2_sha512 writes it (adapted base64: '.' for '+', no padding)
        String odoo = "$pbkdf2-sha512$1000$MDEyMzQ1Njc4OWFiY2RlZg$"
                + "VYpayuGgwzZdp432P4BiDOsz2R32OckUD4cZP0OnU/dRJDzvbA9NzD4JRchh6MOV7dGmpArYbuwTJVUOgj66DA";
        assertThat(Passwords.isHash(odoo)).isTrue();
        assertThat(Passwords.verify("admin", odoo)).isTrue();
        assertThat(Passwords.verify("admin2", odoo)).isFalse();
    }

    @Test
    void clearTextAndMalformedHashesNeverMatch() {
        assertThat(Passwords.isHash("admin")).isFalse();
        assertThat(Passwords.verify("admin", "admin")).isFalse();
        assertThat(Passwords.verify("admin", "$pbkdf2-sha512$x$y$z")).isFalse();
        assertThat(Passwords.verify(null, Passwords.hash("a", 1000))).isFalse();
    }

    @Test
    void newHashesGetOdoosWorkFactorUnlessATestSuiteAsksForLess() {
        assertThat(Passwords.rounds(null)).isEqualTo(600_000);
        assertThat(Passwords.rounds(" ")).isEqualTo(600_000);
        assertThat(Passwords.rounds("1000")).isEqualTo(1000);
        assertThatThrownBy(() -> Passwords.rounds("many")).hasMessageContaining("kiln.test.password-rounds");
        assertThatThrownBy(() -> Passwords.rounds("0")).hasMessageContaining("at least 1");
        // this suite's JVMs are started with the property (the build's kiln.test.jvm)
        assertThat(Passwords.hash("s3cret")).startsWith("$pbkdf2-sha512$" + Passwords.ROUNDS + "$");
    }
}
