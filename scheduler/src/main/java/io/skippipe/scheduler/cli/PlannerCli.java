package io.skippipe.scheduler.cli;

import java.io.PrintStream;

/** Planner commands of bin/skippipe: plan, simulate, compare, timeline. (Being built under issue 2.) */
public final class PlannerCli {
  private PlannerCli() {}

  /** Runs one planner command; {@code args[0]} is the command name. Returns the exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    err.println("skippipe " + args[0] + ": not implemented yet");
    return 1;
  }
}
