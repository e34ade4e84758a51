"""One seeded generator drives initialization, dropout and shuffling, so the same seed and
inputs give bit-identical results on the same machine."""

from __future__ import annotations

from . import backend

_np = backend.np


class Generator:
    """A random stream (torch.Generator's ``manual_seed``/``get_state``/``set_state``)."""

    def __init__(self, device="cpu"):
        self.device = backend.device(device)
        self._rng = _np.random.default_rng(0)
        self._seed = 0

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
        self._seed = seed
        self._rng = _np.random.default_rng(seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The generator's state as plain JSON-able values (no pickle)."""
        return {"seed": self._seed, "bit_generator": self._rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._seed = int(state["seed"])
        rng = _np.random.default_rng()
        rng.bit_generator.state = state["bit_generator"]
        self._rng = rng


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (initialization, dropout, shuffling)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    s = int(_np.random.SeedSequence().entropy % (2**63))
    default_generator.manual_seed(s)
    return s


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def _rng(generator):
    return (generator or default_generator)._rng


def _place(array, device):
    dev = backend.device(device or "cpu")
    return backend.to_device(array, dev) if dev.type != "cpu" else array


# Arrays are drawn on the CPU with NumPy's generator (so results do not depend on the device)
# and then moved; float32 draws are made in float32 directly where NumPy can.

def uniform_array(shape, low, high, np_dtype, device=None, generator=None):
    rng = _rng(generator)
    if np_dtype in (_np.float32, _np.float64):
        a = rng.random(shape, dtype=np_dtype)
    else:
        a = rng.random(shape).astype(np_dtype)
    if low != 0 or high != 1:
        a = (a * (high - low) + low).astype(np_dtype, copy=False)
    return _place(a, device)


def normal_array(shape, mean, std, np_dtype, device=None, generator=None):
    rng = _rng(generator)
    if np_dtype in (_np.float32, _np.float64):
        a = rng.standard_normal(shape, dtype=np_dtype)
    else:
        a = rng.standard_normal(shape).astype(np_dtype)
    if std != 1 or mean != 0:
        a = (a * std + mean).astype(np_dtype, copy=False)
    return _place(a, device)


def integers_array(low, high, shape, np_dtype, device=None, generator=None):
    return _place(_rng(generator).integers(low, high, size=shape, dtype=np_dtype), device)


def permutation_array(n, device=None, generator=None):
    return _place(_rng(generator).permutation(n).astype(_np.int64), device)
