"""Memory counters and limits, devices, streams, the mx.stream context manager,
synchronize, device info and backend availability."""

import gc
import threading

import mlx.core as mx
import pytest

MB = 1 << 20

# --------------------------------------------------------------------------------------
# memory


def _fresh():
    gc.collect()
    mx.synchronize()


def test_memory_counters_are_ints():
    for f in (mx.get_active_memory, mx.get_peak_memory, mx.get_cache_memory):
        v = f()
        assert isinstance(v, int) and v >= 0


def test_active_memory_tracks_evaluated_arrays():
    _fresh()
    before = mx.get_active_memory()
    # arange, not ones: a broadcast constant need not allocate its full size.
    a = mx.arange(1_000_000, dtype=mx.float32)
    mx.eval(a)
    during = mx.get_active_memory()
    assert during - before >= a.nbytes
    assert mx.get_peak_memory() >= during
    del a
    _fresh()
    assert mx.get_active_memory() <= during - 4_000_000


def test_lazy_arrays_allocate_only_when_evaluated():
    _fresh()
    before = mx.get_active_memory()
    a = mx.arange(1_000_000, dtype=mx.float32) * 2
    # Building the graph allocates (almost) nothing.
    assert mx.get_active_memory() - before < 1_000_000
    mx.eval(a)
    assert mx.get_active_memory() - before >= 4_000_000
    del a


def test_peak_memory_and_reset():
    _fresh()
    a = mx.arange(2_000_000, dtype=mx.float32)
    mx.eval(a)
    del a
    _fresh()
    assert mx.get_peak_memory() >= 8_000_000
    assert mx.reset_peak_memory() is None
    assert mx.get_peak_memory() <= mx.get_active_memory() + 1024


def test_cache_and_clear_cache():
    _fresh()
    a = mx.arange(1_000_000, dtype=mx.float32)
    mx.eval(a)
    del a
    _fresh()
    assert mx.get_cache_memory() >= 0
    assert mx.clear_cache() is None
    assert mx.get_cache_memory() == 0


def test_set_cache_limit_returns_previous_and_zero_disables_cache():
    old = mx.set_cache_limit(0)
    try:
        assert isinstance(old, int) and old >= 0
        assert mx.set_cache_limit(0) == 0
        _fresh()
        a = mx.arange(1_000_000, dtype=mx.float32)
        mx.eval(a)
        del a
        _fresh()
        assert mx.get_cache_memory() == 0
        assert mx.set_cache_limit(64 * MB) == 0
        assert mx.set_cache_limit(0) == 64 * MB
    finally:
        mx.set_cache_limit(old)


def test_set_memory_limit_returns_previous():
    old = mx.set_memory_limit(2**30)
    try:
        assert isinstance(old, int) and old > 0
        assert mx.set_memory_limit(123 * MB) == 2**30
        assert mx.set_memory_limit(2**30) == 123 * MB
        # A small limit is a guideline, not a hard error for small graphs.
        mx.eval(mx.ones((10, 10)) + 1)
    finally:
        mx.set_memory_limit(old)


def test_set_wired_limit():
    old = mx.set_wired_limit(0)
    assert isinstance(old, int) and old >= 0
    mx.set_wired_limit(old)


def test_memory_limit_arguments_are_checked():
    with pytest.raises(TypeError):
        mx.set_memory_limit(-1)
    with pytest.raises(TypeError):
        mx.set_cache_limit("1GB")


# --------------------------------------------------------------------------------------
# devices


def test_device_types():
    assert isinstance(mx.cpu, mx.DeviceType) and isinstance(mx.gpu, mx.DeviceType)
    assert mx.cpu == mx.DeviceType.cpu and mx.gpu == mx.DeviceType.gpu
    assert mx.cpu != mx.gpu


def test_device_objects():
    d = mx.Device(mx.cpu)
    assert d.type == mx.cpu
    assert d == mx.Device(mx.cpu, 0)
    # A Device compares equal to its DeviceType.
    assert d == mx.cpu
    assert mx.Device(mx.gpu) != d
    assert repr(d) == str(d) == "Device(cpu, 0)"
    assert repr(mx.Device(mx.gpu)) == "Device(gpu, 0)"
    assert repr(mx.Device(mx.cpu, 1)) == "Device(cpu, 1)"
    # Devices are hashable (MLX 0.32 hashes by identity although == compares values).
    assert isinstance(hash(d), int)


def test_availability():
    assert mx.is_available(mx.cpu)
    assert mx.is_available(mx.Device(mx.cpu))
    assert isinstance(mx.is_available(mx.gpu), bool)
    assert mx.device_count(mx.cpu) == 1
    assert (mx.device_count(mx.gpu) > 0) == mx.is_available(mx.gpu)
    # This project never builds Metal off Apple; CUDA is the GPU backend when present.
    assert mx.metal.is_available() is False
    assert mx.cuda.is_available() is mx.is_available(mx.gpu)


def test_device_info():
    info = mx.device_info()
    assert isinstance(info, dict)
    cpu = mx.device_info(mx.cpu)
    assert isinstance(cpu, dict)
    assert mx.device_info(mx.Device(mx.cpu)) == cpu
    if not mx.is_available(mx.gpu):
        assert "device_name" in cpu and "architecture" in cpu
        assert mx.device_info(mx.gpu) == {}
    for k in info:
        assert isinstance(k, str)


def test_default_device():
    d = mx.default_device()
    assert isinstance(d, mx.Device)
    assert d.type == (mx.gpu if mx.is_available(mx.gpu) else mx.cpu)


def test_set_default_device_roundtrip():
    old = mx.default_device()
    try:
        mx.set_default_device(mx.cpu)
        assert mx.default_device() == mx.Device(mx.cpu)
        mx.set_default_device(mx.Device(mx.cpu))
        assert mx.default_device() == mx.cpu
        if not mx.is_available(mx.gpu):
            with pytest.raises(ValueError, match=r"\[set_default_device\]"):
                mx.set_default_device(mx.gpu)
            assert mx.default_device() == mx.cpu
    finally:
        mx.set_default_device(old)


def test_device_fixture_sets_default(device):
    assert mx.default_device() == device
    out = mx.arange(3) + 1
    assert out.tolist() == [1, 2, 3]


# --------------------------------------------------------------------------------------
# streams


def test_default_stream(device):
    s = mx.default_stream(device)
    assert isinstance(s, mx.Stream)
    assert s.device == device
    assert s == mx.default_stream(device)
    assert repr(s).startswith(f"Stream({device!r}, ")
    with pytest.raises(TypeError):
        mx.default_stream()
    with pytest.raises(TypeError):
        mx.Stream(mx.Device(mx.cpu), 0)


def test_new_stream(device):
    s1 = mx.new_stream(device)
    s2 = mx.new_stream(device)
    assert s1 != s2 and s1 != mx.default_stream(device)
    assert s1.device == device
    out = mx.add(mx.array([1, 2]), mx.array([3, 4]), stream=s1)
    mx.synchronize(s1)
    assert out.tolist() == [4, 6]
    # Results computed on one stream feed ops on another.
    out2 = mx.multiply(out, 2, stream=s2)
    assert out2.tolist() == [8, 12]


def test_gpu_streams_without_gpu():
    if mx.is_available(mx.gpu):
        pytest.skip("a GPU is available")
    with pytest.raises(ValueError, match=r"\[new_stream\]"):
        mx.new_stream(mx.gpu)
    with pytest.raises(ValueError):
        mx.default_stream(mx.gpu)
    with pytest.raises(ValueError):
        mx.add(mx.array(1), mx.array(2), stream=mx.gpu)


@pytest.mark.parametrize("kind", ["stream", "device", "device_type"])
def test_stream_argument_forms(device, kind):
    s = {"stream": mx.new_stream(device), "device": device, "device_type": device.type}[
        kind
    ]
    assert mx.add(mx.array(1), mx.array(2), stream=s).item() == 3
    assert mx.sum(mx.arange(4), stream=s).item() == 6
    assert mx.zeros((2,), stream=s).tolist() == [0.0, 0.0]


def test_stream_context_manager(device):
    s = mx.new_stream(device)
    before_stream = mx.default_stream(device)
    before_device = mx.default_device()
    with mx.stream(s):
        assert mx.default_stream(device) == s
        assert mx.default_device() == device
        out = mx.arange(3) * 2
    assert out.tolist() == [0, 2, 4]
    assert mx.default_stream(device) == before_stream
    assert mx.default_device() == before_device


def test_stream_context_with_device_and_nesting():
    s = mx.new_stream(mx.cpu)
    with mx.stream(mx.cpu):
        assert mx.default_device() == mx.cpu
        with mx.stream(s):
            assert mx.default_stream(mx.cpu) == s
        assert mx.default_stream(mx.cpu) != s
    with mx.stream(mx.Device(mx.cpu)):
        assert mx.default_device() == mx.cpu
    assert isinstance(mx.stream(mx.cpu), mx.StreamContext)


def test_stream_context_restores_after_exception():
    s = mx.new_stream(mx.cpu)
    before = mx.default_stream(mx.cpu)
    with pytest.raises(RuntimeError):
        with mx.stream(s):
            raise RuntimeError("boom")
    assert mx.default_stream(mx.cpu) == before


def test_set_default_stream():
    old = mx.default_stream(mx.cpu)
    s = mx.new_stream(mx.cpu)
    try:
        mx.set_default_stream(s)
        assert mx.default_stream(mx.cpu) == s
        assert (mx.arange(3) + 1).tolist() == [1, 2, 3]
    finally:
        mx.set_default_stream(old)
    assert mx.default_stream(mx.cpu) == old


def test_synchronize(device):
    a = mx.arange(10) * 3
    mx.async_eval(a)
    assert mx.synchronize() is None
    assert mx.synchronize(mx.default_stream(device)) is None
    s = mx.new_stream(device)
    b = mx.add(a, 1, stream=s)
    mx.async_eval(b)
    mx.synchronize(s)
    assert b.tolist() == [3 * i + 1 for i in range(10)]


def test_thread_local_stream():
    s = mx.new_thread_local_stream(mx.cpu)
    assert isinstance(s, mx.ThreadLocalStream)
    assert mx.add(mx.array(1), mx.array(2), stream=s).item() == 3


def test_ops_from_other_threads():
    results = [None] * 4
    # Evaluated first: in MLX 0.32 a graph built in one thread cannot be evaluated in
    # another ("There is no Stream(cpu, 0) in current thread.").
    shared = mx.arange(100)
    mx.eval(shared)

    def work(i):
        results[i] = (mx.sum(shared * i) + i).item()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [4950 * i + i for i in range(4)]
