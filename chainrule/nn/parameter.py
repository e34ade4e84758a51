"""``Parameter``: a Tensor that a Module registers as learnable when assigned to it."""

from __future__ import annotations

from .. import backend
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning one to a Module attribute registers it
    (``module.parameters()``, ``state_dict()``).  ``Parameter(t)`` shares ``t``'s memory.

    >>> import chainrule as cr
    >>> p = cr.nn.Parameter(cr.zeros(2))
    >>> p.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            array = backend.np.empty(0, dtype=backend.get_default_dtype().np)
            version = [0]
        elif isinstance(data, Tensor):
            array, version = data.data, data._version  # shared memory, shared version counter
        elif backend.is_array(data):
            array, version = data, [0]
        else:
            raise TypeError(f"Parameter: data must be a Tensor, got {type(data).__name__}")
        self.data = array
        self._grad = None
        self._node = None
        self._version = version
        self._hooks = None
        self._name = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        # copy.deepcopy(model) gives each copy its own array, still a Parameter
        return (_rebuild_parameter, (self.data, self.requires_grad, self.grad))


def _rebuild_parameter(array, requires_grad, grad):
    p = Parameter(array, requires_grad=False)
    p.requires_grad = requires_grad
    p.grad = grad
    return p
