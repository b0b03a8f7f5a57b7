package io.skippipe.job.transfer;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The HMAC-SHA256 challenge that opens every block connection, before any frame is accepted (over
 * TLS when encryption is on, after the TLS handshake).
 *
 * <p>Server → client: {@link #CHALLENGE_BYTES} = magic {@code SKPB} + 32-byte nonce. Client →
 * server: {@link #ANSWER_BYTES} = magic, run (i64), from node (i32), to node (i32),
 * HMAC-SHA256(secret, nonce ‖ run ‖ from ‖ to). Server → client: the byte {@link #ACCEPT} once
 * the MAC verifies (and, with TLS, the client's certificate is the one its node published);
 * otherwise it closes the connection without a reply. Every message has a fixed size, so nothing
 * is sized by the peer before it authenticated. The nonce makes a recorded answer useless on
 * another connection.
 */
final class Handshake {
  static final int MAGIC = 0x534B5042; // "SKPB"
  static final int CHALLENGE_BYTES = 4 + 32;
  static final int ANSWER_BYTES = 4 + 8 + 4 + 4 + 32;
  static final byte ACCEPT = 1;
  private static final SecureRandom RANDOM = new SecureRandom();

  private Handshake() {}

  /** Identity a client proved: which session and which sender. */
  record Hello(long run, int from, int to) {}

  /** A fresh challenge: magic and nonce. */
  static byte[] challenge() {
    byte[] c = new byte[CHALLENGE_BYTES];
    ByteBuffer.wrap(c).putInt(MAGIC);
    byte[] nonce = new byte[32];
    RANDOM.nextBytes(nonce);
    System.arraycopy(nonce, 0, c, 4, 32);
    return c;
  }

  /** The client's answer to {@code challenge}; throws when it is not a block server's. */
  static byte[] answer(byte[] secret, byte[] challenge, Hello hello) throws IOException {
    ByteBuffer c = ByteBuffer.wrap(challenge);
    int magic = c.getInt();
    if (magic != MAGIC) {
      throw new IOException("peer is not a block server (first bytes 0x"
          + Integer.toHexString(magic) + ")");
    }
    ByteBuffer a = ByteBuffer.allocate(ANSWER_BYTES);
    a.putInt(MAGIC).putLong(hello.run()).putInt(hello.from()).putInt(hello.to());
    a.put(mac(secret, challenge, hello.run(), hello.from(), hello.to()));
    return a.array();
  }

  /** Server side: the identity an answer proves, or an exception when it does not verify. */
  static Hello verify(byte[] secret, byte[] challenge, byte[] answer) throws IOException {
    ByteBuffer a = ByteBuffer.wrap(answer);
    int magic = a.getInt();
    if (magic != MAGIC) {
      throw new IOException("not a block-transfer client (first bytes 0x"
          + Integer.toHexString(magic) + ")");
    }
    long run = a.getLong();
    int from = a.getInt();
    int to = a.getInt();
    byte[] got = new byte[32];
    a.get(got);
    if (!MessageDigest.isEqual(got, mac(secret, challenge, run, from, to))) {
      throw new IOException("HMAC challenge failed for a client claiming to be node " + from
          + " (wrong spark.skippipe.run.secret or a foreign client)");
    }
    return new Hello(run, from, to);
  }

  private static byte[] mac(byte[] secret, byte[] challenge, long run, int from, int to) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update(challenge, 4, 32);
      mac.update(ByteBuffer.allocate(16).putLong(run).putInt(from).putInt(to).array());
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  /** Client side over plain streams (tests and hand-made peers). */
  static void connect(DataInputStream in, DataOutputStream out, byte[] secret, Hello hello)
      throws IOException {
    byte[] challenge = new byte[CHALLENGE_BYTES];
    in.readFully(challenge);
    out.write(answer(secret, challenge, hello));
    out.flush();
    int ok = in.read();
    if (ok != ACCEPT) {
      throw new IOException("block server rejected the handshake (different run secret?)");
    }
  }
}
