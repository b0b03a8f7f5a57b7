#!/usr/bin/env bash
# Spark GPU discovery script (spark.executor.resource.gpu.discoveryScript): prints the GPUs this
# executor may use as the JSON ResourceInformation Spark expects, e.g. {"name": "gpu", "addresses": ["0"]}.
#
# On Kubernetes the device plugin exposes only the pod's nvidia.com/gpu devices, so every index
# nvidia-smi lists belongs to this executor. On YARN the NodeManager isolates GPUs the same way (cgroups /
# docker runtime); without isolation, YARN still starts one executor per GPU from spark.executor.resource.
# Exits non-zero (and Spark refuses to start the executor) when no GPU is visible, rather than reporting
# an empty list that would make the barrier stage wait for slots that never appear.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "getGpusResources.sh: nvidia-smi not found; is this a GPU node with the NVIDIA container runtime?" >&2
  exit 1
fi
ADDRS=$(nvidia-smi --query-gpu=index --format=csv,noheader | sed -e 's/^ *//' -e 's/ *$//' | grep -v '^$' \
  | sed -e 's/.*/"&"/' | paste -sd, -)
if [ -z "$ADDRS" ]; then
  echo "getGpusResources.sh: nvidia-smi lists no GPU" >&2
  exit 1
fi
echo "{\"name\": \"gpu\", \"addresses\": [$ADDRS]}"
