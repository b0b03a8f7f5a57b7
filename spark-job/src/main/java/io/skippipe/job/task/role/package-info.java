/**
 * Who am I in this chunk: {@link io.skippipe.job.task.role.ExecutorSlots} (an executor's slots and
 * the stage each holds between chunk attempts), {@link io.skippipe.job.task.role.SlotStatus} (what
 * a slot says at the chunk's rendezvous) and {@link io.skippipe.job.task.role.Roles} (plan nodes
 * onto slots, the resume step, each node's state source, stage recovery).
 */
package io.skippipe.job.task.role;
