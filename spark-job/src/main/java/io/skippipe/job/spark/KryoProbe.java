package io.skippipe.job.spark;

import java.io.Serializable;

/** A tiny record used to check Kryo + records end to end (tests and the CLI's self-check). */
public record KryoProbe(int id, String name, long[] values) implements Serializable {}
