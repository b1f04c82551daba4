#!/usr/bin/env bash
# Train the TQS decoder on several nodes: horovodrun reads a hostfile, starts
# `slots` ranks on each node over ssh, and the ranks talk through Gloo.
#
#   cp launch/hostfile.example hostfile && $EDITOR hostfile
#       (one "<host> slots=<ranks on it>" a line, usually slots = GPUs on the
#       node; the first host should be this node; '#' comments are allowed
#       here, although plain horovodrun --hostfile does not accept them)
#   HOSTFILE=hostfile launch/horovod_multi_node.sh
#   HOSTFILE=hostfile NP=6 NIC=eth0 launch/horovod_multi_node.sh --batch_size=256
#
# Requirements on every node listed in the hostfile:
#   - passwordless ssh from this node (test: ssh <node> true); SSH_PORT if not 22;
#   - the same Python environment with Horovod (run launch/install_horovod.sh
#     on each node, or share the environment and the wheel cache over NFS);
#   - this repository at the same path, and RUN_DIR on a shared file system
#     only if you want to read it from other nodes (only rank 0 writes).
# Extra arguments go to `python -m tfqsr.train_decoder` unchanged.
# --batch_size is PER RANK: the global batch is NP x batch_size.
set -euo pipefail
cd "$(dirname "$0")/.."          # repository root: same path on every node

PYTHON=${PYTHON:-python3}
FLAGFILE=${FLAGFILE:-flags/train_decoder/tfim100.flags}
[[ -n "${HOSTFILE:-}" ]] || { echo "set HOSTFILE=<your hostfile> (format: launch/hostfile.example)" >&2; exit 2; }
[[ -f "${HOSTFILE}" ]] || { echo "HOSTFILE '${HOSTFILE}' does not exist" >&2; exit 2; }
# horovodrun's own parser wants exactly "<host> slots=<n>" on every line, so
# drop comments and blank lines here and check the rest.
CLEAN_HOSTFILE=$(mktemp "${TMPDIR:-/tmp}/tfqsr-hostfile.XXXXXX")
trap 'rm -f "${CLEAN_HOSTFILE}"' EXIT
sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "${HOSTFILE}" > "${CLEAN_HOSTFILE}"
if bad=$(grep -nvE '^[[:space:]]*[^[:space:]]+[[:space:]]+slots=[1-9][0-9]*$' "${CLEAN_HOSTFILE}"); then
  echo "HOSTFILE ${HOSTFILE}: every line must be '<host> slots=<n>'; not: ${bad}" >&2; exit 2
fi
SLOTS=$(awk '{ s += substr($2, 7) } END { print s + 0 }' "${CLEAN_HOSTFILE}")
(( SLOTS > 0 )) || { echo "HOSTFILE ${HOSTFILE} lists no host" >&2; exit 2; }
NP=${NP:-${SLOTS}}          # default: every slot of every host
[[ "${NP}" =~ ^[1-9][0-9]*$ ]] || { echo "NP must be a positive integer, got '${NP}'" >&2; exit 2; }
(( NP <= SLOTS )) || { echo "NP=${NP} exceeds the ${SLOTS} slots in ${HOSTFILE}" >&2; exit 2; }

RUN_DIR=${RUN_DIR:-runs/tfim100-hvd${NP}}

launch/install_horovod.sh --no-smoke-test   # this node; the others must have it too

extra=()
# Network interface(s) Gloo should use between nodes, e.g. NIC=eth0 or
# NIC=ib0; set it when the nodes have several and the default one is wrong.
[[ -n "${NIC:-}" ]] && extra+=(--network-interfaces "${NIC}")
[[ -n "${SSH_PORT:-}" ]] && extra+=(-p "${SSH_PORT}")

# horovodrun from the same environment as PYTHON, else from PATH.
HOROVODRUN="$("${PYTHON}" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/horovodrun"
[[ -x "${HOROVODRUN}" ]] || HOROVODRUN=horovodrun

set -x
"${HOROVODRUN}" --gloo \
  -np "${NP}" --hostfile "${CLEAN_HOSTFILE}" \
  "${extra[@]}" \
  "${PYTHON}" -m tfqsr.train_decoder \
    --flagfile="${FLAGFILE}" \
    --run_dir="${RUN_DIR}" \
    "$@"
