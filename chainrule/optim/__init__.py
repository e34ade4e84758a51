"""Optimizers and learning-rate schedulers with torch.optim's names, defaults and update rules.

Every optimizer updates its parameters in place (``p.data``; the Tensor objects stay the
same) under ``no_grad``, skips parameters whose ``grad`` is None, and keeps its per-parameter
buffers as chainrule Tensors in ``state`` (``step`` counters are 0-d float32 Tensors, as in
torch).  ``state_dict()`` / ``load_state_dict()`` use torch's layout.
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
