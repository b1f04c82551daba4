#!/usr/bin/env bash
# Train the TQS decoder on one node with several GPUs: one process (rank) per
# GPU, all started by horovodrun on this machine.
#
#   launch/horovod_single_node.sh                      # every GPU nvidia-smi lists
#   GPUS=4 launch/horovod_single_node.sh --batch_size=256
#   GPUS=2 RUN_DIR=runs/try2 launch/horovod_single_node.sh --overwrite
#
# Extra arguments go to `python -m tfqsr.train_decoder` unchanged; they come
# after --flagfile, so they override the preset.
#
# What each rank does (tfqsr.runtime.distributed): hvd.init(), use the GPU
# numbered hvd.local_rank(), sample with its own seed stream, average the
# gradients with grouped_allreduce, and broadcast rank 0's initial weights.
# Only rank 0 writes into RUN_DIR. --batch_size is PER RANK: the global batch
# is GPUS x batch_size.
#
# Needs Horovod built for the installed TensorFlow: launch/install_horovod.sh
# (our build uses Gloo, no MPI, hence --gloo below).
set -euo pipefail
cd "$(dirname "$0")/.."          # repository root, so flags/ paths resolve

PYTHON=${PYTHON:-python3}
FLAGFILE=${FLAGFILE:-flags/train_decoder/tfim100.flags}

# Number of ranks. Default: one per GPU. Without GPUs this falls back to 2
# CPU processes, which is only useful to try the launch itself.
if [[ -z "${GPUS:-}" ]]; then
  GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  if [[ "${GPUS}" == 0 ]]; then
    echo "horovod_single_node: no GPU found; starting 2 CPU ranks (set GPUS=N to choose)" >&2
    GPUS=2
  fi
fi
[[ "${GPUS}" =~ ^[1-9][0-9]*$ ]] || { echo "GPUS must be a positive integer, got '${GPUS}'" >&2; exit 2; }

RUN_DIR=${RUN_DIR:-runs/tfim100-hvd${GPUS}}

# Install (or, when already installed, just verify) Horovod. Cheap on re-runs.
launch/install_horovod.sh --no-smoke-test

# On CPU-only runs keep ranks from fighting over cores: split the cores.
if ! nvidia-smi -L >/dev/null 2>&1; then
  export TF_NUM_INTRAOP_THREADS=${TF_NUM_INTRAOP_THREADS:-$(( $(nproc) / GPUS > 0 ? $(nproc) / GPUS : 1 ))}
  export TF_NUM_INTEROP_THREADS=${TF_NUM_INTEROP_THREADS:-1}
fi

# horovodrun from the same environment as PYTHON, else from PATH.
HOROVODRUN="$("${PYTHON}" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/horovodrun"
[[ -x "${HOROVODRUN}" ]] || HOROVODRUN=horovodrun

set -x
exec "${HOROVODRUN}" --gloo \
  -np "${GPUS}" -H "localhost:${GPUS}" \
  "${PYTHON}" -m tfqsr.train_decoder \
    --flagfile="${FLAGFILE}" \
    --run_dir="${RUN_DIR}" \
    "$@"
