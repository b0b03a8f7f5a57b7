package io.skippipe.job.spark;

import io.skippipe.model.weights.FolderOutput;
import io.skippipe.model.weights.HfFolder;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Hugging Face model folders on any Hadoop file system (a local path, file://, hdfs://, s3a://):
 * read as an {@link HfFolder}, written through a {@link FolderOutput}, listed.
 */
public final class HadoopFolders {
  private HadoopFolders() {}

  /**
   * The Hugging Face folder at {@code uri}.
   *
   * @throws IllegalArgumentException when it holds no config.json or no weights (see {@link
   *     HfFolder#open})
   */
  public static HfFolder read(String uri, Configuration conf) throws IOException {
    Path dir = new Path(HadoopConfs.toUri(uri));
    FileSystem fs = dir.getFileSystem(conf);
    return HfFolder.open(uri, new HfFolder.Files() {
      @Override
      public boolean exists(String name) throws IOException {
        return fs.isFile(new Path(dir, name));
      }

      @Override
      public InputStream open(String name) throws IOException {
        return fs.open(new Path(dir, name));
      }
    });
  }

  /**
   * A folder to write at {@code uri}, created if needed. A local one ({@code file://} or a path)
   * is written with {@link FolderOutput#local} (whole files moved into place, and no Hadoop
   * {@code .crc} side files, which would confuse Hugging Face's loaders); elsewhere each file is
   * created through the Hadoop file system (S3A uploads it in parts and makes it visible when it
   * closes; on HDFS a file being written is visible under its name, so read the folder once the
   * writer has finished).
   *
   * @throws IllegalArgumentException when {@code uri} names an existing file
   */
  public static FolderOutput output(String uri, Configuration conf) throws IOException {
    URI u = HadoopConfs.toUri(uri);
    if ("file".equals(u.getScheme())) {
      if (java.nio.file.Files.isRegularFile(Paths.get(u))) {
        throw new IllegalArgumentException(uri + " is a file; give a folder to write the model"
            + " into");
      }
      return FolderOutput.local(Paths.get(u));
    }
    Path dir = new Path(u);
    FileSystem fs = dir.getFileSystem(conf);
    if (fs.isFile(dir)) {
      throw new IllegalArgumentException(uri + " is a file; give a folder to write the model"
          + " into");
    }
    fs.mkdirs(dir);
    return name -> fs.create(new Path(dir, name), true);
  }

  /** The names of the files directly in the folder {@code uri}, sorted; hidden ones left out. */
  public static List<String> list(String uri, Configuration conf) throws IOException {
    Path dir = new Path(HadoopConfs.toUri(uri));
    List<String> names = new ArrayList<>();
    for (FileStatus f : dir.getFileSystem(conf).listStatus(dir)) {
      String n = f.getPath().getName();
      if (f.isFile() && !n.startsWith(".") && !n.startsWith("_")) {
        names.add(n);
      }
    }
    names.sort(null);
    return names;
  }
}
