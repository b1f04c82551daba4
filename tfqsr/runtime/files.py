"""Atomic file writes: a reader (or a run killed half-way) sees the old content or the new,
never half of either.

Files are written to a temporary name beside the target, flushed to disk and renamed over it
(``os.replace`` is atomic on POSIX file systems). Directories (an export, an analysis) are
built under a temporary name and swapped in by two renames.
"""
import contextlib
import json
import os
import shutil


def write_text_atomic(path, text):
    """Replace ``path`` by ``text`` in one rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json_atomic(path, obj):
    """Replace ``path`` by ``obj`` as indented JSON with sorted keys, in one rename."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True))


@contextlib.contextmanager
def staged_directory(target):
    """Yield an empty temporary directory beside ``target``; when the block ends without an
    exception it replaces ``target`` (the old one is removed after the swap), otherwise it is
    removed and ``target`` is left as it was."""
    target = os.path.normpath(target)
    tmp, old = f"{target}.tmp-{os.getpid()}", f"{target}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.exists(target):
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def read_jsonl(path):
    """The JSON objects of a JSON-lines file, one per non-empty line ([] when it is missing)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
