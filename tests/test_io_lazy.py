"""Lazy loading: mx.load of a file on disk (.npy, .npz, .safetensors, .gguf) returns
unevaluated arrays (a ``Load`` node each) that read their own bytes from the file when they
are evaluated, so using one tensor of a large file reads only that tensor. Headers are still
validated completely at load time; the node keeps the file open (deleting the file after
loading is harmless) and refuses to read a file that was changed in place."""

import gc
import io
import os
import struct
import threading
import zipfile

import mlx.core as mx
import numpy as np
import pytest
from conftest import on_cpu_if_float64

MB = 1 << 20


def is_lazy(a):
    """True while `a` is an unevaluated Load node (seen through export_to_dot)."""
    f = io.StringIO()
    mx.export_to_dot(f, a)
    return "Load" in f.getvalue()


def np_of(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a)


def save_any(fmt, path, arrays):
    if fmt == "safetensors":
        mx.save_safetensors(path, arrays)
    elif fmt == "gguf":
        mx.save_gguf(path, arrays)
    elif fmt == "npz":
        mx.savez(path, **arrays)
    else:
        raise AssertionError(fmt)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


FORMATS = ["safetensors", "gguf", "npz"]


# ------------------------------------------------------------------ laziness and values
@pytest.mark.parametrize(
    "dtype", [mx.float32, mx.float16, mx.bfloat16, mx.int8, mx.int32, mx.uint8, mx.bool_,
              mx.complex64, mx.float64, mx.int64, mx.uint64]
)
def test_npy_is_lazy_and_matches(tmp_path, dtype):
    with on_cpu_if_float64(dtype):
        rng = np.random.default_rng(0)
        x = mx.array(rng.standard_normal((3, 5)) * 10).astype(dtype)
        if dtype == mx.complex64:
            x = x + 1j * mx.array(rng.standard_normal((3, 5)).astype(np.float32))
        path = str(tmp_path / "a.npy")
        mx.save(path, x)
        y = mx.load(path)
        assert is_lazy(y)
        assert y.shape == x.shape and y.dtype == x.dtype
        np.testing.assert_array_equal(np_of(y), np_of(x))
        assert not is_lazy(y)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dict_formats_are_lazy_and_match(tmp_path, fmt):
    rng = np.random.default_rng(1)
    arrays = {
        "a": mx.array(rng.standard_normal((4, 8)).astype(np.float32)),
        "b": mx.array(rng.integers(-50, 50, (7,)).astype(np.int32)),
        "c": mx.array(rng.standard_normal((2, 3, 4)).astype(np.float16)),
        "scalar": mx.array(3.5),
        "empty": mx.zeros((0, 4)),
    }
    path = str(tmp_path / f"m.{fmt}")
    save_any(fmt, path, arrays)
    out = mx.load(path)
    assert list(out) == list(arrays)
    for k, v in out.items():
        if v.size:
            assert is_lazy(v), k
        assert v.shape == arrays[k].shape and v.dtype == arrays[k].dtype
    # evaluating one tensor leaves the others unevaluated
    np.testing.assert_array_equal(np_of(out["b"]), np_of(arrays["b"]))
    assert not is_lazy(out["b"])
    assert is_lazy(out["a"]) and is_lazy(out["c"])
    for k in arrays:
        np.testing.assert_array_equal(np_of(out[k]), np_of(arrays[k]))


def test_metadata_formats_are_lazy(tmp_path):
    path = str(tmp_path / "m.safetensors")
    mx.save_safetensors(path, {"w": mx.arange(10.0)}, metadata={"k": "v"})
    arrays, meta = mx.load(path, return_metadata=True)
    assert meta == {"k": "v"} and is_lazy(arrays["w"])
    np.testing.assert_array_equal(np.array(arrays["w"]), np.arange(10.0, dtype=np.float32))
    path = str(tmp_path / "m.gguf")
    mx.save_gguf(path, {"w": mx.arange(10.0)}, metadata={"s": "text", "n": mx.array(3)})
    arrays, meta = mx.load(path, return_metadata=True)
    assert meta["s"] == "text" and meta["n"].item() == 3 and is_lazy(arrays["w"])
    np.testing.assert_array_equal(np.array(arrays["w"]), np.arange(10.0, dtype=np.float32))


def test_npy_big_endian_and_fortran_order(tmp_path):
    x = np.arange(24, dtype=">f4").reshape(4, 6) * 1.5
    p1 = str(tmp_path / "be.npy")
    np.save(p1, x)
    y = mx.load(p1)
    assert is_lazy(y) and y.dtype == mx.float32
    np.testing.assert_array_equal(np.array(y), x.astype("<f4"))
    xf = np.asfortranarray(np.arange(24, dtype=np.int16).reshape(2, 3, 4))
    p2 = str(tmp_path / "f.npy")
    np.save(p2, xf)
    y = mx.load(p2)
    assert is_lazy(y)
    np.testing.assert_array_equal(np.array(y), xf)
    xc = (np.arange(6) + 1j * np.arange(6)[::-1]).astype(">c8")
    p3 = str(tmp_path / "c.npy")
    np.save(p3, xc)
    np.testing.assert_array_equal(np.array(mx.load(p3)), xc.astype("<c8"))


def test_npz_compressed_members_and_file_objects_are_read_at_load(tmp_path):
    x = mx.arange(12.0).reshape(3, 4)
    path = str(tmp_path / "c.npz")
    mx.savez_compressed(path, x=x)
    out = mx.load(path)
    assert not is_lazy(out["x"])
    np.testing.assert_array_equal(np.array(out["x"]), np.array(x))
    # file objects are read before load returns: they may be closed afterwards
    for fmt in ["safetensors", "gguf", "npz"]:
        p = str(tmp_path / f"f.{fmt}")
        save_any(fmt, p, {"x": x})
        with open(p, "rb") as f:
            out = mx.load(f)
        assert not is_lazy(out["x"])
        np.testing.assert_array_equal(np.array(out["x"]), np.array(x))
    p = str(tmp_path / "f.npy")
    mx.save(p, x)
    with open(p, "rb") as f:
        y = mx.load(f)
    np.testing.assert_array_equal(np.array(y), np.array(x))
    y = mx.load(io.BytesIO(open(p, "rb").read()), format="npy")
    np.testing.assert_array_equal(np.array(y), np.array(x))


def test_npz_mixed_stored_and_deflated_members(tmp_path):
    path = str(tmp_path / "mixed.npz")
    a, b = np.arange(10, dtype=np.float32), np.arange(6, dtype=np.int64).reshape(2, 3)
    with zipfile.ZipFile(path, "w") as zf:
        for name, arr, comp in [("a", a, zipfile.ZIP_STORED), ("b", b, zipfile.ZIP_DEFLATED)]:
            buf = io.BytesIO()
            np.save(buf, arr)
            zf.writestr(name + ".npy", buf.getvalue(), compress_type=comp)
        zf.writestr("notes.txt", b"ignored")
    out = mx.load(path)
    assert list(out) == ["a", "b"]
    assert is_lazy(out["a"]) and not is_lazy(out["b"])
    np.testing.assert_array_equal(np.array(out["a"]), a)
    np.testing.assert_array_equal(np.array(out["b"]), b)
    # NumPy's own savez output
    p2 = str(tmp_path / "np.npz")
    np.savez(p2, x=a, y=b)
    out = mx.load(p2)
    assert is_lazy(out["x"]) and is_lazy(out["y"])
    np.testing.assert_array_equal(np.array(out["y"]), b)


# ------------------------------------------------------------------ memory
@pytest.mark.parametrize("fmt", FORMATS)
def test_one_tensor_of_a_large_file_reads_only_that_tensor(tmp_path, fmt):
    n = 4 * MB // 4  # 4 MB tensors
    path = str(tmp_path / f"big.{fmt}")
    arrays = {f"t{i}": mx.full((n,), float(i)) for i in range(6)}
    save_any(fmt, path, arrays)
    del arrays
    gc.collect()
    mx.clear_cache()
    size = os.path.getsize(path)
    assert size >= 24 * MB
    base = mx.get_active_memory()
    mx.reset_peak_memory()
    out = mx.load(path)
    assert mx.get_active_memory() - base < MB  # nothing read yet
    t3 = out["t3"]
    mx.eval(t3)  # the Load node runs on the CPU: nothing but t3's buffer is allocated
    used = mx.get_peak_memory() - base
    assert used < 4 * MB + MB, used  # one tensor (+ small), far below the file's 24 MB
    assert used < size / 4
    np.testing.assert_array_equal(np.array(t3), np.full(n, 3.0, np.float32))
    assert all(is_lazy(out[k]) for k in out if k != "t3")


def test_npy_peak_memory_is_one_copy(tmp_path):
    path = str(tmp_path / "one.npy")
    mx.save(path, mx.ones((2 * MB,)))  # 8 MB
    mx.clear_cache()
    base = mx.get_active_memory()
    mx.reset_peak_memory()
    y = mx.load(path)
    mx.eval(y)
    assert mx.get_peak_memory() - base <= 8 * MB + 4096


# ------------------------------------------------------------------ file lifetime
@pytest.mark.parametrize("fmt", FORMATS + ["npy"])
def test_deleted_or_replaced_file_still_reads(tmp_path, fmt):
    x = mx.arange(100.0).reshape(10, 10)
    path = str(tmp_path / f"d.{fmt}")
    if fmt == "npy":
        mx.save(path, x)
    else:
        save_any(fmt, path, {"x": x, "y": x + 1})
    out = mx.load(path)
    y = out if fmt == "npy" else out["x"]
    assert is_lazy(y)
    os.remove(path)
    np.testing.assert_array_equal(np.array(y), np.array(x))
    if fmt != "npy":
        np.testing.assert_array_equal(np.array(out["y"]), np.array(x + 1))
    # atomically replaced (a new file renamed over it): the loaded arrays keep the old data
    if fmt == "npy":
        mx.save(path, x)
    else:
        save_any(fmt, path, {"x": x, "y": x + 1})
    out = mx.load(path)
    y = out if fmt == "npy" else out["x"]
    tmp = str(tmp_path / f"new.{fmt}")
    if fmt == "npy":
        mx.save(tmp, x * 0)
    else:
        save_any(fmt, tmp, {"x": x * 0, "y": x * 0})
    os.replace(tmp, path)
    np.testing.assert_array_equal(np.array(y), np.array(x))


@pytest.mark.parametrize("fmt", FORMATS + ["npy"])
def test_file_overwritten_in_place_raises_at_eval(tmp_path, fmt):
    x = mx.arange(1000.0)
    path = str(tmp_path / f"o.{fmt}")

    def write(v):
        if fmt == "npy":
            mx.save(path, v)
        else:
            save_any(fmt, path, {"x": v})

    write(x)
    out = mx.load(path)
    y = out if fmt == "npy" else out["x"]
    # truncated in place: never read past the end, raise instead
    with open(path, "r+b") as f:
        f.truncate(10)
    with pytest.raises(RuntimeError, match=r"\[load\] .* was modified after it was loaded"):
        mx.eval(y)
    # rewritten with the same size: detected through the modification time
    write(x)
    out = mx.load(path)
    y = out if fmt == "npy" else out["x"]
    st = os.stat(path)
    write(x * 2)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(RuntimeError, match=r"was modified after it was loaded"):
        mx.eval(y)
    # the failed array stays unevaluated and fails again (no garbage data)
    with pytest.raises(RuntimeError):
        np.array(y)


def test_file_descriptors_are_released(tmp_path):
    path = str(tmp_path / "fd.safetensors")
    mx.save_safetensors(path, {f"t{i}": mx.full((8,), i) for i in range(20)})
    gc.collect()
    before = open_fds()
    loads = [mx.load(path) for _ in range(5)]
    assert open_fds() == before + 5  # one open file per load, shared by its arrays
    mx.eval([a for d in loads for a in d.values()])
    gc.collect()
    assert open_fds() == before  # evaluated: the Load nodes (and files) are gone
    out = mx.load(path)
    assert open_fds() == before + 1
    del out
    gc.collect()
    assert open_fds() == before


# ------------------------------------------------------------------ validation at load time
def test_out_of_bounds_regions_are_rejected_at_load(tmp_path):
    # safetensors: data_offsets past the end
    header = json_bytes({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})
    p = tmp_path / "bad.safetensors"
    p.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with pytest.raises(ValueError, match=r"\[load_safetensors\] .* truncated or malformed"):
        mx.load(str(p))
    # npy: fewer data bytes than the shape needs
    good = tmp_path / "g.npy"
    mx.save(str(good), mx.arange(100.0))
    b = good.read_bytes()
    p = tmp_path / "t.npy"
    p.write_bytes(b[:-4])
    with pytest.raises(ValueError, match=r"\[load\] .* truncated or malformed"):
        mx.load(str(p))
    # gguf: tensor data past the end
    good = tmp_path / "g.gguf"
    mx.save_gguf(str(good), {"a": mx.arange(100.0), "b": mx.arange(50.0)})
    b = good.read_bytes()
    p = tmp_path / "t.gguf"
    p.write_bytes(b[:-40])  # past the alignment padding of the last tensor
    with pytest.raises(ValueError, match=r"\[load_gguf\] .* truncated or malformed"):
        mx.load(str(p))
    # npz: a stored member cut short
    good = tmp_path / "g.npz"
    mx.savez(str(good), a=mx.arange(100.0))
    b = good.read_bytes()
    with zipfile.ZipFile(str(good)) as zf:
        info = zf.getinfo("a.npy")
    p = tmp_path / "t.npz"
    # keep the central directory but claim a larger member: rewrite sizes in the directory
    cd = b.rfind(b"PK\x01\x02")
    bad = bytearray(b)
    struct.pack_into("<II", bad, cd + 20, info.compress_size + 10**6, info.file_size + 10**6)
    p.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match=r"truncated or malformed"):
        mx.load(str(p))


def json_bytes(d):
    import json

    s = json.dumps(d).encode()
    return s + b" " * ((8 - len(s) % 8) % 8)


# ------------------------------------------------------------------ GGUF quantized tensors
def gguf_q4_0(path, rows, cols, rng):
    """A GGUF file with one Q4_0 tensor (rows, cols); returns its values."""
    nblocks = rows * cols // 32
    d = rng.uniform(0.01, 0.1, nblocks).astype(np.float16)
    q = rng.integers(0, 16, (nblocks, 32)).astype(np.uint8)
    blocks = b"".join(
        d[i].tobytes() + bytes((q[i, :16] | (q[i, 16:] << 4)).astype(np.uint8)) for i in range(nblocks)
    )
    name = b"blk.weight"
    h = b"GGUF" + struct.pack("<IQQ", 3, 1, 0)
    h += struct.pack("<Q", len(name)) + name + struct.pack("<I", 2) + struct.pack("<QQ", cols, rows)
    h += struct.pack("<IQ", 2, 0)
    h += b"\0" * ((32 - len(h) % 32) % 32)
    with open(path, "wb") as f:
        f.write(h + blocks)
    vals = d.astype(np.float32)[:, None] * (q.astype(np.float32) - 8)
    return vals.reshape(rows, cols)


def test_gguf_quantized_triplet_is_one_lazy_node(tmp_path):
    rng = np.random.default_rng(3)
    path = str(tmp_path / "q.gguf")
    want = gguf_q4_0(path, 4, 64, rng)
    out = mx.load(path)
    assert sorted(out) == ["blk.biases", "blk.scales", "blk.weight"]
    assert all(is_lazy(v) for v in out.values())
    assert out["blk.weight"].shape == (4, 8) and out["blk.scales"].shape == (4, 2)
    mx.eval(out["blk.scales"])  # evaluates the siblings too
    assert not any(is_lazy(v) for v in out.values())
    w = mx.dequantize(out["blk.weight"], out["blk.scales"], out["blk.biases"], group_size=32, bits=4)
    np.testing.assert_allclose(np.array(w.astype(mx.float32)), want, rtol=1e-3, atol=1e-3)


# ------------------------------------------------------------------ use in graphs
def test_lazy_arrays_in_computations_and_transforms(tmp_path):
    path = str(tmp_path / "g.safetensors")
    w = mx.array(np.random.default_rng(4).standard_normal((5, 3)).astype(np.float32))
    mx.save_safetensors(path, {"w": w})
    lw = mx.load(path)["w"]
    x = mx.ones((2, 5))
    g = mx.grad(lambda w: (x @ w).sum())(lw)
    np.testing.assert_allclose(np.array(g), np.full((5, 3), 2.0))
    lw2 = mx.load(path)["w"]
    gx = mx.grad(lambda x: (x @ lw2).sum())(x)
    np.testing.assert_allclose(np.array(gx), np.broadcast_to(np.array(w).sum(1), (2, 5)), rtol=1e-6)
    lw3 = mx.load(path)["w"]
    ys = mx.vmap(lambda r: r * 2)(lw3)
    np.testing.assert_array_equal(np.array(ys), np.array(w) * 2)
    # saving a lazily loaded array back over its own file
    lw4 = mx.load(path)["w"]
    mx.save_safetensors(path, {"w": lw4 + 1})
    np.testing.assert_allclose(np.array(mx.load(path)["w"]), np.array(w) + 1)


def test_evaluation_from_several_threads(tmp_path):
    path = str(tmp_path / "t.safetensors")
    arrays = {f"t{i}": mx.full((1000,), float(i)) for i in range(8)}
    mx.save_safetensors(path, arrays)
    out = mx.load(path)
    results = {}

    def work(k):
        results[k] = np.array(out[k]).copy()

    threads = [threading.Thread(target=work, args=(k,)) for k in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        np.testing.assert_array_equal(results[f"t{i}"], np.full(1000, float(i), np.float32))


def test_round_trips_through_every_format(tmp_path):
    rng = np.random.default_rng(5)
    x = mx.array(rng.standard_normal((6, 7)).astype(np.float32))
    for fmt in ["npy"] + FORMATS:
        p = str(tmp_path / f"r.{fmt}")
        if fmt == "npy":
            mx.save(p, x)
            y = mx.load(p)
        else:
            save_any(fmt, p, {"x": x})
            y = mx.load(p)["x"]
        # a second generation saved from the still-lazy array
        p2 = str(tmp_path / f"r2.{fmt}")
        if fmt == "npy":
            mx.save(p2, y)
            z = mx.load(p2)
        else:
            save_any(fmt, p2, {"x": y})
            z = mx.load(p2)["x"]
        np.testing.assert_array_equal(np.array(z), np.array(x))
