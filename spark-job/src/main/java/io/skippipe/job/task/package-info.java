/**
 * What runs inside the executors, laid out by the question a reader asks:
 *
 * <ul>
 *   <li>{@link io.skippipe.job.task.role} — who am I in this chunk: the slots an executor keeps
 *       between chunks (block server, cached stage) and the deterministic mapping of plan nodes
 *       onto the slots that met at the chunk's rendezvous, with where training resumes and how
 *       each node gets its stage ({@code Roles});
 *   <li>{@link io.skippipe.job.task.peer} — how do I talk to peers: the rendezvous ({@code
 *       allGather} of block-server addresses and certificate fingerprints), slot addresses and the
 *       all-pairs network probe;
 *   <li>{@link io.skippipe.job.task.chunk} — how does a chunk run: the barrier job, the task body
 *       ({@code StageTask}), the per-node iteration engine ({@code ScheduleFollower}), data shards,
 *       stage recovery, and what a node reports back.
 * </ul>
 */
package io.skippipe.job.task;
