"""Metrics to metrics.jsonl, TensorBoard and progress (rank 0 only).

Every process calls the logger with the same (globally averaged) metrics; only the chief
writes, following NetKet's logging habit. ``metrics.jsonl`` has one JSON object per logged
index, named by ``key``: ``{"step": 1, ...}`` rows for the step runtime (``runtime.training``),
``{"epoch": 1, ...}`` rows for the epoch runtime (``runtime.epochs``). On resume, rows after the
restored index are dropped so the file matches the checkpoint exactly.

Progress goes to stdout. On a terminal it is Keras's progress bar; written to a file or a pipe
(a batch job's log, ``horovodrun``'s output) it is one plain line at most every few seconds,
without terminal control codes::

    epoch 3.50/10 (35%) 2.41 epochs/s ETA 0:00:03 loss=0.1234 val_loss=0.1301
"""
import datetime
import json
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tfqsr.runtime.files import read_jsonl, write_text_atomic

METRICS_FILE = "metrics.jsonl"


def read_metrics(run_dir):
    """The rows of ``run_dir/metrics.jsonl`` as dicts ([] before the first logged row)."""
    return read_jsonl(os.path.join(run_dir, METRICS_FILE))


def _plain(value):
    value = np.asarray(value)
    if np.iscomplexobj(value):
        value = value.real
    value = value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    return value


def _number(position):
    return str(int(position)) if float(position).is_integer() else f"{position:.2f}"


class Progress:
    """Position, rate, ETA and chosen values of a run of ``total`` units, on stdout.

    Args:
      total: units of the whole run (steps or epochs).
      start: units already done when this process started (resume); the rate and the ETA
        count only the units done since.
      unit: the unit's name ("step", "epoch").
      keys: values shown beside the position (those present in ``update``'s ``values``).
      verbose: 0 silent; 1 a Keras progress bar on a terminal, otherwise a plain line at most
        every ``interval`` seconds and at the end; 2 a plain line for every ``final`` update.
      interval: seconds between plain lines (verbose 1, not a terminal).
    """

    def __init__(self, total, start=0, unit="step", keys=(), verbose=1, interval=5.0):
        self.total, self.start, self.unit, self.keys = total, start, unit, tuple(keys)
        self.verbose, self.interval = verbose, interval
        self._start_time = time.perf_counter()
        self._last_line = -math.inf
        self._pending = None
        self._progbar = None
        if verbose == 1 and sys.stdout.isatty():
            self._progbar = keras.utils.Progbar(total, unit_name=unit,
                                                stateful_metrics=self.keys + (f"{unit}s/s",))
            self._progbar.update(start)

    def _rate(self, position):
        elapsed = time.perf_counter() - self._start_time
        return (position - self.start) / elapsed if elapsed > 0 and position > self.start else None

    def update(self, position, values=None, final=False):
        """Show ``position`` (units done, fractional within a unit) and ``values`` (a dict);
        ``final``: a complete unit was logged (verbose 2 prints a line for each)."""
        if self.verbose == 0:
            return
        shown = [(k, values[k]) for k in self.keys
                 if isinstance((values or {}).get(k), (int, float))]
        rate = self._rate(position)
        if self._progbar is not None:
            self._progbar.update(position, shown + ([(f"{self.unit}s/s", rate)] if rate else []))
            return
        now = time.perf_counter()
        if self.verbose == 2:
            due = final
        else:
            due = now - self._last_line >= self.interval or position >= self.total
        self._pending = self._line(position, rate, shown)
        if due:
            self.flush()
            self._last_line = now

    def flush(self):
        """Print the latest plain line if it was not shown yet (e.g. when a run stops early)."""
        if self._pending is not None:
            print(self._pending, flush=True)
            self._pending = None

    def _line(self, position, rate, shown):
        """The plain progress line (no control codes)."""
        text = f"{self.unit} {_number(position)}/{self.total} ({100 * position / self.total:.0f}%)"
        if rate:
            text += (f" {rate:.3g} {self.unit}s/s" if rate >= 1 else f" {1 / rate:.3g} s/{self.unit}")
            eta = round((self.total - position) / rate)
            text += f" ETA {datetime.timedelta(seconds=eta)}"
        return " ".join([text] + [f"{k}={v:.6g}" for k, v in shown])


class MetricsLogger:
    """Log dicts of scalars per step or per epoch.

    Args:
      run_dir: the run directory, created if missing (writes ``metrics.jsonl`` and ``events/``).
      total_steps: the run's length in units of ``key``, for the progress display.
      start_step: units already done (resume); later rows in metrics.jsonl are dropped.
      progress_keys: metrics shown with the progress.
      enabled: False on non-chief ranks (nothing is written or shown).
      verbose: 1 progress (a bar on a terminal, a plain line every ``progress_interval``
        seconds otherwise), 2 one plain line per row (for logs), 0 silent.
      key: the row index's name, "step" or "epoch" (also TensorBoard's step).
      progress_interval: seconds between plain progress lines.
    """

    def __init__(self, run_dir, total_steps, start_step=0, progress_keys=(), enabled=True, verbose=1,
                 key="step", progress_interval=5.0):
        self.enabled = enabled
        self.key = key
        if not enabled:
            return
        os.makedirs(run_dir, exist_ok=True)
        self.path = os.path.join(run_dir, METRICS_FILE)
        self._truncate_after(start_step)
        self._file = open(self.path, "a")
        self._writer = tf.summary.create_file_writer(os.path.join(run_dir, "events"))
        self._progress = Progress(total_steps, start_step, key, progress_keys, verbose,
                                  progress_interval)

    def _truncate_after(self, index):
        if not os.path.exists(self.path):
            return
        rows = [row for row in read_jsonl(self.path) if row[self.key] <= index]
        write_text_atomic(self.path, "".join(json.dumps(row) + "\n" for row in rows))

    def log(self, step, metrics):
        """Record ``metrics`` (scalars, numpy or tensors) as the row of 1-based ``step`` (the
        step or epoch number, per ``key``)."""
        if not self.enabled:
            return
        row = {self.key: int(step), **{k: _plain(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        with self._writer.as_default(step=step):
            for name, value in row.items():
                if name != self.key and isinstance(value, (int, float)):
                    tf.summary.scalar(name, value)
        self._progress.update(step, row, final=True)

    def progress(self, position, metrics):
        """Show progress within a unit (e.g. epoch 3.5 after half of its batches) without
        writing a row; ``metrics``: dict of Python numbers."""
        if self.enabled:
            self._progress.update(position, metrics)

    def close(self):
        if self.enabled:
            self._progress.flush()
            self._file.close()
            self._writer.close()
