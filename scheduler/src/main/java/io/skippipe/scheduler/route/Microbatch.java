package io.skippipe.scheduler.route;

/**
 * A microbatch (the CBS "agent" once routed): injected at its data node no earlier than
 * {@code releaseMicros}, following {@code path}.
 */
public record Microbatch(int id, int dataNode, long releaseMicros, Path path) {
  public Microbatch {
    if (path.dataNode() != dataNode) {
      throw new IllegalArgumentException("microbatch " + id + " path " + path.nodes()
          + " does not start at its data node " + dataNode);
    }
  }
}
