package io.skippipe.scheduler.profile;

import com.fasterxml.jackson.databind.JsonNode;
import io.skippipe.scheduler.plan.PlanningException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Resolves a cluster or model argument: a preset name ({@code conf/clusters/NAME.json},
 * {@code conf/models/NAME.json}) or a path to a JSON file. The conf directory is found through the
 * system property {@code skippipe.home} (set by bin/skippipe), then {@code skippipe.repo.root}
 * (set by surefire), then the classpath ({@code /conf/...}, bundled in the scheduler jar so that
 * presets work from the application jar under spark-submit).
 */
public final class Presets {
  private Presets() {}

  /** Loads a cluster profile by preset name or path. */
  public static ClusterProfile cluster(String nameOrPath) {
    return ProfileJson.cluster(load("clusters", nameOrPath), nameOrPath);
  }

  /** Loads a model spec by preset name or path. */
  public static ModelSpec model(String nameOrPath) {
    return ProfileJson.model(load("models", nameOrPath), nameOrPath);
  }

  /** Names of the shipped presets of one kind ("clusters" or "models"), sorted. */
  public static List<String> names(String kind) {
    TreeSet<String> names = new TreeSet<>();
    Path dir = confDir();
    if (dir != null && Files.isDirectory(dir.resolve(kind))) {
      try (var files = Files.list(dir.resolve(kind))) {
        files.map(f -> f.getFileName().toString()).filter(f -> f.endsWith(".json"))
            .forEach(f -> names.add(f.substring(0, f.length() - 5)));
      } catch (IOException e) {
        // fall through to the classpath index
      }
    }
    try (InputStream in = Presets.class.getResourceAsStream("/conf/" + kind + "/index.txt")) {
      if (in != null) {
        for (String line : new String(in.readAllBytes()).split("\n")) {
          if (!line.isBlank()) {
            names.add(line.trim());
          }
        }
      }
    } catch (IOException e) {
      // no index: only the directory listing
    }
    return new ArrayList<>(names);
  }

  private static JsonNode load(String kind, String nameOrPath) {
    if (nameOrPath == null || nameOrPath.isBlank()) {
      throw PlanningException.of("empty " + kind + " argument", "a preset name or a path is needed",
          "pass one of " + names(kind) + " or a path to a JSON file");
    }
    Path dir = confDir();
    if (dir != null) {
      Path preset = dir.resolve(kind).resolve(nameOrPath + ".json");
      if (Files.isRegularFile(preset)) {
        return readFile(preset, nameOrPath);
      }
    }
    if (!nameOrPath.contains("/") && !nameOrPath.endsWith(".json")) {
      try (InputStream in =
          Presets.class.getResourceAsStream("/conf/" + kind + "/" + nameOrPath + ".json")) {
        if (in != null) {
          return ProfileJson.MAPPER.readTree(in);
        }
      } catch (IOException e) {
        throw new PlanningException("preset " + nameOrPath + " could not be read: " + e, e);
      }
    }
    Path file = Path.of(nameOrPath);
    if (Files.isRegularFile(file)) {
      return readFile(file, nameOrPath);
    }
    throw PlanningException.of("unknown " + kind.substring(0, kind.length() - 1) + " '"
            + nameOrPath + "'", "it is neither a preset name nor an existing JSON file",
        "use one of the presets " + names(kind) + " or give a path to a JSON file");
  }

  private static JsonNode readFile(Path file, String label) {
    try {
      return ProfileJson.MAPPER.readTree(file.toFile());
    } catch (IOException e) {
      throw PlanningException.of("file " + file + " (" + label + ")",
          "must be valid JSON: " + e.getMessage().split("\n")[0], "fix the JSON syntax");
    }
  }

  /** The conf directory, or null when neither system property is set. */
  public static Path confDir() {
    for (String prop : new String[] {"skippipe.home", "skippipe.repo.root"}) {
      String v = System.getProperty(prop);
      if (v != null && !v.isBlank() && Files.isDirectory(Path.of(v, "conf"))) {
        return Path.of(v, "conf");
      }
    }
    return null;
  }
}
