"""``chainrule.nn``: modules, parameters, layers, losses, ``functional``, ``init`` and
``utils`` with torch.nn's names, signatures and defaults."""

from . import functional, init, utils  # noqa: I001
from .parameter import Parameter
from .module import Module
from .containers import ModuleDict, ModuleList, Sequential
from .linear import Identity, Linear
from .flatten import Flatten, Unflatten
from .dropout import Dropout
from .sparse import Embedding
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .activation import (
    ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, ReLU, ReLU6, Sigmoid, SiLU,
    Softmax, Softmin, Softplus, Tanh,
)
from .loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
    NLLLoss, SmoothL1Loss,
)

__all__ = [
    "functional", "init", "utils", "Parameter", "Module", "Sequential", "ModuleList",
    "ModuleDict", "Identity", "Linear", "Flatten", "Unflatten", "Dropout", "Embedding",
    "LayerNorm", "BatchNorm1d", "BatchNorm2d", "ReLU", "ReLU6", "Hardtanh", "LeakyReLU", "ELU",
    "SELU", "GELU", "SiLU", "Tanh", "Sigmoid", "LogSigmoid", "Softplus", "Softmax", "Softmin",
    "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
    "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss",
]
