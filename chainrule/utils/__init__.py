"""``chainrule.utils``: mirrors ``torch.utils`` (``chainrule.utils.data``)."""

from . import data

__all__ = ["data"]
