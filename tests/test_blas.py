"""chainrule.blas: the level-1 BLAS kernel (axpby) the optimizers' updates use where NumPy's
bundled OpenBLAS provides one, checked against NumPy's arithmetic."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import blas, nn, optim

needs_kernel = pytest.mark.skipif(not blas.available(np.float32),
                                  reason="no checked BLAS kernel in this NumPy")


def _numpy_axpby(a, x, b, y):
    out = y * y.dtype.type(b)
    out += x * x.dtype.type(a)
    return out


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a,b", [(1.0, 0.9), (-0.01, 1.0), (0.5, -2.0)])
def test_axpby_is_numpy_up_to_the_products_rounding(dtype, a, b):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(10_007).astype(dtype)
    y = rng.standard_normal(10_007).astype(dtype)
    want = _numpy_axpby(a, x, b, y)
    got = y.copy()
    assert blas.axpby(a, x, b, got)
    slack = np.spacing(np.abs(a * x)) + np.spacing(np.abs(b * y)) + np.spacing(np.abs(want))
    assert np.all(np.abs(got - want) <= slack)
    assert not np.array_equal(got, y)


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a,b", [(-0.0123, 1.0), (1.0, 0.9), (0.37, -1.3)])
def test_axpby_gives_the_same_bits_whole_or_in_pieces(dtype, a, b):
    # the flat optimizer path updates one long array, the per-parameter loop its pieces;
    # long pieces run on several BLAS threads, short ones on one, at other offsets
    rng = np.random.default_rng(2)
    n = 2_100_013
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    whole = y.copy()
    assert blas.axpby(a, x, b, whole)
    pieces = y.copy()
    cuts = [0, 1, 17, 4099, 4100, 20_000, 30_011, 1_200_000, n]
    for lo, hi in zip(cuts, cuts[1:]):
        assert blas.axpby(a, x[lo:hi], b, pieces[lo:hi])
    assert np.array_equal(whole, pieces)


def _as_array(address, n, dtype):
    return np.frombuffer((ctypes.c_char * (n * np.dtype(dtype).itemsize)).from_address(address),
                         dtype=dtype)


def test_a_kernel_that_rounds_its_tail_differently_is_refused():
    # like OpenBLAS's Haswell saxpy: the product fused into the sum in the vector loop, not
    # in the tail, so that the same element rounds differently in a flat array and in a
    # parameter's own array; a kernel that rounds alike everywhere passes
    def uneven(n, a, x, b, y):
        xs, ys = _as_array(x, n, np.float32), _as_array(y, n, np.float32)
        body = n - n % 16
        ys[:body] = (np.float64(a) * xs[:body] + np.float64(b) * ys[:body]).astype(np.float32)
        ys[body:] = np.float32(a) * xs[body:] + np.float32(b) * ys[body:]

    def even(n, a, x, b, y):
        xs, ys = _as_array(x, n, np.float32), _as_array(y, n, np.float32)
        ys[:] = np.float32(a) * xs + np.float32(b) * ys

    assert not blas._same_in_pieces(uneven, np.dtype(np.float32))
    assert blas._same_in_pieces(even, np.dtype(np.float32))
    assert blas._agrees_with_numpy(even, np.dtype(np.float32))


@needs_kernel
def test_both_ways_of_running_it_agree_with_numpy_where_they_exist():
    lib, prefix, suffix, index = blas._find_library()
    for letter, dtype, scalar in (("s", np.float32, ctypes.c_float),
                                  ("d", np.float64, ctypes.c_double)):
        kernels = blas._load()  # (what axpby uses: checked, for the dtypes that have one)
        assert np.dtype(dtype) in kernels
        assert blas._agrees_with_numpy(kernels[np.dtype(dtype)], np.dtype(dtype))
        assert blas._same_in_pieces(kernels[np.dtype(dtype)], np.dtype(dtype))
        axpby = getattr(lib, f"{prefix}cblas_{letter}axpby{suffix}")
        axpby.argtypes = [index, scalar, ctypes.c_void_p, index, scalar, ctypes.c_void_p, index]
        assert blas._agrees_with_numpy(blas._axpby(axpby, scalar), np.dtype(dtype))


@needs_kernel
def test_axpby_matches_layouts_and_refuses_what_it_cannot_do():
    rng = np.random.default_rng(3)
    w = np.asfortranarray(rng.standard_normal((30, 40)).astype(np.float32))  # column-major
    g = np.ascontiguousarray(rng.standard_normal((30, 40)).astype(np.float32))
    got, ref = w.copy(order="F"), w.copy(order="F")
    assert blas.axpby(1.0, g, 0.9, got)  # g is brought to w's layout first
    assert blas.axpby(1.0, np.asfortranarray(g), 0.9, ref)
    assert np.array_equal(got, ref)
    y = rng.standard_normal(64).astype(np.float32)
    before = y.copy()
    assert not blas.axpby(0.0, y, 1.0, y)  # zero coefficients: NumPy's inf/NaN rules
    assert not blas.axpby(1.0, y, 0.0, y)
    assert not blas.axpby(1.0, y.astype(np.float64), 1.0, y)  # mixed dtypes
    assert not blas.axpby(1.0, y[::2], 1.0, y[1::2])  # not contiguous
    assert not blas.axpby(1.0, np.arange(4), 1.0, np.arange(4))  # integers
    assert not blas.axpby(1.0, cr.tensor(y), 1.0, y)  # only NumPy arrays
    assert np.array_equal(y, before)


def test_switched_off_by_the_environment():
    code = "import numpy, chainrule.blas as b; print(b.available(numpy.float32))"
    env = dict(os.environ, CHAINRULE_BLAS="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


def _train(steps=6):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((16, 20)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 5, 16))
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


@needs_kernel
def test_sgd_with_and_without_the_kernel_agree(monkeypatch):
    with_kernel = _train()
    monkeypatch.setattr(blas, "_KERNELS", {})  # as where no kernel was found
    without = _train()
    for a, b in zip(with_kernel, without):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@needs_kernel
def test_fresh_arrays_every_call_get_their_own_addresses():
    # the address cache must never hand an array another (dead) array's memory, even when
    # Python reuses the id of a freed array for the next one
    rng = np.random.default_rng(4)
    for i in range(400):
        n = 1000 + (i % 7)
        x = rng.standard_normal(n).astype(np.float32)
        y = rng.standard_normal(n).astype(np.float32)
        want = y.copy()
        want *= np.float32(0.5)
        want += x
        assert blas.axpby(1.0, x, 0.5, y)
        np.testing.assert_array_equal(y, want)  # alpha = 1: exact products, same bits
        del x, y
