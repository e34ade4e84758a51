"""The standard benchmark task (shared/DESIGN.md), run by ``chainrule bench``.

Classification MLP (784-256-128-10 and 784-1024-1024-1024-10), ReLU, softmax cross-entropy,
float32, SGD with momentum 0.9 and lr 0.01, on synthetic data (60,000 x 784 standard normal
inputs, labels from a fixed random linear teacher, seed 0).  Every implementation trains
from the same initial weights on the same batches:

- ``chainrule``: the public API exactly as a user writes it (``nn.Sequential``,
  ``F.cross_entropy``, ``loss.backward()``, ``optim.SGD``, batches from ``DataLoader``);
- ``compiled``: the same training step wrapped in ``chainrule.compile`` (opt-in, one line);
- ``torch``: PyTorch eager (``torch.nn`` + ``torch.optim.SGD``, same threads), when
  installed, batched by one vectorized index (its fastest way);
- ``numpy``: a hand-written NumPy forward/backward of the same net, the floor that any NumPy
  framework can at best reach.

Rounds are interleaved (each round runs every implementation once, after a short rest: see
``IDLE_S``) and ratios are taken within a round, so that a noisy neighbour slows all of
them alike.  A check that all implementations reach the same loss comes first.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

CONFIGS = {
    "small-32": {"sizes": (784, 256, 128, 10), "batch": 32, "samples": 16_384},
    "small-128": {"sizes": (784, 256, 128, 10), "batch": 128, "samples": 32_768},
    "small-1024": {"sizes": (784, 256, 128, 10), "batch": 1024, "samples": 60_000},
    "large-256": {"sizes": (784, 1024, 1024, 1024, 10), "batch": 256, "samples": 8_192},
}
LR, MOMENTUM = 0.01, 0.9


# --------------------------------------------------------------------------- data


def make_data(n=60_000, d=784, k=10, seed=0):
    """Standard-normal inputs; labels = argmax(X @ W) for a fixed random teacher W."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    teacher = rng.standard_normal((d, k), dtype=np.float32)
    y = np.argmax(x @ teacher, axis=1).astype(np.int64)
    return x, y


def init_weights(sizes, seed=0):
    """torch.nn.Linear's default init (uniform, bound 1/sqrt(fan_in)) from one NumPy seed,
    so that every implementation starts from identical weights."""
    rng = np.random.default_rng(seed + 1)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        layers.append((w, b))
    return layers


# --------------------------------------------------------------------------- trainers
# Each trainer takes the data, the initial weights and a batch order, and returns
# ``run(steps) -> list of losses`` so that timing excludes set-up.


def chainrule_trainer(x, y, weights, batch, order, compiled=False):
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.utils.data import DataLoader, TensorDataset

    layers = []
    for i, (w, b) in enumerate(weights):
        lin = nn.Linear(w.shape[1], w.shape[0])
        with cr.no_grad():
            lin.weight.copy_(cr.from_numpy(w))
            lin.bias.copy_(cr.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    # the batch order is fixed (shared by all implementations): a sampler that yields it
    data = TensorDataset(cr.from_numpy(x), cr.from_numpy(y))
    loader = DataLoader(data, batch_size=batch, sampler=order.tolist(), drop_last=True)

    def train_step(xb, yb):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    step = cr.compile(train_step) if compiled else train_step

    def run(steps):
        losses = []
        it = iter(loader)
        for _ in range(steps):
            xb, yb = next(it)
            losses.append(step(xb, yb))
        return [v.item() for v in losses]

    return run


def chainrule_compiled_trainer(x, y, weights, batch, order):
    return chainrule_trainer(x, y, weights, batch, order, compiled=True)


def torch_trainer(x, y, weights, batch, order):
    import torch

    layers = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    idx = torch.from_numpy(order)

    def run(steps):
        losses = []
        for s in range(steps):
            # torch's fastest batching: one vectorized index (its DataLoader would collate
            # sample by sample, which is slower; we time the best case)
            sel = idx[s * batch:(s + 1) * batch]
            xb, yb = xt[sel], yt[sel]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss)
        return [v.item() for v in losses]

    return run


def numpy_trainer(x, y, weights, batch, order):
    ws = [(w.T.copy(), b.copy()) for w, b in weights]  # (in, out) layout for x @ w
    vel = [(np.zeros_like(w), np.zeros_like(b)) for w, b in ws]

    def run(steps):
        losses = []
        for s in range(steps):
            sel = order[s * batch:(s + 1) * batch]
            h, yb = x[sel], y[sel]
            acts = [h]
            for i, (w, b) in enumerate(ws):
                h = h @ w + b
                if i < len(ws) - 1:
                    np.maximum(h, 0, out=h)
                acts.append(h)
            # softmax cross-entropy, its gradient is (softmax - onehot) / n
            z = h - h.max(axis=1, keepdims=True)
            e = np.exp(z)
            s_ = e.sum(axis=1, keepdims=True)
            n = len(yb)
            losses.append(float(np.log(s_[:, 0]).mean() - z[np.arange(n), yb].mean()))
            g = e / s_
            g[np.arange(n), yb] -= 1
            g /= n
            for i in range(len(ws) - 1, -1, -1):
                w, b = ws[i]
                a = acts[i]
                gw, gb = a.T @ g, g.sum(axis=0)
                if i:
                    g = g @ w.T
                    g *= acts[i] > 0
                vw, vb = vel[i]
                vw *= MOMENTUM
                vw += gw
                vb *= MOMENTUM
                vb += gb
                w -= LR * vw
                b -= LR * vb
        return losses

    return run


TRAINERS = {"chainrule": chainrule_trainer, "compiled": chainrule_compiled_trainer,
            "torch": torch_trainer, "numpy": numpy_trainer}


# --------------------------------------------------------------------------- measuring

# The targets (chainrule / other, samples per second, within one round).
TARGETS = {
    "small-32": {"torch": 1.7, "numpy": 0.90},
    "small-128": {"torch": 1.7, "numpy": 0.90},
    "small-1024": {"torch": 1.7, "numpy": 0.95},
    "large-256": {"torch": 1.7, "numpy": 0.95},
}

# Seconds of rest before each timed run.  OpenBLAS's worker threads spin for about 0.1 s
# after a matrix product before they sleep, and so do the OpenMP threads of torch: a run
# that starts right after another implementation's shares its two cores with those
# spinning threads (measured: torch at batch 32 went from 464 to 813 us per step, NumPy
# from 310 to 462).  Resting lets every implementation start on idle cores.
IDLE_S = 0.5


def available(names):
    out = []
    for name in names:
        if name == "torch":
            try:
                import torch  # noqa: F401
            except ImportError:
                continue
        out.append(name)
    return out


def blas_info():
    """The BLAS library, its kernel (architecture) and its threads, from threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to see the BLAS library and its kernel)"
    infos = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernels, "
             f"{i.get('num_threads')} threads, {os.path.basename(i.get('filepath', ''))})"
             for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(infos) or "unknown"


def set_threads(threads, impls):
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))  # effective before load
    if "torch" in impls:
        import torch

        torch.set_num_threads(threads)


def check_same_losses(x, y, impls, steps=20, batch=128):
    """Every implementation, from the same weights on the same batches, must reach the same
    loss (float32 tolerance) after ``steps`` steps."""
    sizes = CONFIGS["small-128"]["sizes"]
    order = np.random.default_rng(0).permutation(len(x))
    results = {}
    for name in impls:
        run = TRAINERS[name](x, y, init_weights(sizes), batch, order)
        results[name] = run(steps)
    ref = results["numpy"] if "numpy" in results else next(iter(results.values()))
    ok = all(abs(r[-1] - ref[-1]) <= 1e-3 * max(1.0, abs(ref[-1])) for r in results.values())
    return ok, {k: (v[0], v[-1]) for k, v in results.items()}


def time_config(x, y, config, impls, rounds, idle=IDLE_S, log=None):
    """``rounds`` rounds; in each, every implementation trains ``samples`` samples (after a
    3-step warm-up and a rest of ``idle`` seconds).  Returns one {impl: samples/s} per
    round."""
    sizes, batch, samples = config["sizes"], config["batch"], config["samples"]
    order = np.random.default_rng(0).permutation(len(x))
    steps = min(samples, len(order)) // batch
    per_round = []
    for r in range(rounds):
        times = {}
        for name in impls:
            run = TRAINERS[name](x, y, init_weights(sizes), batch, order)
            run(3)  # warm up (first allocations, caches, a compiled step's recording)
            if idle:
                time.sleep(idle)
            t0 = time.perf_counter()
            run(steps)
            times[name] = steps * batch / (time.perf_counter() - t0)
        per_round.append(times)
        if log is not None:
            log(f"  round {r + 1}: " + "  ".join(f"{k} {v:,.0f}" for k, v in times.items()))
    return per_round


_MEMORY_CODE = """
import json, os, resource, sys
threads = {threads}
try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
except ImportError:
    pass
from chainrule import bench
x, y = bench.make_data()
cfg = bench.CONFIGS[{config!r}]
import numpy as np
if {impl!r} == "torch":
    import torch
    torch.set_num_threads(threads)
order = np.random.default_rng(0).permutation(len(x))
run = bench.TRAINERS[{impl!r}](x, y, bench.init_weights(cfg["sizes"]), cfg["batch"], order)

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")

base = status("VmRSS")
try:  # reset the peak (VmHWM) to the current size, so that it measures training only
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
run(20)
peak = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"added": peak - base}}))
"""


def peak_memory_mb(config_name, impl, threads=2):
    """Peak resident memory that 20 training steps add to a process holding the data and the
    model (MiB), measured in a fresh process for each implementation."""
    code = _MEMORY_CODE.format(threads=threads, config=config_name, impl=impl)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=600, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])["added"]
    except Exception:  # memory is reported as unknown rather than failing the benchmark
        return float("nan")


def ratios(per_round, impls):
    """{(mine, other): (median, min, max)} of samples/s ratios taken within each round."""
    out = {}
    for mine in ("chainrule", "compiled"):
        for other in ("torch", "numpy"):
            if mine in impls and other in impls:
                rs = [r[mine] / r[other] for r in per_round]
                out[mine, other] = (statistics.median(rs), min(rs), max(rs))
    return out


def _fmt_ratio(r, target=None):
    if r is None:
        return "-"
    mark = "" if target is None else (" ok" if r[0] >= target else " MISS")
    return f"{r[0]:.2f} [{r[1]:.2f}-{r[2]:.2f}]{mark}"


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(prog="chainrule bench", description=(
        "Train the standard task (shared/DESIGN.md) with chainrule (eager, and with "
        "chainrule.compile), PyTorch eager (when installed) and a hand-written NumPy "
        "forward/backward, from the same weights on the same batches, in interleaved "
        "rounds; print samples per second, ratios, peak memory and the BLAS in use."))
    p.add_argument("--configs", default=",".join(CONFIGS),
                   help="comma-separated, from: " + ", ".join(CONFIGS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    p.add_argument("--impls", default="chainrule,compiled,torch,numpy",
                   help="comma-separated, from: " + ", ".join(TRAINERS))
    p.add_argument("--idle", type=float, default=IDLE_S,
                   help="seconds of rest before each timed run (default %(default)s; see "
                        "IDLE_S in chainrule/bench.py)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--quiet", action="store_true", help="don't print each round")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)

    wanted = [s for s in args.impls.split(",") if s]
    bad = [s for s in wanted if s not in TRAINERS]
    if bad:
        p.error(f"unknown implementation(s) {bad}; choose from {list(TRAINERS)}")
    impls = available(wanted)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")
    set_threads(args.threads, impls)
    versions = f"numpy {np.__version__}"
    if "torch" in impls:
        import torch

        versions += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    elif "torch" in wanted:
        versions += ", torch not installed (no PyTorch columns)"
    print(f"BLAS: {blas_info()}")
    print(f"{versions}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}; "
          f"threads={args.threads}; rest {args.idle} s before each timed run")
    x, y = make_data()
    ok, losses = check_same_losses(x, y, impls)
    print("same-loss check (same weights, same batches, 20 steps at batch 128): " +
          ("OK" if ok else "MISMATCH") + "\n  " +
          "  ".join(f"{k} {a:.5f} -> {b:.5f}" for k, (a, b) in losses.items()))
    print(f"\nsamples/second, median [min-max] of {args.rounds} interleaved rounds")
    results = {"blas": blas_info(), "threads": args.threads, "same_loss": ok,
               "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE",
                                                              "OPENBLAS_L2_SIZE")},
               "configs": {}}
    table = []
    for name in configs:
        per_round = time_config(x, y, CONFIGS[name], impls, args.rounds, args.idle,
                                log=None if args.quiet else print)
        med = {k: statistics.median(r[k] for r in per_round) for k in impls}
        lo = {k: min(r[k] for r in per_round) for k in impls}
        hi = {k: max(r[k] for r in per_round) for k in impls}
        print(f"{name:<11} " + "  ".join(f"{k} {med[k]:,.0f} [{lo[k]:,.0f}-{hi[k]:,.0f}]"
                                         for k in impls))
        mem = {} if args.no_memory else {k: peak_memory_mb(name, k, args.threads)
                                         for k in impls}
        rs = ratios(per_round, impls)
        results["configs"][name] = {
            "samples_per_s": {k: [r[k] for r in per_round] for k in impls},
            "ratios": {f"{a}/{b}": v for (a, b), v in rs.items()}, "peak_mib": mem}
        table.append((name, rs, mem))

    print("\nchainrule / other, samples per second (median [min-max] of the per-round ratios; "
          "target in parentheses)")
    cols = [(m, o) for m in ("chainrule", "compiled") for o in ("torch", "numpy")
            if m in impls and o in impls]
    head = "".join(f"{m + '/' + o:>28}" for m, o in cols)
    print(f"{'config':<11}{head}")
    for name, rs, _ in table:
        cells = []
        for c in cols:
            target = TARGETS.get(name, {}).get(c[1])
            cell = _fmt_ratio(rs.get(c), target) + (f" ({target})" if target else "")
            cells.append(f"{cell:>28}")
        print(f"{name:<11}" + "".join(cells))
    if not args.no_memory:
        print("\npeak memory added by training (MiB): " + ", ".join(impls))
        for name, _, mem in table:
            print(f"{name:<11}" + "".join(f"{mem.get(k, float('nan')):>12.1f}" for k in impls))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
