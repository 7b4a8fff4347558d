"""CUDA graphs on and off: a step of many small elementwise kernels (sizes 1K and 1M), queued
50 times without waiting, then once per step with a wait; ms per step.

    python benchmarks/gpu_graphs.py            # graphs on (default)
    MLX_CUDA_GRAPHS=0 python benchmarks/gpu_graphs.py
"""
import os
import time

import mlx.core as mx


def step(x):
    for i in range(100):
        x = mx.sin(x) * 1.0001 + 0.001
    return x


for n in (1 << 10, 1 << 20):
    x = mx.random.normal((n,))
    mx.eval(x)
    for _ in range(3):
        mx.eval(step(x))
    t = time.perf_counter()
    for _ in range(50):
        mx.async_eval(step(x))
    host = (time.perf_counter() - t) / 50 * 1e3
    mx.synchronize()
    queued = (time.perf_counter() - t) / 50 * 1e3
    t = time.perf_counter()
    for _ in range(20):
        mx.eval(step(x))
    waited = (time.perf_counter() - t) / 20 * 1e3
    print(f"graphs={os.environ.get('MLX_CUDA_GRAPHS', '1')} n={n}: queued {queued:.3f} ms/step "
          f"(host {host:.3f}), waited {waited:.3f} ms/step; {mx.cuda._graph_stats()}")
