package io.skippipe.job.task.peer;

import java.io.Serializable;

/**
 * What one rendezvous task returns to the driver: its block server's address and, when the
 * all-pairs probe ran, its row of measurements (null otherwise).
 */
public record RendezvousRow(SlotAddress address, ProbeRow probe) implements Serializable {}
