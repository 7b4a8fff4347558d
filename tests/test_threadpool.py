"""The CPU thread pool under load: parallel kernels issued back to back, from several Python
threads at once, with pauses around the time the pool's workers stop spinning and sleep, and
with a kernel that raises inside a chunk. Results are checked against NumPy each time."""
import threading
import time

import numpy as np
import pytest

import mlx.core as mx

CPU = mx.cpu


def _check_chain(r, n):
    a = r.standard_normal(n).astype(np.float32)
    x = mx.array(a)
    y = mx.add(mx.multiply(mx.exp(x, stream=CPU), 2, stream=CPU), x, stream=CPU)
    np.testing.assert_allclose(np.array(y), np.exp(a) * 2 + a, rtol=1e-5, atol=1e-5)


def test_kernels_across_the_spin_to_sleep_boundary():
    # Pauses from 0 to 600 us land before, at and after the moment the workers block.
    r = np.random.default_rng(0)
    for _ in range(250):
        _check_chain(r, 200_000)
        time.sleep(float(r.uniform(0, 0.0006)))


def test_kernels_from_several_threads_at_once():
    errors = []

    def work(seed):
        try:
            r = np.random.default_rng(seed)
            for i in range(100):
                _check_chain(r, int(r.integers(1, 300_000)))
                if i % 25 == 0:
                    time.sleep(0.001)
        except Exception as e:  # reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    work(99)
    for t in threads:
        t.join()
    assert not errors, errors


def test_an_error_inside_a_parallel_kernel_surfaces_and_the_pool_keeps_working():
    singular = mx.zeros((64, 8, 8))
    for _ in range(3):
        with pytest.raises(RuntimeError, match="singular"):
            mx.eval(mx.linalg.inv(singular, stream=CPU))
        _check_chain(np.random.default_rng(1), 500_000)


def test_more_threads_than_cpus():
    # An oversubscribed pool (workers block instead of spinning) gives the same results.
    import os
    import subprocess
    import sys

    code = ("import numpy as np, mlx.core as mx\n"
            "r = np.random.default_rng(2)\n"
            "for n in (1, 70_000, 1_000_003):\n"
            "    a = r.standard_normal(n).astype(np.float32)\n"
            "    y = mx.exp(mx.array(a)) * 2 + mx.array(a)\n"
            "    assert np.allclose(np.array(y), np.exp(a) * 2 + a, rtol=1e-5, atol=1e-5)\n"
            "m = r.standard_normal((300, 200)).astype(np.float32)\n"
            "assert np.allclose(np.array(mx.array(m) @ mx.array(m.T)), m @ m.T, rtol=1e-4, atol=1e-3)\n"
            "print('ok')\n")
    env = dict(os.environ, MLX_NUM_THREADS=str(4 * (os.cpu_count() or 1) + 1))
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))] +
                                        [p for p in [env.get("PYTHONPATH")] if p])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
