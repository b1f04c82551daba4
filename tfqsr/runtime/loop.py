"""The training loop every system runs: resume, step, log, checkpoint, stop cleanly.

    step_fn(step) -> dict of metrics (tensors), including a boolean ``finite``

The step function owns the physics; this loop owns the run: it restores the newest checkpoint,
runs the remaining steps, logs every step, checkpoints every ``checkpoint_every`` steps, at the
end and on SIGINT/SIGTERM (agreed across ranks, so all stop at the same step), and refuses to
continue past a step whose loss or gradients were not finite (the step function must then have
left the parameters unchanged).
"""
import numpy as np

from tfqsr.runtime.interrupt import InterruptFlag


class NonFiniteLossError(RuntimeError):
    """A step produced a NaN/inf loss or gradient; its update was not applied."""


def run_loop(step_fn, *, total_steps, start_step, checkpointer, logger, distributed,
             checkpoint_every=100):
    """Run steps ``start_step + 1 .. total_steps``; returns "completed" or "interrupted".

    ``checkpointer`` may be None (no checkpoints). Only the chief rank saves.
    """
    def save(step):
        if checkpointer is not None and distributed.is_chief:
            checkpointer.save(step)

    step = start_step
    with InterruptFlag() as interrupted:
        while step < total_steps:
            step += 1
            metrics = {k: np.asarray(v) for k, v in step_fn(step).items()}
            if not bool(metrics.pop("finite")):
                raise NonFiniteLossError(
                    f"step {step}: the loss or its gradient is not finite (NaN/inf); the update "
                    f"was skipped and the parameters are those after step {step - 1}. Lower the "
                    "learning rate or check the model; the last checkpoint is "
                    f"{checkpointer.latest if checkpointer else None}")
            logger.log(step, metrics)
            stop = float(distributed.allreduce_mean([np.float32(bool(interrupted))])[0]) > 0
            if stop or step % checkpoint_every == 0 or step == total_steps:
                save(step)
            if stop:
                return "interrupted"
    return "completed"
