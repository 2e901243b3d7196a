package dev.kiln.auth;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.concurrent.Semaphore;

import org.slf4j.LoggerFactory;

/**
 * Password hashes in passlib's {@code pbkdf2_sha512} format, the one Odoo writes for users and for
 * {@code admin_passwd}: {@code $pbkdf2-sha512$<rounds>$<salt>$<checksum>}, salt and checksum in
 * passlib's base64 ({@code .} for {@code +}, no padding). An {@code odoo.conf} master password hash
 * therefore works in Kiln as it is. PBKDF2-HMAC-SHA512 is the JDK's own.
 */
public final class Passwords {

    private static final String PREFIX = "$pbkdf2-sha512$";
    /** Odoo 17+'s default work factor, and the least its own setting may ask for. */
    static final int DEFAULT_ROUNDS = 600_000;
    /** The system property a test suite lowers the work factor with, as Odoo's own test cases do. */
    static final String TEST_ROUNDS_PROPERTY = "kiln.test.password-rounds";
    /**
     * The work factor of new hashes: {@link #DEFAULT_ROUNDS} unless a test suite asked for fewer
     * through {@link #TEST_ROUNDS_PROPERTY} (a hash already stored is always checked with its own).
     * A process told so says it once, as a warning: no production server has a reason to.
     */
    static final int ROUNDS = rounds(System.getProperty(TEST_ROUNDS_PROPERTY));

    static {
        if (ROUNDS < DEFAULT_ROUNDS) {
            LoggerFactory.getLogger(Passwords.class).warn("new password hashes get {} PBKDF2 rounds instead of {} ({}): "
                    + "for a test suite only", ROUNDS, DEFAULT_ROUNDS, TEST_ROUNDS_PROPERTY);
        }
    }
    private static final int SALT_BYTES = 16;
    private static final int KEY_BITS = 512;
    private static final SecureRandom RANDOM = new SecureRandom();

    private Passwords() { }

    static int rounds(String asked) {
        if (asked == null || asked.isBlank()) {
            return DEFAULT_ROUNDS;
        }
        int rounds;
        try {
            rounds = Integer.parseInt(asked.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(TEST_ROUNDS_PROPERTY + " is not a number: " + asked, e);
        }
        if (rounds < 1) {
            throw new IllegalArgumentException(TEST_ROUNDS_PROPERTY + " must be at least 1: " + asked);
        }
        return rounds;
    }

    /** A new hash of {@code password} with a random salt. */
    public static String hash(String password) {
        return hash(password, ROUNDS);
    }

    static String hash(String password, int rounds) {
        byte[] salt = new byte[SALT_BYTES];
        RANDOM.nextBytes(salt);
        return PREFIX + rounds + "$" + encode(salt) + "$" + encode(derive(password, salt, rounds));
    }

    /** SHA-256 of {@code password}, Base64: how a verified password is remembered without keeping it. */
    public static String digest(String password) {
        try {
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256")
                    .digest(password.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** True when {@code stored} is a hash in the format above (and not a clear-text password). */
    public static boolean isHash(String stored) {
        return stored != null && stored.startsWith(PREFIX) && stored.split("\\$").length == 5;
    }

    /**
     * Whether {@code password} matches {@code stored}. Takes the same time whatever the answer for a
     * given hash; a malformed hash never matches.
     */
    public static boolean verify(String password, String stored) {
        if (password == null || !isHash(stored)) {
            return false;
        }
        String[] parts = stored.split("\\$");
        try {
            int rounds = Integer.parseInt(parts[2]);
            byte[] salt = decode(parts[3]);
            byte[] expected = decode(parts[4]);
            return MessageDigest.isEqual(derive(password, salt, rounds), expected);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * PBKDF2 runs at most on half the cores at once: a flood of login attempts (each check costs
     * about half a second of CPU) queues here, and slows logins, instead of taking every core from
     * the requests being served.
     */
    private static final Semaphore CHECKS =
            new Semaphore(Math.max(1, Runtime.getRuntime().availableProcessors() / 2), true);

    private static byte[] derive(String password, byte[] salt, int rounds) {
        PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, rounds, KEY_BITS);
        CHECKS.acquireUninterruptibly();
        try {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA512").generateSecret(spec).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA512 is missing from this JDK", e);
        } finally {
            CHECKS.release();                 // acquired above
            spec.clearPassword();
        }
    }

    private static String encode(byte[] bytes) {
        return Base64.getEncoder().withoutPadding().encodeToString(bytes).replace('+', '.');
    }

    private static byte[] decode(String text) {
        return Base64.getDecoder().decode(text.replace('.', '+').getBytes(StandardCharsets.US_ASCII));
    }
}
