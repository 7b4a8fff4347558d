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
