package io.skippipe.scheduler.route;

/**
 * A CBS agent: one path slot of a data node (spec §4.1). Slot k of data node d is released at
 * {@code k·w[d]} (the data node computes its slots' forwards back to back); every microbatch of
 * the data node with index m uses the path of slot {@code m mod slots}.
 */
public record Agent(int index, int dataNode, int slot, long releaseMicros) {}
