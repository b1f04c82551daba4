#!/usr/bin/env bash
# Build and install Horovod 0.28.1 against the TensorFlow that is already
# installed (tfqsr targets TensorFlow 2.21 / Keras 3).
#
# Why a script: `pip install horovod==0.28.1` fails against TF >= 2.1x because
# horovod/tensorflow/xla_mpi_ops.cc includes XLA headers that the TensorFlow
# wheel does not ship. tfqsr never uses Horovod's XLA ops, so this script
# builds from the source distribution with that one file left out of the
# TensorFlow extension, caches the wheel, and installs it.
#
# Run `launch/install_horovod.sh --help` for the options.
set -euo pipefail

readonly HOROVOD_VERSION=0.28.1
PYTHON=${PYTHON:-python3}
SECONDS=0

usage() {
  cat <<EOF
Usage: launch/install_horovod.sh [--cpu | --nccl] [--rebuild] [--jobs N] [--no-smoke-test]

Builds Horovod ${HOROVOD_VERSION} (TensorFlow + Gloo controller, no MPI, no
PyTorch/MXNet) from its PyPI source distribution against the TensorFlow that
\$PYTHON (default: python3) imports, caches the wheel and installs it.

Variants:
  --cpu            CPU collectives over Gloo (default unless NCCL is found).
  --nccl           also GPU collectives with NCCL (HOROVOD_GPU_OPERATIONS=NCCL).
                   Chosen automatically when nvcc, the NCCL header and library,
                   and a CUDA build of TensorFlow are all present.

Options:
  --rebuild        ignore an installed Horovod and the cached wheel; build anew.
  --jobs N         parallel compile jobs (default: number of cores).
  --no-smoke-test  skip the final 2-process horovodrun check.
  -h, --help       show this help.

Environment:
  PYTHON                Python interpreter to build for (default: python3).
  TFQSR_HOROVOD_CACHE   cache root (default: \${XDG_CACHE_HOME:-\$HOME/.cache}/tfqsr/horovod);
                        wheels go to <root>/<tf-version>-<variant>/.
  HOROVOD_NCCL_HOME, HOROVOD_NCCL_INCLUDE, HOROVOD_NCCL_LIB
                        where NCCL lives, for --nccl (passed on to Horovod's CMake).
  CXX                   C++ compiler (default: g++, else c++).

Exit codes: 0 installed and working; 1 a step failed (download, build,
install, smoke test); 2 bad usage or a missing prerequisite.
EOF
}

log() { printf '[install_horovod %4ds] %s\n' "${SECONDS}" "$*"; }
die() { printf '[install_horovod %4ds] ERROR: %s\n' "${SECONDS}" "$1" >&2; exit "${2:-1}"; }

# ---------------------------------------------------------------- arguments
variant=auto
rebuild=0
smoke=1
jobs=$(nproc 2>/dev/null || echo 2)
while (($#)); do
  case "$1" in
    --cpu) variant=cpu ;;
    --nccl) variant=nccl ;;
    --rebuild) rebuild=1 ;;
    --no-smoke-test) smoke=0 ;;
    --jobs)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a positive integer" 2
      jobs=$2; shift ;;
    --jobs=*)
      jobs=${1#--jobs=}
      [[ "${jobs}" =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a positive integer" 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" 2 ;;
  esac
  shift
done

# ------------------------------------------------- Python and TensorFlow
command -v "${PYTHON}" >/dev/null 2>&1 \
  || die "Python interpreter '${PYTHON}' not found; set PYTHON=/path/to/python3" 2
PY_EXE=$("${PYTHON}" -c 'import sys; print(sys.executable)')

log "step 1/6: inspecting TensorFlow under ${PY_EXE}"
# One Python start (TensorFlow takes seconds to import) also reports the
# installed Horovod: "<version> <TF it was built for> <nccl>" or "none".
tf_info=$(TF_CPP_MIN_LOG_LEVEL=3 "${PY_EXE}" - 2>/dev/null <<'PY' | tail -n 4
import json, os
import tensorflow as tf
print(tf.__version__)
print(tf.sysconfig.get_include())
print(int(tf.test.is_built_with_cuda()))
try:
    import horovod
    with open(os.path.join(os.path.dirname(horovod.__file__), "metadata.json")) as f:
        built_for = json.load(f).get("tensorflow")
    import horovod.tensorflow as hvd
    hvd.init()
    assert hvd.gloo_built()
    print(horovod.__version__, built_for, "nccl" if hvd.nccl_built() else "cpu")
except Exception:
    print("none")
PY
) || die "TensorFlow is not importable by ${PY_EXE}; install it first (pip install tensorflow==2.21.0)" 2
{ read -r TF_VERSION; read -r TF_INCLUDE; read -r TF_CUDA; read -r HVD_INSTALLED; } <<<"${tf_info}"
log "TensorFlow ${TF_VERSION} (CUDA build: ${TF_CUDA}), headers in ${TF_INCLUDE}"

# ----------------------------------------------------------- the variant
find_nccl() {  # prints "<include dir> <lib dir>" when NCCL is found
  local inc lib d
  for d in "${HOROVOD_NCCL_INCLUDE:-}" "${HOROVOD_NCCL_HOME:+${HOROVOD_NCCL_HOME}/include}" \
           /usr/include /usr/local/include /usr/local/cuda/include; do
    [[ -n "$d" && -f "$d/nccl.h" ]] && { inc=$d; break; }
  done
  for d in "${HOROVOD_NCCL_LIB:-}" "${HOROVOD_NCCL_HOME:+${HOROVOD_NCCL_HOME}/lib}" \
           /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib \
           /usr/local/lib /usr/local/cuda/lib64; do
    # CMake's find_library(nccl) needs the unversioned name (libnccl-dev).
    [[ -n "$d" && ( -e "$d/libnccl.so" || -e "$d/libnccl_static.a" ) ]] && { lib=$d; break; }
  done
  [[ -n "${inc:-}" && -n "${lib:-}" ]] && echo "${inc} ${lib}"
}

nccl_dirs=$(find_nccl || true)
if [[ "${variant}" == auto ]]; then
  if command -v nvcc >/dev/null 2>&1 && [[ -n "${nccl_dirs}" && "${TF_CUDA}" == 1 ]]; then
    variant=nccl
    log "variant: nccl (found nvcc, NCCL in ${nccl_dirs% *}, and a CUDA build of TensorFlow)"
  else
    variant=cpu
    reason=()
    command -v nvcc >/dev/null 2>&1 || reason+=("no nvcc")
    [[ -n "${nccl_dirs}" ]] || reason+=("no NCCL header/library")
    [[ "${TF_CUDA}" == 1 ]] || reason+=("TensorFlow built without CUDA")
    log "variant: cpu (Gloo collectives; $(IFS=,; echo "${reason[*]}"); use --nccl to force GPU collectives)"
  fi
else
  log "variant: ${variant} (requested)"
fi

CACHE_ROOT=${TFQSR_HOROVOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tfqsr/horovod}
CACHE_DIR="${CACHE_ROOT}/${TF_VERSION}-${variant}"
PY_TAG=$("${PY_EXE}" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')

# ----------------------------------------------- already installed and good?
# Checks the version, that the native library loads and initialises under the
# installed TensorFlow, that it was built against this TensorFlow version
# (horovod/metadata.json records it), and the variant.
installed_ok() {
  TF_CPP_MIN_LOG_LEVEL=3 "${PY_EXE}" - "${HOROVOD_VERSION}" "${TF_VERSION}" "${variant}" \
      >/dev/null 2>&1 <<'PY'
import json, os, sys
want_hvd, want_tf, variant = sys.argv[1:4]
import horovod
assert horovod.__version__ == want_hvd, horovod.__version__
meta = os.path.join(os.path.dirname(horovod.__file__), "metadata.json")
with open(meta) as f:
    assert json.load(f).get("tensorflow") == want_tf
import horovod.tensorflow as hvd
hvd.init()
assert hvd.gloo_built()
assert bool(hvd.nccl_built()) == (variant == "nccl")
PY
}

if ((rebuild == 0)) && [[ "${HVD_INSTALLED}" == "${HOROVOD_VERSION} ${TF_VERSION} ${variant}" ]]; then
  log "Horovod ${HOROVOD_VERSION} built for TensorFlow ${TF_VERSION} (${variant}) is already installed and initialises; nothing to do"
  exit 0
fi

# ------------------------------------------- Python packages the build needs
ensure_python_deps() {
  # Import name -> PyPI name. Needed by Horovod's setup.py under
  # --no-build-isolation and by Horovod at run time.
  local missing
  missing=$("${PY_EXE}" - <<'PY'
import importlib.util
need = {"setuptools": "setuptools", "wheel": "wheel", "packaging": "packaging",
        "psutil": "psutil", "yaml": "pyyaml", "cloudpickle": "cloudpickle"}
print(" ".join(pip for mod, pip in need.items() if importlib.util.find_spec(mod) is None))
PY
)
  if [[ -n "${missing}" ]]; then
    log "installing Python packages from PyPI: ${missing}"
    # shellcheck disable=SC2086
    "${PY_EXE}" -m pip install --quiet ${missing} \
      || die "could not install ${missing} with pip" 1
  fi
}

install_wheel() {
  "${PY_EXE}" -m pip install --quiet --no-deps --force-reinstall "$1" \
    || die "pip could not install $1" 1
  # pyenv puts console scripts (horovodrun) on PATH only after a rehash.
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi
}

cached_wheel() {
  compgen -G "${CACHE_DIR}/horovod-${HOROVOD_VERSION}-${PY_TAG}-*.whl" | head -n 1 || true
}

# One build or install at a time per cache directory (several nodes sharing
# $HOME, or srun starting this script once per node): the others wait here,
# then find the wheel in the cache or Horovod already installed.
mkdir -p "${CACHE_DIR}"
if command -v flock >/dev/null 2>&1; then
  exec 9>"${CACHE_DIR}/.lock"
  if ! flock -n 9; then
    log "another install_horovod.sh holds ${CACHE_DIR}/.lock; waiting for it"
    flock 9
    if ((rebuild == 0)) && installed_ok; then
      log "Horovod ${HOROVOD_VERSION} (${variant}) was installed meanwhile; nothing to do"
      exit 0
    fi
  fi
fi

wheel=""
if ((rebuild == 0)); then wheel=$(cached_wheel); fi
if [[ -n "${wheel}" ]]; then
  log "step 2/6: cached wheel found: ${wheel}"
  ensure_python_deps
  log "step 3/6: installing the cached wheel"
  install_wheel "${wheel}"
  if installed_ok; then
    log "steps 4-5/6: skipped (cached build)"
  else
    log "the cached wheel does not initialise under TensorFlow ${TF_VERSION}; removing it and rebuilding"
    rm -f "${wheel}"
    wheel=""
  fi
fi

if [[ -z "${wheel}" ]]; then
  # ------------------------------------------------------- prerequisites
  log "step 2/6: checking build prerequisites"
  problems=()
  CXX=${CXX:-$(command -v g++ || command -v c++ || true)}
  [[ -n "${CXX}" ]] && command -v "${CXX}" >/dev/null 2>&1 \
    || problems+=("no C++ compiler (g++ or c++): apt-get install g++")
  command -v make >/dev/null 2>&1 || problems+=("no 'make': apt-get install make")
  [[ -f "${TF_INCLUDE}/tensorflow/core/framework/op.h" ]] \
    || problems+=("TensorFlow C++ headers missing under ${TF_INCLUDE}: reinstall the tensorflow wheel (pip install --force-reinstall tensorflow==${TF_VERSION})")
  if [[ "${variant}" == nccl ]]; then
    command -v nvcc >/dev/null 2>&1 \
      || problems+=("--nccl needs the CUDA toolkit's nvcc on PATH (or HOROVOD_CUDA_HOME)")
    [[ -n "${nccl_dirs}" ]] \
      || problems+=("--nccl needs NCCL >= 2 (nccl.h and libnccl.so): install libnccl-dev, or set HOROVOD_NCCL_HOME / HOROVOD_NCCL_INCLUDE + HOROVOD_NCCL_LIB")
  fi

  cmake_ok() {  # $1 = cmake binary; true when it is >= 3.13
    local v
    v=$("$1" --version 2>/dev/null | sed -n 's/^cmake version \([0-9][0-9.]*\).*/\1/p')
    [[ -n "$v" ]] && [[ "$(printf '%s\n3.13\n' "$v" | sort -V | head -n 1)" == 3.13 ]]
  }
  if ! { command -v cmake >/dev/null 2>&1 && cmake_ok cmake; }; then
    log "cmake >= 3.13 not on PATH; installing cmake from PyPI"
    if "${PY_EXE}" -m pip install --quiet 'cmake>=3.13,<4'; then
      scripts=$("${PY_EXE}" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
      export PATH="${scripts}:${PATH}"
      hash -r
    fi
    { command -v cmake >/dev/null 2>&1 && cmake_ok cmake; } \
      || problems+=("no cmake >= 3.13: apt-get install cmake, or pip install cmake")
  fi

  if ((${#problems[@]})); then
    printf '[install_horovod %4ds] ERROR: missing prerequisites for building Horovod:\n' "${SECONDS}" >&2
    printf '    - %s\n' "${problems[@]}" >&2
    exit 2
  fi
  log "compiler ${CXX}; $(cmake --version | head -n 1)"
  ensure_python_deps

  # ------------------------------------------------- download and patch
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/tfqsr-horovod.XXXXXX")
  trap 'rm -rf "${WORK}"' EXIT
  log "step 3/6: downloading the horovod ${HOROVOD_VERSION} source distribution from PyPI"
  "${PY_EXE}" -m pip download --quiet --no-binary :all: --no-deps \
      "horovod==${HOROVOD_VERSION}" -d "${WORK}/sdist" \
    || die "pip download of horovod==${HOROVOD_VERSION} failed (is PyPI reachable?)" 1
  sdist=$(compgen -G "${WORK}/sdist/horovod-${HOROVOD_VERSION}.tar.gz" | head -n 1 || true)
  [[ -n "${sdist}" ]] || die "no horovod-${HOROVOD_VERSION}.tar.gz in ${WORK}/sdist" 1
  tar -xzf "${sdist}" -C "${WORK}"
  SRC="${WORK}/horovod-${HOROVOD_VERSION}"

  # Fix 1 (all variants): leave xla_mpi_ops.cc out of the TensorFlow
  # extension; it includes XLA headers that the TensorFlow wheel lacks.
  cml="${SRC}/horovod/tensorflow/CMakeLists.txt"
  # shellcheck disable=SC2016  # ${PROJECT_SOURCE_DIR} is literal CMake text
  xla_line='^list(APPEND TF_SOURCES "${PROJECT_SOURCE_DIR}/horovod/tensorflow/xla_mpi_ops\.cc")$'
  grep -q "${xla_line}" "${cml}" \
    || die "patch failed: the xla_mpi_ops.cc line was not found in ${cml#"${WORK}"/}; the source layout changed, update this script" 1
  sed -i "\#${xla_line}#d" "${cml}"
  ! grep -q 'xla_mpi_ops' "${cml}" || die "patch failed: xla_mpi_ops.cc is still listed in ${cml}" 1
  log "patched horovod/tensorflow/CMakeLists.txt: xla_mpi_ops.cc removed"

  if [[ "${variant}" == nccl ]]; then
    # Fix 2 (GPU only): TensorFlow 2.21 no longer exports
    # stream_executor::gpu::AsGpuStreamValue, which mpi_ops.cc declares and
    # calls; define it in mpi_ops.cc with the public Stream API instead.
    ops="${SRC}/horovod/tensorflow/mpi_ops.cc"
    anchor='^#endif // TENSORFLOW_VERSION >= 2011000000$'
    grep -q "${anchor}" "${ops}" \
      || die "patch failed: the stream.h include block was not found in horovod/tensorflow/mpi_ops.cc" 1
    sed -i "\\|${anchor}|a\\
#if TENSORFLOW_VERSION >= 2016000000\\
namespace stream_executor {\\
namespace gpu {\\
GpuStreamHandle AsGpuStreamValue(Stream* stream) {\\
  return static_cast<GpuStreamHandle>(stream->platform_specific_handle().stream);\\
}\\
} // namespace gpu\\
} // namespace stream_executor\\
#endif // TENSORFLOW_VERSION >= 2016000000" "${ops}"
    log "patched horovod/tensorflow/mpi_ops.cc: AsGpuStreamValue defined locally"
  fi

  # ------------------------------------------------------------- build
  build_env=(HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1
             HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 "MAKEFLAGS=-j${jobs}"
             "CXX=${CXX}")
  if [[ "${variant}" == nccl ]]; then
    build_env+=(HOROVOD_GPU_OPERATIONS=NCCL "HOROVOD_NCCL_INCLUDE=${nccl_dirs% *}"
                "HOROVOD_NCCL_LIB=${nccl_dirs#* }")
  fi
  build_log="${CACHE_DIR}/build.log"
  log "step 4/6: building the wheel (${jobs} jobs; takes ~6 min on 2 cores; log: ${build_log})"
  log "build environment: ${build_env[*]}"
  (cd "${WORK}" && env "${build_env[@]}" "${PY_EXE}" -m pip wheel -v \
      --no-build-isolation --no-deps -w "${WORK}/wheel" "${SRC}") >"${build_log}" 2>&1 &
  build_pid=$!
  while kill -0 "${build_pid}" 2>/dev/null; do
    sleep 20
    kill -0 "${build_pid}" 2>/dev/null || break
    progress=$(grep -o '\[ *[0-9]*%\]' "${build_log}" | tail -n 1 || true)
    log "  building... ${progress:-configuring}"
  done
  if ! wait "${build_pid}"; then
    tail -n 40 "${build_log}" >&2
    die "building the Horovod wheel failed; the full log is ${build_log}" 1
  fi
  built=$(compgen -G "${WORK}/wheel/horovod-${HOROVOD_VERSION}-*.whl" | head -n 1 || true)
  [[ -n "${built}" ]] || die "pip wheel finished but produced no wheel; see ${build_log}" 1

  # Cache atomically: copy under a temporary name, then rename.
  cp "${built}" "${CACHE_DIR}/.incoming.$$"
  mv -f "${CACHE_DIR}/.incoming.$$" "${CACHE_DIR}/$(basename "${built}")"
  wheel="${CACHE_DIR}/$(basename "${built}")"
  log "step 5/6: wheel built and cached: ${wheel}"

  log "installing ${wheel##*/}"
  install_wheel "${wheel}"
  installed_ok || die "the freshly built Horovod does not import/initialise: try ${PY_EXE} -c 'import horovod.tensorflow as hvd; hvd.init()'" 1
fi

# ------------------------------------------------------------ smoke check
if ((smoke == 0)); then
  log "step 6/6: smoke test skipped; done in ${SECONDS}s"
  exit 0
fi
scripts=$("${PY_EXE}" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
HOROVODRUN="${scripts}/horovodrun"
[[ -x "${HOROVODRUN}" ]] || HOROVODRUN=$(command -v horovodrun || true)
[[ -n "${HOROVODRUN}" ]] || die "horovodrun not found next to ${PY_EXE} nor on PATH" 1
log "step 6/6: smoke test: ${HOROVODRUN} -np 2 -H localhost:2 --gloo (allreduce of the ranks)"
smoke_out=$(TF_CPP_MIN_LOG_LEVEL=3 "${HOROVODRUN}" -np 2 -H localhost:2 --gloo "${PY_EXE}" -c \
  "import horovod.tensorflow as hvd; hvd.init(); import tensorflow as tf; print(hvd.rank(), hvd.size(), float(hvd.allreduce(tf.constant(float(hvd.rank())), op=hvd.Sum)))" 2>&1) \
  || { printf '%s\n' "${smoke_out}" >&2; die "the horovodrun smoke test failed" 1; }
printf '%s\n' "${smoke_out}" | grep -E '(^|:)[01] 2 1\.0$' | sed 's/^/    /'
n_ok=$(printf '%s\n' "${smoke_out}" | grep -cE '(^|:)[01] 2 1\.0$' || true)
if [[ "${n_ok}" != 2 ]]; then
  printf '%s\n' "${smoke_out}" >&2
  die "smoke test: expected 2 ranks to print '<rank> 2 1.0', got ${n_ok}" 1
fi
log "done: Horovod ${HOROVOD_VERSION} (${variant}) for TensorFlow ${TF_VERSION} works; total ${SECONDS}s"
