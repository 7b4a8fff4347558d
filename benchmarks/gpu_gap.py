"""Where the transformer-block step's time goes on the host and the device, measured three ways
in one process: gpu.py's batching (k steps, then one sync), 20 queued steps, and after a heavy
matmul phase (clocks, memory pool state). Also the host time to build the graph vs to dispatch it.

    python benchmarks/gpu_gap.py
"""
import os
import statistics
import sys
import time

import mlx.core as mx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_step_profile import mlx_block_step  # noqa: E402


def timeit(run, sync, samples=7):
    run(); sync()
    t = time.perf_counter(); run(); sync(); one = time.perf_counter() - t
    k = max(1, min(200, int(0.03 / max(one, 1e-6))))
    res = []
    for _ in range(samples):
        t = time.perf_counter()
        for _ in range(k):
            run()
        sync()
        res.append((time.perf_counter() - t) / k * 1e3)
    return statistics.median(res), k, one * 1e3, res


def main():
    step, blk, opt, x, lg = mlx_block_step()

    def report(tag):
        med, k, one, res = timeit(step, mx.synchronize)
        print(f"{tag}: timeit median {med:.3f} ms/step (k={k}, first single step {one:.3f} ms, "
              f"samples {' '.join(f'{r:.3f}' for r in res)})", flush=True)
        t = time.perf_counter()
        for _ in range(20):
            step()
        th = time.perf_counter()
        mx.synchronize()
        tw = time.perf_counter()
        print(f"{tag}: 20 queued steps {(tw - t) / 20 * 1e3:.3f} ms/step, host {(th - t) / 20 * 1e3:.3f}",
              flush=True)
        # host split: graph building vs async_eval (dispatch), GPU idle at start
        mx.synchronize()
        tb = td = 0.0
        for _ in range(10):
            t0 = time.perf_counter()
            loss, g = lg(blk, x)
            opt.update(blk, g)
            t1 = time.perf_counter()
            mx.async_eval(loss, blk.parameters(), opt.state)
            t2 = time.perf_counter()
            mx.synchronize()
            tb += t1 - t0
            td += t2 - t1
        print(f"{tag}: build {tb / 10 * 1e3:.3f} ms, dispatch {td / 10 * 1e3:.3f} ms per step; "
              f"active {mx.get_active_memory() / 2**20:.0f} MiB, cache {mx.get_cache_memory() / 2**20:.0f} MiB",
              flush=True)

    report("fresh")
    report("again")
    a = mx.random.normal((8192, 8192))
    b = mx.random.normal((8192, 8192))
    t = time.perf_counter()
    while time.perf_counter() - t < 3.0:
        mx.eval(a @ b)
    report("after 3 s of f32 matmul")


if __name__ == "__main__":
    main()
