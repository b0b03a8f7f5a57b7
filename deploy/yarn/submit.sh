#!/usr/bin/env bash
# Submits a SkipPipe training run to YARN in cluster mode: one GPU executor per SkipPipe node, the
# driver in the ApplicationMaster, training text read from HDFS and the run directory (plan.json,
# checkpoints, metrics, traces) written to HDFS.
#
# Prerequisites (docs/OPERATIONS.md): Spark 4.2 / Java 17 on the gateway host, YARN with GPU scheduling
# (yarn.io/gpu) and GPU isolation, the executors' DJL CUDA natives available offline, and
#   mvn -B package -DskipTests   ->   spark-job/target/skippipe-spark-job-0.1.0-SNAPSHOT-dist.jar
# copied to HDFS once (spark-submit would otherwise upload the 130 MB jar with every submit):
#   hdfs dfs -mkdir -p /apps/skippipe && hdfs dfs -put -f \
#     spark-job/target/skippipe-spark-job-0.1.0-SNAPSHOT-dist.jar /apps/skippipe/
#
# Usage: deploy/yarn/submit.sh RUN_NAME [extra spark-submit args...]
# Resubmitting with the same RUN_NAME resumes from the newest committed checkpoint of that run.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_NAME="${1:?usage: submit.sh RUN_NAME [extra spark-submit args...]}"
shift

JAR="${SKIPPIPE_JAR:-hdfs:///apps/skippipe/skippipe-spark-job-0.1.0-SNAPSHOT-dist.jar}"
INPUT="${SKIPPIPE_INPUT:-hdfs:///data/corpus/train.jsonl}"       # text, JSON lines or Parquet
RUN_DIR="${SKIPPIPE_RUN_DIR:-hdfs:///skippipe/runs/$RUN_NAME}"   # stable per run: resume finds it
NODES="${SKIPPIPE_NODES:-20}"                                     # executors = SkipPipe nodes

# spark-defaults.conf from this repo (one task per executor, barrier timeouts, Kryo, GPUs, DJL, metrics)
# is passed explicitly so a gateway's own defaults do not silently change those settings.
exec spark-submit \
  --master yarn \
  --deploy-mode cluster \
  --name "skippipe-$RUN_NAME" \
  --queue "${SKIPPIPE_QUEUE:-default}" \
  --properties-file "$HERE/../spark-defaults.conf" \
  --class io.skippipe.job.SkipPipeJob \
  `# one executor per node; each holds one stage and one GPU (yarn.io/gpu through the resource amount)` \
  --num-executors "$NODES" \
  --conf spark.executor.instances="$NODES" \
  --conf spark.default.parallelism="$NODES" \
  --conf spark.executor.resource.gpu.amount=1 \
  --conf spark.task.resource.gpu.amount=1 \
  `# the discovery script is shipped to every container and run from its working directory` \
  --files "$HERE/../kubernetes/getGpusResources.sh" \
  --conf spark.executor.resource.gpu.discoveryScript=./getGpusResources.sh \
  `# a lost driver (ApplicationMaster) gets one more attempt, which resumes from the newest commit` \
  --conf spark.yarn.maxAppAttempts=2 \
  `# job settings (conf/skippipe-defaults.properties lists them all)` \
  --conf spark.skippipe.run.dir="$RUN_DIR" \
  --conf spark.skippipe.data.input="$INPUT" \
  --conf spark.skippipe.data.format=auto \
  --conf spark.skippipe.model=llama-500m \
  --conf spark.skippipe.cluster=geo-distributed-gcp-20 \
  --conf spark.skippipe.network.mode=probe \
  --conf spark.skippipe.plan.skipRatio=0.33 \
  --conf spark.skippipe.train.iterations=2000 \
  --conf spark.skippipe.train.chunkIterations=50 \
  --conf spark.skippipe.checkpoint.resume=true \
  "$@" \
  "$JAR"
