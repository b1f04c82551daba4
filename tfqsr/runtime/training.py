"""``train``: wire a step function into a run directory (the piece every system reuses).

It restores the newest checkpoint of ``trackables`` (model, optimizer, random generator, ...),
broadcasts ``broadcast`` variables from rank 0 so every rank starts equal, runs the loop with
logging and checkpointing (``runtime.loop``), waits until rank 0 has written its last
checkpoint, and closes the logger. Checkpoints are read on every rank (all ranks must restore
the same step, else RuntimeError) and written by rank 0 only.
"""
import os

from tfqsr.runtime.checkpoints import Checkpointer
from tfqsr.runtime.logging import MetricsLogger
from tfqsr.runtime.loop import run_loop


def train(step_fn, *, run_dir, total_steps, trackables, distributed, broadcast=(),
          checkpoint_every=100, progress_keys=(), verbose=1):
    """Run ``step_fn`` to ``total_steps`` in ``run_dir``; returns (outcome, last step)."""
    checkpointer = Checkpointer(os.path.join(run_dir, "checkpoints"), **trackables)
    start_step = checkpointer.restore_latest_on_every_rank(distributed)
    distributed.broadcast_variables(list(broadcast))
    logger = MetricsLogger(run_dir, total_steps, start_step=start_step, progress_keys=progress_keys,
                           enabled=distributed.is_chief, verbose=verbose)
    try:
        outcome = run_loop(step_fn, total_steps=total_steps, start_step=start_step,
                           checkpointer=checkpointer, logger=logger, distributed=distributed,
                           checkpoint_every=checkpoint_every)
        # Every rank waits for the chief's last checkpoint: a rank that exits early gets the
        # chief killed by horovodrun, and one that resumes at once must find it on disk.
        distributed.barrier()
    finally:
        logger.close()
    return outcome, int(checkpointer.step.numpy()) if outcome == "interrupted" else total_steps
