"""Helpers for tests that drive training runs in subprocesses."""
import time


def wait_for_metric_rows(process, run_dir, rows=3, timeout=300, poll=0.05):
    """Block until ``run_dir/metrics.jsonl`` has ``rows`` rows, ``process`` ended, or the timeout."""
    metrics = run_dir / "metrics.jsonl"
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= rows:
            return
        time.sleep(poll)
