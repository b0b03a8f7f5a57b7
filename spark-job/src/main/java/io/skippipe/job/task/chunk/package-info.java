/**
 * How does a chunk run: {@link io.skippipe.job.task.chunk.ChunkJob} submits an attempt as one
 * barrier job described by a {@link io.skippipe.job.task.chunk.ChunkSpec}; each task runs
 * {@link io.skippipe.job.task.chunk.StageTask} (rendezvous, roles, stage, iterations, checkpoint)
 * with the per-node engine {@link io.skippipe.job.task.chunk.ScheduleFollower}, data from
 * {@link io.skippipe.job.task.chunk.ShardSource}, lost stages rebuilt by
 * {@link io.skippipe.job.task.chunk.StageRecovery}, and reports a
 * {@link io.skippipe.job.task.chunk.ChunkResult}.
 */
package io.skippipe.job.task.chunk;
