"""chainrule.save / chainrule.load: safetensors files, typed round trips, atomic writes,
clear errors for foreign or truncated files, and no code execution on load."""

from __future__ import annotations

import io
import json
import math
import os
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule import serialization


def _same(a, b):
    """Deep equality that also checks types, tensor dtypes/shapes and NaN."""
    if isinstance(a, cr.Tensor):
        return (isinstance(b, cr.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and a.requires_grad == b.requires_grad
                and np.array_equal(a.detach().numpy(), b.detach().numpy(), equal_nan=True))
    if isinstance(a, (np.ndarray, np.generic)):
        return (type(a) is type(b) and a.dtype == b.dtype and np.shape(a) == np.shape(b)
                and np.array_equal(a, b, equal_nan=True))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return (list(a) == list(b) and all(type(k) is type(kb) for k, kb in zip(a, b))
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _optimizer_like_state():
    return {
        "state": {0: {"step": 3, "exp_avg": cr.randn(3, 2), "flag": True},
                  1: {"step": cr.tensor(3.0), "momentum_buffer": None}},
        "param_groups": [{"params": [0, 1], "lr": 1e-3, "betas": (0.9, 0.999),
                          "weight_decay": 0.0, "name": "decay", "nesterov": False}],
    }


CASES = {
    "flat state_dict": lambda: {"fc1.weight": cr.randn(4, 3), "fc1.bias": cr.zeros(4),
                                "bn.num_batches_tracked": cr.tensor(7)},
    "optimizer state_dict (int keys)": _optimizer_like_state,
    "every dtype": lambda: {d.name: cr.ones(2, 2, dtype=d) for d in
                            (cr.float16, cr.float32, cr.float64, cr.int8, cr.int16, cr.int32,
                             cr.int64, cr.uint8, cr.bool)},
    "scalars and empties": lambda: {"0d": cr.tensor(2.5), "empty": cr.zeros(0, 3),
                                    "np0d": np.float32(1.5), "arr": np.arange(4, dtype=np.int16)},
    "plain values": lambda: {"s": "héllo", "i": -(2 ** 70), "f": 0.1, "t": True, "n": None,
                             "nan": float("nan"), "inf": float("-inf"), "nested": [[1, (2, "x")]],
                             "empty": {}, "tuple": ()},
    "odd keys": lambda: {1: "int", 2.5: "float", None: "none", False: "bool", (1, "a"): "tuple",
                         "__tensor__": "a key that looks like a tag"},
    "top-level list": lambda: [cr.ones(2), 3, "x"],
    "dtype and device": lambda: {"dtype": cr.float64, "device": cr.device("cpu")},
    "requires_grad": lambda: {"w": cr.randn(2, requires_grad=True)},
    "non-contiguous": lambda: {"t": cr.tensor(np.arange(12.0).reshape(3, 4).T)},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip(tmp_path, case):
    obj = CASES[case]()
    path = tmp_path / "ckpt.safetensors"
    cr.save(obj, path)
    assert _same(obj, cr.load(path))


def test_round_trip_through_file_objects():
    obj = _optimizer_like_state()
    buf = io.BytesIO()
    cr.save(obj, buf)
    buf.seek(0)
    assert _same(obj, cr.load(buf))


def test_shared_tensor_is_stored_once_and_stays_shared(tmp_path):
    w = cr.randn(5)
    cr.save({"a": w, "b": [w]}, tmp_path / "f")
    out = cr.load(tmp_path / "f")
    assert out["a"] is out["b"][0]
    header = _header(tmp_path / "f")
    assert [k for k in header if k != "__metadata__"] == ["a"]


def test_loaded_tensors_are_writable_cpu_tensors(tmp_path):
    cr.save({"w": cr.ones(3)}, tmp_path / "f")
    w = cr.load(tmp_path / "f", map_location="cpu")["w"]
    assert w.device == cr.device("cpu")
    w.add_(1)
    assert w.tolist() == [2.0, 2.0, 2.0]


def test_map_location_callable_and_dict(tmp_path):
    cr.save({"w": cr.ones(2)}, tmp_path / "f")
    seen = []
    out = cr.load(tmp_path / "f", map_location=lambda t, loc: seen.append(loc) or t * 2)
    assert seen == ["cpu"] and out["w"].tolist() == [2.0, 2.0]
    assert cr.load(tmp_path / "f", map_location={"cpu": "cpu"})["w"].tolist() == [1.0, 1.0]


def _header(path):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n])


def test_file_is_safetensors_layout(tmp_path):
    """The layout the safetensors spec fixes, checked by hand (no library needed)."""
    obj = {"layer": {"w": cr.tensor([[1.0, 2.0]]), "b": cr.tensor([1, 2], dtype=cr.int16)}}
    cr.save(obj, tmp_path / "f")
    raw = open(tmp_path / "f", "rb").read()
    n = int.from_bytes(raw[:8], "little")
    assert (8 + n) % 8 == 0 and raw[8:9] == b"{"
    header = json.loads(raw[8:8 + n])
    assert header["layer.w"] == {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}
    assert header["layer.b"] == {"dtype": "I16", "shape": [2], "data_offsets": [8, 12]}
    data = raw[8 + n:]
    assert len(data) == 12
    assert np.frombuffer(data[:8], "<f4").tolist() == [1.0, 2.0]
    assert np.frombuffer(data[8:], "<i2").tolist() == [1, 2]
    assert all(isinstance(v, str) for v in header["__metadata__"].values())


def test_readable_by_the_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    obj = {"model": {"fc.weight": cr.randn(3, 4), "fc.bias": cr.zeros(3, dtype=cr.float64),
                     "steps": cr.tensor([1, 2, 3]), "mask": cr.tensor([True, False])},
           "optimizer": _optimizer_like_state(), "epoch": 4}
    cr.save(obj, tmp_path / "f.safetensors")
    arrays = st.load_file(str(tmp_path / "f.safetensors"))
    assert np.array_equal(arrays["model.fc.weight"], obj["model"]["fc.weight"].numpy())
    assert arrays["model.mask"].dtype == np.bool_
    assert np.array_equal(arrays["optimizer.state.0.exp_avg"],
                          obj["optimizer"]["state"][0]["exp_avg"].numpy())
    # and a file the safetensors package wrote loads as a dict of tensors
    st.save_file({"a": np.arange(3, dtype=np.int32)}, str(tmp_path / "g.safetensors"))
    out = cr.load(tmp_path / "g.safetensors")
    assert out["a"].tolist() == [0, 1, 2] and out["a"].dtype == cr.int32


def test_rng_state_round_trips_and_reproduces_draws(tmp_path):
    cr.manual_seed(42)
    cr.randn(3)
    cr.save({"rng": cr.random.get_rng_state()}, tmp_path / "f")
    expected = cr.randn(5).tolist()
    cr.manual_seed(0)
    state = cr.load(tmp_path / "f")["rng"]
    cr.random.set_rng_state(state)
    assert cr.randn(5).tolist() == expected
    g = cr.Generator().manual_seed(9)
    cr.save(g.get_state(), tmp_path / "g")
    want = cr.rand(4, generator=g).tolist()
    h = cr.Generator()
    h.set_state(cr.load(tmp_path / "g"))
    assert cr.rand(4, generator=h).tolist() == want


# ----------------------------------------------------------------------------- safety


def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    cr.save({"w": cr.ones(1000), "epoch": 1}, path)
    before = open(path, "rb").read()

    calls = []

    def failing(f, array):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        f.write(memoryview(array.reshape(-1).view(np.uint8)))

    monkeypatch.setattr(serialization, "_write_array", failing)
    with pytest.raises(OSError, match="simulated"):
        cr.save({"w": cr.zeros(1000), "v": cr.zeros(1000), "epoch": 2}, path)
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["ckpt"]  # no temporary file left behind
    assert cr.load(path)["epoch"] == 1


def test_unsaveable_objects_fail_before_writing(tmp_path):
    path = tmp_path / "ckpt"
    cr.save({"epoch": 1}, path)
    with pytest.raises(TypeError, match=r"can't save .*object.* at 'opt\.fn'.*no pickle"):
        cr.save({"opt": {"fn": object()}}, path)
    with pytest.raises(TypeError, match="dict key"):
        cr.save({frozenset(): 1}, path)
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        cr.save(loop, path)
    assert cr.load(path) == {"epoch": 1}


class _Evil:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_loading_a_malicious_pickle_runs_no_code(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(_Evil(str(marker))))
    with pytest.raises(ValueError, match="is not a chainrule checkpoint"):
        cr.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("name,content", [
    ("empty", b""),
    ("short", b"\x01\x02"),
    ("text", b"hello world, this is not a checkpoint at all"),
    ("pickle", pickle.dumps({"a": 1})),
    ("zip", b"PK\x03\x04" + b"\x00" * 60),
    ("json header of a list", (2).to_bytes(8, "little") + b"[]"),
])
def test_foreign_files_are_rejected(tmp_path, name, content):
    path = tmp_path / "foreign.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"load: .*foreign\.pt is not a chainrule checkpoint \("):
        cr.load(path)


@pytest.mark.parametrize("cut", [4, 8, 20, -1, -4000])
def test_truncated_checkpoints_are_rejected(tmp_path, cut):
    path = tmp_path / "ckpt"
    cr.save({"w": cr.ones(1000), "b": cr.ones(10)}, path)
    raw = open(path, "rb").read()
    path.write_bytes(raw[:cut])
    with pytest.raises(ValueError, match="is not a chainrule checkpoint"):
        cr.load(path)


def test_tampered_header_is_rejected(tmp_path):
    path = tmp_path / "ckpt"
    cr.save({"w": cr.ones(4)}, path)
    raw = bytearray(open(path, "rb").read())
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n].replace(b'"shape":[4]', b'"shape":[5]')
    path.write_bytes(bytes(raw[:8]) + bytes(header) + bytes(raw[8 + n:]))
    with pytest.raises(ValueError, match="does not match its byte range"):
        cr.load(path)


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cr.save({}, tmp_path / "nope" / "ckpt")


def test_full_training_checkpoint_resumes_bit_identically(tmp_path):
    """Model + optimizer + loader position + RNG in one file: the resumed run's parameters
    equal the uninterrupted run's, bit for bit."""
    nn = pytest.importorskip("chainrule.nn")
    optim = pytest.importorskip("chainrule.optim")
    from chainrule.utils.data import DataLoader, TensorDataset

    cr.manual_seed(0)
    X, y = cr.randn(40, 4), cr.randint(0, 3, (40,))

    def setup():
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        opt = optim.Adam(model.parameters(), lr=0.01)
        return model, opt, DataLoader(TensorDataset(X, y), batch_size=6, shuffle=True)

    def train(model, opt, batches):
        for xb, yb in batches:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()

    def run(loader, steps, it=None):
        it = it or iter(loader)
        out = []
        while len(out) < steps:
            try:
                out.append(next(it))
            except StopIteration:
                it = iter(loader)
        return out, it

    cr.manual_seed(1)
    model, opt, loader = setup()
    batches, it = run(loader, 4)
    train(model, opt, batches)
    cr.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "loader": loader.state_dict(), "rng": cr.random.get_rng_state(), "step": 4},
            tmp_path / "ckpt")
    batches, _ = run(loader, 9, it)  # crosses into the next epoch
    train(model, opt, batches)
    expected = [p.detach().numpy().copy() for p in model.parameters()]

    cr.manual_seed(123)
    model, opt, loader = setup()
    ckpt = cr.load(tmp_path / "ckpt")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    loader.load_state_dict(ckpt["loader"])
    cr.random.set_rng_state(ckpt["rng"])
    batches, _ = run(loader, 9)
    train(model, opt, batches)
    assert ckpt["step"] == 4
    for want, got in zip(expected, model.parameters()):
        assert np.array_equal(want, got.detach().numpy())
