"""Run directories: one directory holds everything a run produced.

    RUN/config.json     the resolved configuration (written once, atomically)
    RUN/metrics.jsonl   one JSON object per logged step
    RUN/events/         TensorBoard events
    RUN/checkpoints/    tf.train.CheckpointManager checkpoints
    RUN/export/         SavedModel;  RUN/plots/, RUN/analysis/ from the analysis tools

Re-running with the same configuration resumes. A directory holding another configuration is
refused unless ``overwrite`` is set: ``check_run_dir`` is called during validation, before any
work, and writes nothing; ``prepare_run_dir`` then creates the directory.
"""
import json
import os
import shutil

from tfqsr.runtime.files import write_json_atomic

CONFIG_FILE = "config.json"


class RunDirectoryError(ValueError):
    """The run directory cannot be used with this configuration."""


def _normalize(config):
    return json.loads(json.dumps(config, sort_keys=True))


def read_config(run_dir):
    """The configuration stored in ``run_dir`` (a dict), or None if there is none."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def check_run_dir(run_dir, config, overwrite=False, resume_keys_ignored=(), defaults=None):
    """Raise RunDirectoryError if ``run_dir`` holds a run with a different configuration.

    Keys in ``resume_keys_ignored`` (e.g. the total number of steps, which a user may raise to
    continue a finished run) may differ. Keys missing from the stored configuration take their
    value from ``defaults`` (options added since that run was made, which it ran with).
    Returns "new", "resume" or "overwrite". Writes nothing.
    """
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise RunDirectoryError(f"run_dir {run_dir!r} exists and is not a directory")
    stored = read_config(run_dir)
    if stored is None:
        if os.path.isdir(run_dir) and os.listdir(run_dir) and not overwrite:
            raise RunDirectoryError(
                f"run_dir {run_dir!r} is not empty and holds no {CONFIG_FILE}; choose another "
                "directory or pass --overwrite to replace its contents")
        return "overwrite" if overwrite and os.path.isdir(run_dir) else "new"
    if overwrite:
        return "overwrite"
    current = {k: v for k, v in _normalize(config).items() if k not in resume_keys_ignored}
    stored = {**_normalize(defaults or {}), **stored}
    previous = {k: v for k, v in stored.items() if k not in resume_keys_ignored}
    if current != previous:
        changed = sorted(k for k in set(current) | set(previous) if current.get(k) != previous.get(k))
        raise RunDirectoryError(
            f"run_dir {run_dir!r} holds a run with another configuration (differs in: "
            f"{', '.join(changed)}); use another run_dir, the same flags to resume, or --overwrite")
    return "resume"


def prepare_run_dir(run_dir, config, mode):
    """Create ``run_dir`` for ``mode`` (from check_run_dir) and store the configuration."""
    if mode == "overwrite" and os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    write_json_atomic(os.path.join(run_dir, CONFIG_FILE), _normalize(config))
