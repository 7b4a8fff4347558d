"""Where the time of the transformer-block training step goes on the GPU (bf16, d=1024, h=16,
L=1024, B=8, as ../shared/bench/gpu.py's transformer_block_train_bf16): each piece timed alone.

    python benchmarks/gpu_block_profile.py
"""
import time

import numpy as np

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

B, L, D, H = 8, 1024, 1024, 16


def timeit(name, f, reps=10):
    mx.eval(f())
    mx.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        mx.async_eval(f())
    mx.synchronize()
    print(f"{name:40s} {(time.perf_counter() - t) / reps * 1e3:8.3f} ms", flush=True)


def main():
    rng = np.random.default_rng(0)
    bf = mx.bfloat16
    x = mx.array(rng.standard_normal((B, L, D), dtype=np.float32)).astype(bf)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(L).astype(bf)
    blk = nn.TransformerEncoderLayer(D, H, 4 * D, dropout=0.0, norm_first=True)
    blk.set_dtype(bf)
    loss = lambda mdl, v: (mdl(v, mask).astype(mx.float32) ** 2).mean()
    lg = nn.value_and_grad(blk, loss)
    opt = optim.AdamW(learning_rate=1e-4)
    mx.eval(blk.parameters())

    timeit("block forward", lambda: blk(x, mask))
    timeit("block value_and_grad", lambda: lg(blk, x))
    _, grads = lg(blk, x)
    mx.eval(grads)

    def upd():
        opt.update(blk, grads)
        return blk.parameters(), opt.state
    timeit("AdamW update", upd)

    def step():
        l, g = lg(blk, x)
        opt.update(blk, g)
        return l, blk.parameters(), opt.state
    timeit("full step", step)

    ln = nn.LayerNorm(D)
    ln.set_dtype(bf)
    timeit("layer_norm fwd", lambda: ln(x))
    timeit("layer_norm fwd+bwd", lambda: mx.grad(lambda v: (ln(v).astype(mx.float32) ** 2).sum())(x))
    q = mx.array(rng.standard_normal((B, H, L, D // H), dtype=np.float32)).astype(bf)
    sd = lambda a, m: mx.fast.scaled_dot_product_attention(a, a, a, scale=0.125, mask=m)
    timeit("sdpa fwd (additive mask)", lambda: sd(q, mask))
    timeit("sdpa fwd (causal)", lambda: sd(q, "causal"))
    timeit("sdpa fwd+bwd (additive mask)", lambda: mx.grad(lambda a: sd(a, mask).astype(mx.float32).sum())(q))
    timeit("sdpa fwd+bwd (causal)", lambda: mx.grad(lambda a: sd(a, "causal").astype(mx.float32).sum())(q))
    w1 = mx.array(rng.standard_normal((4 * D, D), dtype=np.float32) * 0.02).astype(bf)
    x2 = x.reshape(B * L, D)
    timeit("linear d->4d fwd", lambda: x2 @ w1.T)
    timeit("linear d->4d fwd+bwd",
           lambda: mx.grad(lambda a, w: (a @ w.T).astype(mx.float32).sum(), argnums=(0, 1))(x2, w1))
    h = x2 @ w1.T
    mx.eval(h)
    timeit("relu fwd+bwd", lambda: mx.grad(lambda a: nn.relu(a).astype(mx.float32).sum())(h))
    timeit("(y.f32**2).mean fwd+bwd", lambda: mx.grad(lambda a: (a.astype(mx.float32) ** 2).mean())(x))
    print("host fallbacks:", mx.cuda._host_fallbacks())


if __name__ == "__main__":
    main()
