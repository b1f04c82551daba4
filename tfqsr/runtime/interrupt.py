"""Graceful interruption: SIGINT (Ctrl-C) and SIGTERM set a flag the training loop checks
between steps, so the loop can checkpoint and stop cleanly. A second signal of the same kind
restores the default behaviour (a second Ctrl-C stops at once). SIGKILL cannot be caught: a
killed run resumes from its last periodic checkpoint."""
import signal


class InterruptFlag:
    """Context manager that records the first SIGINT/SIGTERM in ``self.signal``."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signal = None
        self._previous = {}

    def __bool__(self):
        return self.signal is not None

    def _handle(self, signum, frame):
        self.signal = signum
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __enter__(self):
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False
