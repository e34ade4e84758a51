"""``chainrule.alias_as_torch()``: make ``import torch`` mean chainrule in this process.

``import chainrule as torch`` renames the package in one file only: a later
``import torch.nn as nn`` (or ``from torch.utils.data import DataLoader``) goes through
``sys.modules`` and loads the real PyTorch, or fails where it is not installed.  Registering
chainrule's modules under torch's names lets an unmodified torch script run on chainrule::

    import chainrule
    chainrule.alias_as_torch()   # before the script's first `import torch`
    import torch, torch.nn as nn, torch.nn.functional as F
    from torch.utils.data import DataLoader

It is opt-in and process-wide (every later ``import torch`` anywhere gets chainrule), so it
belongs at the top of a script or in a launcher, not in library code.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["alias_as_torch", "TORCH_MODULES"]

# torch's module names that chainrule provides, and the chainrule module behind each
TORCH_MODULES = {
    "torch": "chainrule",
    "torch.nn": "chainrule.nn",
    "torch.nn.functional": "chainrule.nn.functional",
    "torch.nn.init": "chainrule.nn.init",
    "torch.nn.parameter": "chainrule.nn.parameter",
    "torch.nn.utils": "chainrule.nn.utils",
    "torch.nn.utils.clip_grad": "chainrule.nn.utils.clip_grad",
    "torch.nn.utils.convert_parameters": "chainrule.nn.utils.convert_parameters",
    "torch.optim": "chainrule.optim",
    "torch.optim.optimizer": "chainrule.optim.optimizer",
    "torch.optim.lr_scheduler": "chainrule.optim.lr_scheduler",
    "torch.optim.sgd": "chainrule.optim.sgd",
    "torch.optim.adam": "chainrule.optim.adam",
    "torch.optim.adamw": "chainrule.optim.adamw",
    "torch.optim.rmsprop": "chainrule.optim.rmsprop",
    "torch.optim.adagrad": "chainrule.optim.adagrad",
    "torch.utils": "chainrule.utils",
    "torch.utils.data": "chainrule.utils.data",
    "torch.utils.data.dataloader": "chainrule.utils.data.dataloader",
    "torch.utils.data.dataset": "chainrule.utils.data.dataset",
    "torch.utils.data.sampler": "chainrule.utils.data.sampler",
    "torch.autograd": "chainrule.autograd",
    "torch.autograd.function": "chainrule.autograd.function",
    "torch.autograd.grad_mode": "chainrule.autograd.grad_mode",
    "torch.autograd.gradcheck": "chainrule.autograd.gradcheck",
    "torch.func": "chainrule.func",
    "torch.serialization": "chainrule.serialization",
}


class _NoOtherTorchModules:
    """Once torch is chainrule, ``import torch.distributions`` (a torch module chainrule lacks)
    fails with a message that says why, instead of loading a stray copy of a chainrule file
    under a torch name."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.startswith("torch.") and sys.modules.get("torch") is sys.modules["chainrule"]:
            raise ModuleNotFoundError(
                f"No module named {name!r}: chainrule.alias_as_torch() made `torch` chainrule, "
                f"which has no {name} (it provides {', '.join(sorted(TORCH_MODULES)[:4])}, ...; "
                f"see chainrule.torch_alias.TORCH_MODULES)", name=name)
        return None


def alias_as_torch():
    """Register chainrule's modules as ``torch``, ``torch.nn``, ``torch.nn.functional``,
    ``torch.optim``, ``torch.optim.lr_scheduler``, ``torch.utils.data``, ``torch.autograd``,
    ``torch.func``... (``TORCH_MODULES``) in ``sys.modules``, so that later imports of those
    names in this process get chainrule.  Returns the chainrule module.

    Call it before anything imports torch: if the real PyTorch is already imported this
    raises ``RuntimeError`` (mixing the two would pass torch tensors to chainrule).  Calling
    it again is harmless.
    """
    chainrule = sys.modules["chainrule"]
    current = sys.modules.get("torch")
    if current is chainrule:
        return chainrule
    if current is not None:
        raise RuntimeError("alias_as_torch: the real torch is already imported in this process "
                           f"({getattr(current, '__file__', current)!r}); call "
                           "chainrule.alias_as_torch() before the first `import torch`")
    modules = {alias: importlib.import_module(real) for alias, real in TORCH_MODULES.items()}
    sys.modules.update(modules)
    if not any(isinstance(f, _NoOtherTorchModules) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoOtherTorchModules())
    return chainrule
