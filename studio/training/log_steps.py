"""Which training steps the loggers record: values logged on other steps are computed for nothing.

Lightning's `self.log` costs about a millisecond a call on a CPU, several percent of a small model's
step, while the loggers keep only every `log_every_n_steps`-th step's values. Callbacks that log
figures of their own ask here first.
"""

from __future__ import annotations

import lightning as L


def loggers_record(trainer: L.Trainer, step_done: bool) -> bool:
    """Whether the loggers will record what is logged now, in the step being trained.

    `step_done`: whether the optimizer has stepped already (True in `on_train_batch_end`, False in
    `on_before_optimizer_step`), since `global_step` counts the steps taken.
    """
    every = trainer.log_every_n_steps
    if not trainer.loggers or every <= 0:
        return False
    step = trainer.global_step if step_done else trainer.global_step + 1
    return step % every == 0 or trainer.should_stop
