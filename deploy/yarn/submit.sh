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
#
# Environment (every variable is optional; the defaults are the production values):
#   HADOOP_CONF_DIR or YARN_CONF_DIR  the cluster's client configuration, as for any spark-submit to YARN
#   SKIPPIPE_SPARK_SUBMIT   the spark-submit to run (default: spark-submit on the PATH)
#   SKIPPIPE_JAR            the dist jar (default hdfs:///apps/skippipe/skippipe-spark-job-0.1.0-SNAPSHOT-dist.jar)
#   SKIPPIPE_INPUT          training data: text, JSON lines or Parquet (default hdfs:///data/corpus/train.jsonl)
#   SKIPPIPE_RUN_DIR        the run directory (default hdfs:///skippipe/runs/RUN_NAME)
#   SKIPPIPE_NODES          executors = SkipPipe nodes = the cluster profile's node count (default 20)
#   SKIPPIPE_MODEL          model preset or local JSON file (default llama-500m)
#   SKIPPIPE_CLUSTER        cluster profile preset or local JSON file (default geo-distributed-gcp-20)
#   SKIPPIPE_GPUS_PER_NODE  GPUs per executor and per task, 0 for CPU executors (default 1)
#   SKIPPIPE_QUEUE          YARN queue (default default)
# A model or cluster given as a local file is shipped to the driver's and executors' working directories
# (--files) and named there by its file name: in cluster mode the driver runs in a YARN container.
# Later --conf arguments win, so extra args may override any setting below or in spark-defaults.conf.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_NAME="${1:?usage: submit.sh RUN_NAME [extra spark-submit args...]}"
shift

SPARK_SUBMIT="${SKIPPIPE_SPARK_SUBMIT:-spark-submit}"
JAR="${SKIPPIPE_JAR:-hdfs:///apps/skippipe/skippipe-spark-job-0.1.0-SNAPSHOT-dist.jar}"
INPUT="${SKIPPIPE_INPUT:-hdfs:///data/corpus/train.jsonl}"       # text, JSON lines or Parquet
RUN_DIR="${SKIPPIPE_RUN_DIR:-hdfs:///skippipe/runs/$RUN_NAME}"   # stable per run: resume finds it
NODES="${SKIPPIPE_NODES:-20}"                                     # executors = SkipPipe nodes
MODEL="${SKIPPIPE_MODEL:-llama-500m}"
CLUSTER="${SKIPPIPE_CLUSTER:-geo-distributed-gcp-20}"
GPUS="${SKIPPIPE_GPUS_PER_NODE:-1}"

# The GPU discovery script, and the model/cluster JSON files given as local paths, go to every container.
FILES="$HERE/../kubernetes/getGpusResources.sh"
if [[ -f "$MODEL" ]]; then FILES+=",$MODEL"; MODEL="./$(basename "$MODEL")"; fi
if [[ -f "$CLUSTER" ]]; then FILES+=",$CLUSTER"; CLUSTER="./$(basename "$CLUSTER")"; fi

# spark-defaults.conf from this repo (one task per executor, barrier timeouts, Kryo, GPUs, DJL, metrics)
# is passed explicitly so a gateway's own defaults cannot silently change those settings; the gateway's
# $SPARK_HOME/conf/spark-defaults.conf still supplies what this file leaves open (spark.yarn.archive or
# spark.yarn.jars, spark.eventLog.dir, history server) through --load-spark-defaults.
exec "$SPARK_SUBMIT" \
  --master yarn \
  --deploy-mode cluster \
  --name "skippipe-$RUN_NAME" \
  --queue "${SKIPPIPE_QUEUE:-default}" \
  --properties-file "$HERE/../spark-defaults.conf" \
  --load-spark-defaults \
  --class io.skippipe.job.SkipPipeJob \
  `# one executor per node; each holds one stage and one GPU (yarn.io/gpu through the resource amount)` \
  --num-executors "$NODES" \
  --conf spark.executor.instances="$NODES" \
  --conf spark.default.parallelism="$NODES" \
  --conf spark.executor.resource.gpu.amount="$GPUS" \
  --conf spark.task.resource.gpu.amount="$GPUS" \
  `# the discovery script is shipped to every container and run from its working directory` \
  --files "$FILES" \
  --conf spark.executor.resource.gpu.discoveryScript=./getGpusResources.sh \
  `# a lost driver (ApplicationMaster) gets one more attempt, which resumes from the newest commit` \
  --conf spark.yarn.maxAppAttempts=2 \
  `# job settings (conf/skippipe-defaults.properties lists them all)` \
  --conf spark.skippipe.run.dir="$RUN_DIR" \
  --conf spark.skippipe.data.input="$INPUT" \
  --conf spark.skippipe.data.format=auto \
  --conf spark.skippipe.model="$MODEL" \
  --conf spark.skippipe.cluster="$CLUSTER" \
  --conf spark.skippipe.network.mode=probe \
  --conf spark.skippipe.plan.skipRatio=0.33 \
  --conf spark.skippipe.train.iterations=2000 \
  --conf spark.skippipe.train.chunkIterations=50 \
  --conf spark.skippipe.checkpoint.resume=true \
  "$@" \
  "$JAR"
