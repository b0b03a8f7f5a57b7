package io.skippipe.job.testing;

import java.io.File;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URL;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A real S3 endpoint for tests: {@code python3 -m moto.server} on 127.0.0.1 (stack-probe §5.3),
 * started by the test, with the S3A keys that reach it.
 */
public final class MotoS3 implements AutoCloseable {
  private final Process process;
  private final int port;

  private MotoS3(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** Starts moto and waits until it answers (about 2 s). */
  public static MotoS3 start() throws IOException, InterruptedException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    File log = new File("target/moto-" + port + ".log");
    Process p = new ProcessBuilder("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p",
        "" + port).redirectErrorStream(true).redirectOutput(log).start();
    MotoS3 moto = new MotoS3(p, port);
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IOException("moto.server exited with " + p.exitValue() + "; see " + log);
      }
      try {
        HttpURLConnection c = (HttpURLConnection) new URL(moto.endpoint() + "/").openConnection();
        c.setConnectTimeout(500);
        c.getResponseCode();
        return moto;
      } catch (IOException notYet) {
        Thread.sleep(100);
      }
    }
    moto.close();
    throw new IOException("moto.server did not answer on port " + port + " within 30 s");
  }

  public String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  /** Creates a bucket with a plain HTTP PUT. */
  public void createBucket(String bucket) throws IOException {
    HttpURLConnection c = (HttpURLConnection) new URL(endpoint() + "/" + bucket).openConnection();
    c.setRequestMethod("PUT");
    int code = c.getResponseCode();
    if (code != 200) {
      throw new IOException("PUT /" + bucket + " returned " + code);
    }
  }

  /** The Hadoop keys for S3A against this endpoint (also usable as spark.hadoop.* keys). */
  public Map<String, String> hadoopConf() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("fs.s3a.endpoint", endpoint());
    m.put("fs.s3a.endpoint.region", "us-east-1");
    m.put("fs.s3a.path.style.access", "true");
    m.put("fs.s3a.connection.ssl.enabled", "false");
    m.put("fs.s3a.aws.credentials.provider",
        "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
    m.put("fs.s3a.access.key", "testing");
    m.put("fs.s3a.secret.key", "testing");
    return m;
  }

  @Override
  public void close() {
    process.destroy();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
