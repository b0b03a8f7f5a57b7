package io.skippipe.scheduler.route;

import java.util.List;

/**
 * The forward node sequence of a microbatch, starting at its data node. The return to the data
 * node (loss, then the backward along the reversed sequence) is implicit.
 */
public record Path(List<Integer> nodes) {
  public Path {
    if (nodes == null || nodes.isEmpty()) {
      throw new IllegalArgumentException("a path needs at least its data node");
    }
    nodes = List.copyOf(nodes);
  }

  public static Path of(int... nodes) {
    Integer[] boxed = new Integer[nodes.length];
    for (int i = 0; i < nodes.length; i++) {
      boxed[i] = nodes[i];
    }
    return new Path(List.of(boxed));
  }

  public int length() {
    return nodes.size();
  }

  public int node(int i) {
    return nodes.get(i);
  }

  public int dataNode() {
    return nodes.get(0);
  }

  public int[] toArray() {
    return nodes.stream().mapToInt(Integer::intValue).toArray();
  }
}
