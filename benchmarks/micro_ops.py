"""Per-primitive overhead: record one op on small tensors, then backpropagate through it.

    python benchmarks/micro_ops.py [--size 16] [--repeat 2000]

Small tensors make the array arithmetic negligible, so the time is the framework's own
cost per op (dispatch, graph node, backward walk).  PyTorch eager is timed in the same run
when it is installed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import chainrule as cr

try:
    import torch
except ImportError:  # the comparison column is optional
    torch = None


def _specs(n):
    """(name, fn(lib, x, y, idx)) pairs; ``lib`` is chainrule or torch."""
    return [
        ("add", lambda L, x, y, i: x + y),
        ("mul", lambda L, x, y, i: x * y),
        ("div", lambda L, x, y, i: x / y),
        ("pow 2", lambda L, x, y, i: x**2),
        ("exp", lambda L, x, y, i: x.exp()),
        ("log", lambda L, x, y, i: y.log()),
        ("tanh", lambda L, x, y, i: x.tanh()),
        ("sigmoid", lambda L, x, y, i: x.sigmoid()),
        ("relu", lambda L, x, y, i: x.relu()),
        ("sum(dim)", lambda L, x, y, i: x.sum(1)),
        ("mean", lambda L, x, y, i: x.mean()),
        ("amax(dim)", lambda L, x, y, i: x.amax(1)),
        ("reshape", lambda L, x, y, i: x.reshape(-1)),
        ("transpose", lambda L, x, y, i: x.t()),
        ("getitem slice", lambda L, x, y, i: x[1:, :3]),
        ("getitem ints", lambda L, x, y, i: x[i]),
        ("matmul", lambda L, x, y, i: x @ y),
        ("softmax", lambda L, x, y, i: x.softmax(-1)),
        ("log_softmax", lambda L, x, y, i: x.log_softmax(-1)),
        ("cat", lambda L, x, y, i: L.cat([x, y], 0)),
    ]


def _time(fn, repeat):
    fn()  # warm up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best * 1e6  # microseconds


def run(size=16, repeat=2000):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((size, size)).astype(np.float32)
    ya = (rng.random((size, size)) + 0.5).astype(np.float32)
    ia = np.array([0, 2, 2, 5])
    rows = []
    for name, op in _specs(size):
        x = cr.tensor(xa, requires_grad=True)
        y = cr.tensor(ya, requires_grad=True)
        i = cr.tensor(ia)

        def step_cr(op=op, x=x, y=y, i=i):  # bound now: the loop variables move on
            out = op(cr, x, y, i)
            out.backward(cr.ones_like(out))

        t_cr = _time(step_cr, repeat)
        t_th = None
        if torch is not None:
            xt = torch.tensor(xa, requires_grad=True)
            yt = torch.tensor(ya, requires_grad=True)
            it = torch.tensor(ia)

            def step_th(op=op, xt=xt, yt=yt, it=it):
                out = op(torch, xt, yt, it)
                out.backward(torch.ones_like(out))

            t_th = _time(step_th, repeat)
        rows.append((name, t_cr, t_th))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    rows = run(args.size, args.repeat)
    print(f"forward + backward of one op on {args.size}x{args.size} float32 "
          f"(microseconds, best of 3 x {args.repeat})")
    print(f"{'op':<16}{'chainrule':>11}{'torch':>9}{'torch/chainrule':>17}")
    for name, a, b in rows:
        tb = f"{b:9.1f}" if b is not None else f"{'-':>9}"
        ratio = f"{b / a:17.2f}" if b is not None else f"{'-':>17}"
        print(f"{name:<16}{a:11.1f}{tb}{ratio}")


if __name__ == "__main__":
    main()
