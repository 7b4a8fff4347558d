"""Core benchmarks: our package beside NumPy on the same inputs, plus graph overhead.

Run: python benchmarks/bench_core.py [--only NAME]
Prints one line per workload: name, our median ms, numpy median ms, ratio (numpy / ours); then
graph overhead, and uncompiled against compiled (MLP steps, the exp*y+sin chain) alternating
call by call in one process.
"""

import argparse
import statistics
import time

import numpy as np

import mlx.core as mx


def timeit(fn, min_time=1.0, max_reps=50):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def workloads():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10_000_000).astype(np.float32)
    y = rng.standard_normal(10_000_000).astype(np.float32)
    m = rng.standard_normal((4096, 4096)).astype(np.float32)
    a1 = rng.standard_normal((1024, 1024)).astype(np.float32)
    a2 = rng.standard_normal((2048, 2048)).astype(np.float32)
    mx_x, mx_y, mx_m, mx_a1, mx_a2 = map(mx.array, (x, y, m, a1, a2))
    w = mx.ones((4096,))
    b = mx.zeros((4096,))

    def np_softmax(v):
        e = np.exp(v - v.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def np_layernorm(v):
        mu = v.mean(axis=-1, keepdims=True)
        var = v.var(axis=-1, keepdims=True)
        return (v - mu) / np.sqrt(var + 1e-5)

    chain = lambda a, b: mx.exp(a) * b + mx.sin(a)
    chain_c = mx.compile(chain)
    ln = (lambda v: mx.fast.layer_norm(v, w, b, 1e-5)) if hasattr(mx, "fast") and hasattr(mx.fast, "layer_norm") else (
        lambda v: (v - v.mean(-1, keepdims=True)) * mx.rsqrt(v.var(-1, keepdims=True) + 1e-5))
    return [
        ("add_1e7", lambda: mx.eval(mx_x + mx_y), lambda: x + y),
        ("chain_exp_mul_sin_1e7", lambda: mx.eval(chain(mx_x, mx_y)), lambda: np.exp(x) * y + np.sin(x)),
        ("chain_exp_mul_sin_1e7_compiled", lambda: mx.eval(chain_c(mx_x, mx_y)), lambda: np.exp(x) * y + np.sin(x)),
        ("sum_1e7", lambda: mx.eval(mx_x.sum()), lambda: x.sum()),
        ("sum_axis1_4096x4096", lambda: mx.eval(mx_m.sum(axis=1)), lambda: m.sum(axis=1)),
        ("transpose_copy_4096x4096", lambda: mx.eval(mx.contiguous(mx_m.T)), lambda: np.ascontiguousarray(m.T)),
        ("matmul_1024", lambda: mx.eval(mx_a1 @ mx_a1), lambda: a1 @ a1),
        ("matmul_2048", lambda: mx.eval(mx_a2 @ mx_a2), lambda: a2 @ a2),
        ("softmax_4096x4096", lambda: mx.eval(mx.softmax(mx_m, axis=-1)), lambda: np_softmax(m)),
        ("layernorm_4096x4096", lambda: mx.eval(ln(mx_m)), lambda: np_layernorm(m)),
    ]


def graph_overhead(n_ops=100, reps=200):
    """Microseconds per op to build and evaluate a chain of n_ops scalar ops, and with grad."""
    x = mx.array(1.0)

    def f(v):
        for _ in range(n_ops // 2):
            v = v * 1.0001
            v = v + 0.0001
        return v

    def run():
        mx.eval(f(x))

    g = mx.grad(f)

    def run_grad():
        mx.eval(g(x))

    def np_run():
        v = np.float32(1.0)
        a = np.array(1.0, dtype=np.float32)
        for _ in range(n_ops // 2):
            a = np.multiply(a, 1.0001)
            a = np.add(a, 0.0001)
        return v

    t = timeit(run) * 1e3 / n_ops
    tg = timeit(run_grad) * 1e3 / n_ops
    tn = timeit(np_run) * 1e3 / n_ops
    return t, tg, tn


def mlp_steps(sizes=(16, 16, 16, 10), batch=4, reps=200):
    """Milliseconds per SGD training step of a small MLP, uncompiled and compiled (alternating
    calls), where per-op overhead rather than matmul time decides."""
    from functools import partial

    import mlx.nn as nn
    import mlx.optimizers as optim

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

        def __call__(self, h):
            for layer in self.layers[:-1]:
                h = nn.relu(layer(h))
            return self.layers[-1](h)

    def make():
        model = MLP()
        mx.eval(model.parameters())
        opt = optim.SGD(learning_rate=0.01)
        vg = nn.value_and_grad(model, lambda m, x, y: nn.losses.cross_entropy(m(x), y, reduction="mean"))
        return model, opt, vg

    x = mx.random.normal((batch, sizes[0]))
    y = mx.random.randint(0, sizes[-1], (batch,))
    m1, o1, vg1 = make()
    m2, o2, vg2 = make()
    state = [m2.state, o2.state]

    def run():
        loss, g = vg1(m1, x, y)
        o1.update(m1, g)
        mx.eval(loss, m1.parameters(), o1.state)

    @partial(mx.compile, inputs=state, outputs=state)
    def step(a, b):
        loss, g = vg2(m2, a, b)
        o2.update(m2, g)
        return loss

    def run_c():
        mx.eval(step(x, y), state)

    run(), run_c()
    tu, tc = [], []
    for _ in range(reps):
        for f, ts in ((run, tu), (run_c, tc)):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
    return statistics.median(tu) * 1e3, statistics.median(tc) * 1e3


def chain_steps(n=10_000_000, reps=60):
    """Milliseconds of exp(x) * y + sin(x) over n floats, uncompiled and compiled, alternating
    calls (a noisy machine slows both alike)."""
    rng = np.random.default_rng(0)
    x = mx.array(rng.standard_normal(n).astype(np.float32))
    y = mx.array(rng.standard_normal(n).astype(np.float32))
    f = lambda a, b: mx.exp(a) * b + mx.sin(a)
    cf = mx.compile(f)
    runs = (lambda: mx.eval(f(x, y)), lambda: mx.eval(cf(x, y)))
    for r in runs:
        r()
    te, tc = [], []
    for _ in range(reps):
        for r, ts in zip(runs, (te, tc)):
            t0 = time.perf_counter()
            r()
            ts.append(time.perf_counter() - t0)
    return statistics.median(te) * 1e3, statistics.median(tc) * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--only", default=None)
    args = p.parse_args()
    print(f"{'workload':36s} {'ours ms':>10s} {'numpy ms':>10s} {'numpy/ours':>10s}")
    for name, ours, ref in workloads():
        if args.only and args.only not in name:
            continue
        t_ours = timeit(ours)
        t_np = timeit(ref)
        print(f"{name:36s} {t_ours:10.2f} {t_np:10.2f} {t_np / t_ours:10.2f}")
    if not args.only or "overhead" in args.only:
        t, tg, tn = graph_overhead()
        print(f"graph overhead: {t:.2f} us/op build+eval, {tg:.2f} us/op with grad; numpy {tn:.2f} us/op")
    if not args.only or "mlp" in args.only:
        tu, tc = mlp_steps()
        print(f"mlp step 16-16-16-10 b4: {tu:.3f} ms uncompiled, {tc:.3f} ms compiled")
        # peers.py's MLP step (mlp_train_step_b256)
        tu, tc = mlp_steps(sizes=(784, 512, 512, 10), batch=256, reps=300)
        print(f"mlp step 784-512-512-10 b256: {tu:.3f} ms uncompiled, {tc:.3f} ms compiled, ratio {tu / tc:.2f}")
    if not args.only or "chain" in args.only:
        te, tc = chain_steps()
        print(f"exp*y+sin 1e7 alternating: {te:.2f} ms eager, {tc:.2f} ms compiled, ratio {te / tc:.2f}")


if __name__ == "__main__":
    main()
