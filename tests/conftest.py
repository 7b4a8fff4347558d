"""Shared pytest configuration: hypothesis profiles, the `device` fixture,
`on_cpu_if_float64` (float64 work runs on the CPU stream when the GPU is the default device) and
`NoHostRuns` (the GPU tests' check that a GPU kernel ran)."""

import contextlib
import os

import mlx.core as mx
import pytest
from hypothesis import HealthCheck, settings

# "ci" (the default) keeps the suite fast; "long" is for local runs:
# HYPOTHESIS_PROFILE=long pytest tests/
settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev",
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _devices():
    devices = [mx.Device(mx.cpu)]
    if mx.is_available(mx.gpu):
        devices.append(mx.Device(mx.gpu))
    return devices


DEVICES = _devices()


@pytest.fixture(params=DEVICES, ids=lambda d: "gpu" if d.type == mx.gpu else "cpu")
def device(request):
    """Runs the test once per available device, with that device as the default."""
    old = mx.default_device()
    mx.set_default_device(request.param)
    try:
        yield request.param
    finally:
        mx.set_default_device(old)


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test name (and MLX_TEST_SEED, default 0), so
    each test is reproducible and other seeds can be tried."""
    import zlib

    import numpy as np

    salt = int(os.environ.get("MLX_TEST_SEED", "0"))
    return np.random.default_rng([zlib.crc32(request.node.name.encode()), salt])


def _is_float64(dtype):
    if dtype is None:
        return False
    if isinstance(dtype, mx.Dtype):
        return dtype == mx.float64
    try:
        import numpy as np

        return np.dtype(dtype) == np.float64
    except TypeError:
        return False


def on_cpu_if_float64(*dtypes):
    """Context manager: runs its block on the CPU stream when one of `dtypes` (MLX or NumPy
    dtypes) is float64 and the default device is not the CPU, since a GPU stream raises
    ValueError for any float64 output (as in MLX); otherwise the block runs on the default
    device unchanged. Tests use it around their float64 parts only, so the rest of each test
    still runs on the default device.

        with on_cpu_if_float64(dtype):
            y = op(x.astype(dtype))
    """
    if any(_is_float64(d) for d in dtypes) and mx.default_device() != mx.cpu:
        return mx.stream(mx.cpu)
    return contextlib.nullcontext()


def float64_on_cpu():
    """Context manager for blocks that compute in float64 throughout (gradient checks with
    central differences, reference computations): the CPU stream when the default device is
    not the CPU, else nothing changes."""
    return on_cpu_if_float64(mx.float64)


def host_runs(names=None):
    """Nodes of GPU streams that ran on the host so far, per 'Name (dtype)', for the primitives
    named (all when None)."""
    counts = mx.cuda._host_fallbacks()
    return {k: v for k, v in counts.items() if names is None or k.split(" (")[0] in names}


class NoHostRuns:
    """Context: fails if a node of the named primitives (all when None) ran on the host inside
    it instead of on a GPU kernel."""

    def __init__(self, names=None):
        self.names = names

    def __enter__(self):
        mx.synchronize()
        self.before = host_runs(self.names)
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is not None:
            return False
        mx.synchronize()
        after = host_runs(self.names)
        grew = {k: v - self.before.get(k, 0) for k, v in after.items() if v != self.before.get(k, 0)}
        assert not grew, f"ran on the host instead of the GPU: {grew}"
        return False
