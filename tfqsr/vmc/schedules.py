"""Learning-rate schedules for VMC."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfqsr")
class TransformerWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """The warm-up schedule of "Attention is all you need", parametrized by its peak:

        lr(s) = peak * min(s / w, sqrt(w / s)),  s = optimizer step + 1,

    a linear rise over ``warmup_steps`` w to ``peak_learning_rate`` followed by 1/sqrt(s) decay
    (the original lr = d_model^-1/2 min(s^-1/2, s w^-3/2) is this with peak d_model^-1/2 w^-1/2).
    """

    def __init__(self, peak_learning_rate, warmup_steps):
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, got {warmup_steps}")
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        s = ops.cast(step, "float32") + 1.0
        w = float(self.warmup_steps)
        return self.peak_learning_rate * ops.minimum(s / w, ops.sqrt(w / s))

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="tfqsr")
class WarmupConstant(keras.optimizers.schedules.LearningRateSchedule):
    """A linear warm-up to a constant learning rate:

        lr(s) = learning_rate * min(1, s / w),  s = optimizer step + 1,

    over ``warmup_steps`` w; w = 0 gives the constant ``learning_rate`` from the first step.
    """

    def __init__(self, learning_rate, warmup_steps=0):
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        s = ops.cast(step, "float32") + 1.0
        return self.learning_rate * ops.minimum(1.0, s / float(max(self.warmup_steps, 1)))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}
