"""Airflow DAG: (optionally) plan, train a SkipPipe model on Spark, wait for its final commit.

Two variants of the same pipeline, one DAG each:

* ``skippipe_train_yarn``: SparkSubmitOperator -> YARN cluster mode (HDFS in/out);
* ``skippipe_train_k8s``: SparkKubernetesOperator -> the Spark operator's SparkApplication
  (deploy/kubernetes/sparkapplication.yaml, S3 in/out).

Retries resume, they do not restart: the run directory is derived from the DAG run (not from the try),
so a retried task resubmits the job with the same ``spark.skippipe.run.dir`` and the job continues from
the newest committed checkpoint it finds there (``spark.skippipe.checkpoint.resume=true``). The final
sensor waits for the ``_COMMITTED`` marker of the last step, which the driver writes only after every
stage's weights of that step are on storage: task success alone is not taken as proof of a model.

Requires apache-airflow>=2.7 with apache-airflow-providers-apache-spark (SparkSubmitOperator),
-cncf-kubernetes (SparkKubernetesOperator), -apache-hdfs (WebHdfsSensor) and -amazon (S3KeySensor).
Airflow is not installable on the project's build machine: this file is checked with
``python3 -m py_compile`` and by DeployArtifactsTest (jar name, main class, keys), never run there.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.providers.apache.hdfs.sensors.web_hdfs import WebHdfsSensor
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator

# --- What to run -------------------------------------------------------------------------------------
# The spark-submit jar (mvn -B package -DskipTests, then hdfs dfs -put to /apps/skippipe/).
SKIPPIPE_JAR = "hdfs:///apps/skippipe/skippipe-spark-job-0.1.0-SNAPSHOT-dist.jar"
MAIN_CLASS = "io.skippipe.job.SkipPipeJob"
# The same jar's command-line entry point (plan | simulate | compare ...), for the optional plan task.
CLI_CLASS = "io.skippipe.job.cli.SkipPipeCli"
# Plan on the Airflow worker first (a plan.json the training job then uses as is) or let the driver plan.
PLAN_FIRST = os.environ.get("SKIPPIPE_PLAN_FIRST", "true").lower() == "true"

MODEL = "llama-500m"
CLUSTER = "geo-distributed-gcp-20"
NODES = 20
ITERATIONS = 2000
CHUNK_ITERATIONS = 50

# One run directory per DAG run: every retry of that DAG run's tasks sees the same one, so it resumes.
HDFS_RUN_DIR = "hdfs:///skippipe/runs/{{ dag.dag_id }}-{{ ds_nodash }}"
# The SparkApplication's spark.skippipe.run.dir is s3a://skippipe-runs/runs/skippipe-train.
S3_RUN_BUCKET = "skippipe-runs"
S3_RUN_PREFIX = "runs/skippipe-train"


def committed_marker(run_dir: str) -> str:
    """Path of the last step's _COMMITTED marker under the job's default checkpoint root."""
    return f"{run_dir}/checkpoints/step-{ITERATIONS:06d}/_COMMITTED"


def skippipe_conf(run_dir: str, data_input: str, plan_file: str = "") -> dict[str, str]:
    """The spark.skippipe.* settings of a run (conf/skippipe-defaults.properties lists all keys)."""
    conf = {
        "spark.skippipe.run.dir": run_dir,
        "spark.skippipe.data.input": data_input,
        "spark.skippipe.model": MODEL,
        "spark.skippipe.cluster": CLUSTER,
        "spark.skippipe.network.mode": "probe",
        "spark.skippipe.train.iterations": str(ITERATIONS),
        "spark.skippipe.train.chunkIterations": str(CHUNK_ITERATIONS),
        "spark.skippipe.checkpoint.resume": "true",
    }
    if plan_file:
        conf["spark.skippipe.plan.file"] = plan_file
    return conf


DEFAULT_ARGS = {
    "owner": "ml-platform",
    # Safe because a retry resumes from the newest committed checkpoint of the same run directory.
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}

# --- YARN: SparkSubmitOperator, HDFS in and out ------------------------------------------------------
with DAG(
    dag_id="skippipe_train_yarn",
    description="SkipPipe training on YARN GPU executors, resumable",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["skippipe", "training", "spark"],
) as yarn_dag:
    plan_file = f"{HDFS_RUN_DIR}/plan.json" if PLAN_FIRST else ""

    train = SparkSubmitOperator(
        task_id="train",
        conn_id="spark_yarn",  # master yarn, deploy-mode cluster (set on the Airflow connection)
        application=SKIPPIPE_JAR,
        java_class=MAIN_CLASS,
        name="skippipe-{{ ds_nodash }}",
        num_executors=NODES,
        executor_cores=8,
        executor_memory="8g",
        driver_memory="4g",
        # deploy/spark-defaults.conf, copied next to this DAG: one task per executor, barrier timeouts,
        # Kryo, GPUs, DJL cache, metrics plugin.
        properties_file=os.path.join(os.path.dirname(__file__), "spark-defaults.conf"),
        files=os.path.join(os.path.dirname(__file__), "getGpusResources.sh"),
        conf={
            "spark.executor.resource.gpu.discoveryScript": "./getGpusResources.sh",
            # = NODES: the job checks its node count against it before executors register.
            "spark.default.parallelism": str(NODES),
            **skippipe_conf(HDFS_RUN_DIR, "hdfs:///data/corpus/train.jsonl", plan_file),
        },
        execution_timeout=timedelta(hours=48),
    )

    wait_committed = WebHdfsSensor(
        task_id="wait_final_commit",
        webhdfs_conn_id="webhdfs_default",
        filepath=committed_marker(HDFS_RUN_DIR).removeprefix("hdfs://"),
        poke_interval=60,
        timeout=60 * 60,
        mode="reschedule",
    )

    if PLAN_FIRST:
        # bin/skippipe's plan command from the same jar, run on the worker (needs Java 17 and
        # SPARK_HOME for the provided Spark/Hadoop jars); the plan lands in the run directory.
        plan = BashOperator(
            task_id="plan",
            bash_command=(
                "set -euo pipefail; tmp=$(mktemp -d); "
                f"hdfs dfs -get -f {SKIPPIPE_JAR} $tmp/skippipe.jar; "
                f'java -cp "$tmp/skippipe.jar:$SPARK_HOME/jars/*" {CLI_CLASS} plan '
                f"--cluster {CLUSTER} --model {MODEL} --seed 5 --out $tmp/plan.json; "
                f"hdfs dfs -mkdir -p {HDFS_RUN_DIR}; "
                # -f keeps a retried plan task idempotent; the plan is deterministic for a seed.
                f"hdfs dfs -put -f $tmp/plan.json {HDFS_RUN_DIR}/plan.json"
            ),
        )
        plan >> train
    train >> wait_committed

# --- Kubernetes: SparkKubernetesOperator with the Spark operator, S3 in and out ----------------------
with DAG(
    dag_id="skippipe_train_k8s",
    description="SkipPipe training as a SparkApplication (Spark operator), resumable",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["skippipe", "training", "spark", "kubernetes"],
) as k8s_dag:
    # deploy/kubernetes/sparkapplication.yaml, copied next to this DAG; its run.dir is fixed in the file,
    # so every retry and every re-apply resumes the same run. Change it there for a new run.
    train_k8s = SparkKubernetesOperator(
        task_id="train",
        namespace="skippipe",
        application_file="sparkapplication.yaml",
        kubernetes_conn_id="kubernetes_default",
        delete_on_termination=True,
        execution_timeout=timedelta(hours=48),
    )

    wait_committed_s3 = S3KeySensor(
        task_id="wait_final_commit",
        aws_conn_id="aws_default",
        bucket_name=S3_RUN_BUCKET,
        bucket_key=committed_marker(S3_RUN_PREFIX),
        poke_interval=60,
        timeout=60 * 60,
        mode="reschedule",
    )

    train_k8s >> wait_committed_s3
