"""Two variants of the same CPU work, alternated step by step in one process, so that a noisy
machine slows both alike: the uncompiled against the compiled exp*b+sin chain (1e7 floats),
and the uncompiled against the compiled MLP training step (peers.py's shapes: batch 256,
784-512-512-10, SGD).

Run: python benchmarks/cpu_ab.py [--only chain|mlp] [--reps N]
Prints each pair's medians and their ratio.
"""

import argparse
import time
from functools import partial

import numpy as np

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim


def alternate(a, b, reps):
    for _ in range(3):
        a()
        b()
    ta, tb = [], []
    for i in range(reps):
        for f, t in ((a, ta), (b, tb)) if i % 2 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            f()
            t.append(time.perf_counter() - t0)
    ta.sort()
    tb.sort()
    return ta[reps // 2] * 1e3, tb[reps // 2] * 1e3


def chain(reps):
    rng = np.random.default_rng(0)
    x = mx.array(rng.standard_normal(10_000_000).astype(np.float32))
    y = mx.array(rng.standard_normal(10_000_000).astype(np.float32))
    f = lambda x, y: mx.exp(x) * y + mx.sin(x)
    cf = mx.compile(f)
    e, c = alternate(lambda: mx.eval(f(x, y)), lambda: mx.eval(cf(x, y)), reps)
    print(f"chain_exp_mul_sin_1e7  eager {e:.2f} ms  compiled {c:.2f} ms  eager/compiled {e / c:.2f}")


def mlp(reps):
    rng = np.random.default_rng(0)
    sizes = (784, 512, 512, 10)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

        def __call__(self, h):
            for layer in self.layers[:-1]:
                h = nn.relu(layer(h))
            return self.layers[-1](h)

    model = MLP()
    mx.eval(model.parameters())
    opt = optim.SGD(learning_rate=0.01)
    x = mx.array(rng.standard_normal((256, sizes[0])).astype(np.float32))
    y = mx.array(rng.integers(0, sizes[-1], 256).astype(np.int32))
    vg = nn.value_and_grad(model, lambda m, x, y: nn.losses.cross_entropy(m(x), y, reduction="mean"))
    state = [model.state, opt.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def cstep(x, y):
        loss, grads = vg(model, x, y)
        opt.update(model, grads)
        return loss

    def plain():
        loss, grads = vg(model, x, y)
        opt.update(model, grads)
        mx.eval(loss, model.parameters(), opt.state)

    p, c = alternate(plain, lambda: mx.eval(cstep(x, y), state), reps)
    print(f"mlp_train_step_b256  uncompiled {p:.3f} ms  compiled {c:.3f} ms  uncompiled/compiled {p / c:.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["chain", "mlp"])
    ap.add_argument("--reps", type=int, default=0)
    args = ap.parse_args()
    if args.only in (None, "chain"):
        chain(args.reps or 60)
    if args.only in (None, "mlp"):
        mlp(args.reps or 300)
