"""Step metrics to metrics.jsonl, TensorBoard and a progress bar (rank 0 only).

Every process calls the logger with the same (globally averaged) metrics; only the chief
writes, following NetKet's logging habit. ``metrics.jsonl`` has one JSON object per step; on
resume, rows after the restored step are dropped so the file matches the checkpoint exactly.
"""
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfqsr.runtime.files import read_jsonl, write_text_atomic

METRICS_FILE = "metrics.jsonl"


def read_metrics(run_dir):
    """The rows of ``run_dir/metrics.jsonl`` as dicts ([] before the first logged step)."""
    return read_jsonl(os.path.join(run_dir, METRICS_FILE))


def _plain(value):
    value = np.asarray(value)
    if np.iscomplexobj(value):
        value = value.real
    value = value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    return value


class MetricsLogger:
    """Log dicts of scalars per step.

    Args:
      run_dir: the run directory, created if missing (writes ``metrics.jsonl`` and ``events/``).
      total_steps: for the progress bar.
      start_step: steps already done (resume); later rows in metrics.jsonl are dropped.
      progress_keys: metrics shown on the progress bar.
      enabled: False on non-chief ranks (nothing is written or shown).
      verbose: 1 progress bar, 2 one line per step (for logs), 0 silent.
    """

    def __init__(self, run_dir, total_steps, start_step=0, progress_keys=(), enabled=True, verbose=1):
        self.enabled = enabled
        self.progress_keys = tuple(progress_keys)
        if not enabled:
            return
        os.makedirs(run_dir, exist_ok=True)
        self.path = os.path.join(run_dir, METRICS_FILE)
        self._truncate_after(start_step)
        self._file = open(self.path, "a")
        self._writer = tf.summary.create_file_writer(os.path.join(run_dir, "events"))
        self._progbar = keras.utils.Progbar(total_steps, verbose=verbose, unit_name="step",
                                            stateful_metrics=self.progress_keys + ("steps/s",))
        self._progbar.update(start_step)
        self._last_time = time.perf_counter()

    def _truncate_after(self, step):
        if not os.path.exists(self.path):
            return
        rows = [row for row in read_jsonl(self.path) if row["step"] <= step]
        write_text_atomic(self.path, "".join(json.dumps(row) + "\n" for row in rows))

    def log(self, step, metrics):
        """Record ``metrics`` (scalars, numpy or tensors) for 1-based ``step``."""
        if not self.enabled:
            return
        row = {"step": int(step), **{k: _plain(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        with self._writer.as_default(step=step):
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    tf.summary.scalar(key, value)
        shown = [(k, row[k]) for k in self.progress_keys if isinstance(row.get(k), (int, float))]
        now = time.perf_counter()
        shown.append(("steps/s", 1.0 / max(now - self._last_time, 1e-9)))
        self._last_time = now
        self._progbar.update(step, values=shown)

    def close(self):
        if self.enabled:
            self._file.close()
            self._writer.close()
