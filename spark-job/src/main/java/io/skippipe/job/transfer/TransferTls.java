package io.skippipe.job.transfer;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.math.BigInteger;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Date;
import java.util.HexFormat;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * One block server's TLS identity: an EC P-256 key pair created when the server starts and a
 * self-signed certificate for it, pinned by its SHA-256 fingerprint.
 *
 * <p>Why pinning, and why per slot: no key or secret ever has to be distributed. The private key
 * never leaves the JVM that made it; the fingerprint is public and travels in the rendezvous
 * {@code allGather} next to the server's address, and every peer accepts exactly the fingerprints
 * published there. Both ends present a certificate (mutual TLS):
 * <ul>
 *   <li>the client's trust manager accepts only the fingerprints of the session's nodes, and the
 *       session checks right after the TLS handshake that the server's is the one published by the
 *       node it dialled, before it answers the HMAC challenge;
 *   <li>the server cannot know at TLS time who is calling (a peer may dial before this node opened
 *       its session), so its trust manager only requires a certificate; the server binds it after
 *       the HMAC hello: the certificate must be the one published by the node the hello names,
 *       else the connection is closed before a single frame is read.
 * </ul>
 * TLS 1.3 is used where the provider offers it (the JDK 17 and OpenSSL providers both do), else
 * TLS 1.2. Netty picks OpenSSL (netty-tcnative, shipped with Spark) when it loads, the JDK's
 * provider otherwise.
 */
public final class TransferTls {
  private static final String PROTOCOL = SslProvider.isTlsv13Supported(
      SslContext.defaultServerProvider()) ? "TLSv1.3" : "TLSv1.2";

  private final KeyPair keys;
  private final X509Certificate certificate;
  private final String certSha256;
  private final SslContext server;

  private TransferTls(KeyPair keys, X509Certificate certificate) throws SSLException {
    this.keys = keys;
    this.certificate = certificate;
    this.certSha256 = sha256(certificate);
    this.server = SslContextBuilder.forServer(keys.getPrivate(), certificate)
        .trustManager(new PinnedTrustManager(null))
        .clientAuth(ClientAuth.REQUIRE)
        .protocols(PROTOCOL)
        .build();
  }

  /** A fresh key pair and self-signed certificate (a few milliseconds). */
  public static TransferTls generate() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
      KeyPair keys = g.generateKeyPair();
      X500Name name = new X500Name("CN=skippipe-block-server");
      long now = System.currentTimeMillis();
      BigInteger serial = new BigInteger(63, new SecureRandom());
      // validity is not what makes the certificate trusted (the pin is); a wide window only keeps
      // peers with skewed clocks from tripping over it
      JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial,
          new Date(now - 86_400_000L), new Date(now + 3650L * 86_400_000L), name,
          keys.getPublic());
      X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
      return new TransferTls(keys, cert);
    } catch (GeneralSecurityException | OperatorCreationException | SSLException e) {
      throw new IllegalStateException("cannot create the block server's TLS certificate: " + e,
          e);
    }
  }

  /** Lower-case hex SHA-256 of the certificate's DER encoding: what peers pin. */
  public String certSha256() {
    return certSha256;
  }

  /** The TLS protocol version in use ({@code TLSv1.3} where available). */
  public static String protocol() {
    return PROTOCOL;
  }

  /** Which TLS implementation Netty uses here ({@code OPENSSL} or {@code JDK}). */
  public static String provider() {
    return SslContext.defaultServerProvider().name();
  }

  SslContext serverContext() {
    return server;
  }

  /** A client context that trusts exactly the {@code pinned} fingerprints (one session's). */
  SslContext clientContext(Set<String> pinned) {
    try {
      return SslContextBuilder.forClient()
          .keyManager(keys.getPrivate(), certificate)
          .trustManager(new PinnedTrustManager(Set.copyOf(pinned)))
          .endpointIdentificationAlgorithm(null) // identity is the pin, not a host name
          .protocols(PROTOCOL)
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot build the block transfer's TLS client: " + e, e);
    }
  }

  /** The SHA-256 fingerprint of a certificate, lower-case hex. */
  static String sha256(Certificate c) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(c.getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  /**
   * Accepts a peer certificate whose fingerprint is pinned; with {@code pinned == null} any
   * certificate (the caller binds it to a node afterwards, see the class comment).
   */
  private static final class PinnedTrustManager extends X509ExtendedTrustManager {
    private final Set<String> pinned;

    PinnedTrustManager(Set<String> pinned) {
      this.pinned = pinned;
    }

    private void check(X509Certificate[] chain) throws CertificateException {
      if (chain == null || chain.length == 0) {
        throw new CertificateException("the peer presented no certificate");
      }
      if (pinned != null && !pinned.contains(sha256(chain[0]))) {
        throw new CertificateException("certificate sha256 " + sha256(chain[0]) + " is not one"
            + " published at this run's rendezvous");
      }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
