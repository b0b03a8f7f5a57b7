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
 * The HMAC-SHA256 challenge that opens every block connection, before any data is accepted.
 *
 * <p>Server → client: magic {@code SKPB} + 32-byte nonce. Client → server: magic, run (i64), from
 * node (i32), to node (i32), HMAC-SHA256(secret, nonce ‖ run ‖ from ‖ to). Server → client: one
 * byte {@code 1} when the MAC verifies; otherwise it closes the connection without a reply. The
 * nonce makes a recorded handshake useless on another connection.
 */
final class Handshake {
  static final int MAGIC = 0x534B5042; // "SKPB"
  private static final SecureRandom RANDOM = new SecureRandom();

  private Handshake() {}

  /** Identity a client proved: which session and which sender. */
  record Hello(long run, int from, int to) {}

  static byte[] mac(byte[] secret, byte[] nonce, long run, int from, int to) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update(nonce);
      mac.update(ByteBuffer.allocate(16).putLong(run).putInt(from).putInt(to).array());
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  /** Server side; returns the client's identity or throws when it does not authenticate. */
  static Hello serve(DataInputStream in, DataOutputStream out, byte[] secret) throws IOException {
    byte[] nonce = new byte[32];
    RANDOM.nextBytes(nonce);
    out.writeInt(MAGIC);
    out.write(nonce);
    out.flush();
    int magic = in.readInt();
    if (magic != MAGIC) {
      throw new IOException("not a block-transfer client (first bytes 0x" + Integer.toHexString(magic)
          + ")");
    }
    long run = in.readLong();
    int from = in.readInt();
    int to = in.readInt();
    byte[] got = new byte[32];
    in.readFully(got);
    if (!MessageDigest.isEqual(got, mac(secret, nonce, run, from, to))) {
      throw new IOException("HMAC challenge failed for a client claiming to be node " + from
          + " (wrong spark.skippipe.run.secret or a foreign client)");
    }
    out.writeByte(1);
    out.flush();
    return new Hello(run, from, to);
  }

  /** Client side: answers the challenge; throws when the server does not accept it. */
  static void connect(DataInputStream in, DataOutputStream out, byte[] secret, Hello hello)
      throws IOException {
    int magic = in.readInt();
    if (magic != MAGIC) {
      throw new IOException("peer is not a block server (first bytes 0x"
          + Integer.toHexString(magic) + ")");
    }
    byte[] nonce = new byte[32];
    in.readFully(nonce);
    out.writeInt(MAGIC);
    out.writeLong(hello.run());
    out.writeInt(hello.from());
    out.writeInt(hello.to());
    out.write(mac(secret, nonce, hello.run(), hello.from(), hello.to()));
    out.flush();
    int ok = in.read();
    if (ok != 1) {
      throw new IOException("block server rejected the handshake (different run secret?)");
    }
  }
}
