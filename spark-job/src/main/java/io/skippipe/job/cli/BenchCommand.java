package io.skippipe.job.cli;

import io.skippipe.job.bench.DataBench;
import io.skippipe.job.bench.E2eBench;
import io.skippipe.job.bench.ScaleBench;
import io.skippipe.job.bench.TransferBench;
import io.skippipe.model.bench.ConvergenceBench;
import io.skippipe.model.bench.StageThroughputBench;
import picocli.CommandLine.Command;

/**
 * {@code bin/skippipe bench NAME}: the benchmarks. Each is a picocli command class of the module it
 * measures; registering one here makes it {@code bin/skippipe bench NAME}. Results go to
 * docs/BENCHMARKS.md with the command that produced them.
 */
@Command(name = "bench", description = "Benchmarks; each prints text, or one JSON object with --json.",
    synopsisSubcommandLabel = "NAME",
    subcommands = {
        StageThroughputBench.class,
        ConvergenceBench.class,
        E2eBench.class,
        DataBench.class,
        TransferBench.class,
        ScaleBench.class,
    })
final class BenchCommand {}
