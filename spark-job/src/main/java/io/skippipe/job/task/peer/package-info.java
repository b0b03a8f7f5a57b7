/**
 * How do I talk to peers: {@link io.skippipe.job.task.peer.Rendezvous} (the {@code allGather} of
 * every slot's {@link io.skippipe.job.task.peer.SlotAddress}, per chunk attempt, and the probe
 * rendezvous), and {@link io.skippipe.job.task.peer.NetworkProbe} (all-pairs latency and bandwidth
 * over the block transfer). The transfer itself is {@code io.skippipe.job.transfer}.
 */
package io.skippipe.job.task.peer;
