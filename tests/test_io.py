"""File formats: mx.save (.npy), mx.savez / mx.savez_compressed (.npz), mx.save_safetensors,
mx.save_gguf and mx.load (dispatch, metadata, file objects, GGUF quantized tensors).

NumPy is the oracle for .npy/.npz; safetensors and GGUF files are also built byte by byte
here. The GGUF Q4_0/Q4_1/Q8_0 layout (packed uint32 weights, float16 scales and biases) was
checked bit for bit against mlx 0.32.4. Malformed and truncated files must raise
ValueError/RuntimeError, never crash (see the fuzz tests at the end)."""

import io
import json
import os
import pathlib
import struct
import subprocess
import sys
import zipfile

import mlx.core as mx
import numpy as np
import pytest
from conftest import float64_on_cpu, on_cpu_if_float64
from op_descriptions import ALL_DTYPES, NP_DTYPE, dtype_name, to_numpy

HERE = os.path.dirname(os.path.abspath(__file__))


def sample(dtype, shape=(2, 3), seed=0):
    """Distinct values of every dtype (negative where signed)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == mx.bool_:
        x = rng.integers(0, 2, n).astype(bool)
    elif dtype in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
        x = rng.integers(0, 200, n)
    elif dtype in (mx.int8, mx.int16, mx.int32, mx.int64):
        x = rng.integers(-100, 100, n)
    elif dtype == mx.complex64:
        x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    else:
        x = rng.standard_normal(n) * 10
    x = x.reshape(shape)
    if dtype == mx.bfloat16:
        return mx.array(x.astype(np.float32)).astype(mx.bfloat16)
    return mx.array(x.astype(NP_DTYPE[dtype]), dtype=dtype)


def same(a, b):
    assert isinstance(a, mx.array) and isinstance(b, mx.array)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def layouts(dtype):
    """Arrays of one dtype in several layouts: scalar, empty, contiguous, transposed,
    strided slice, broadcast, lazy (unevaluated). float64 views are made on the CPU stream
    when the GPU is the default device."""
    with on_cpu_if_float64(dtype):
        base = sample(dtype, (4, 6))
        return {
            "scalar": sample(dtype, ()),
            "empty": sample(dtype, (0, 3)),
            "empty_mid": sample(dtype, (2, 0, 4)),
            "vector": sample(dtype, (5,)),
            "contiguous": base,
            "transposed": base.T,
            "sliced": base[::2, 1::2],
            "broadcast": mx.broadcast_to(sample(dtype, (1, 3)), (4, 3)),
            "lazy": mx.reshape(base, (2, 12)),
            "3d": sample(dtype, (2, 3, 4)),
        }


# --------------------------------------------------------------------------------------
# .npy


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_npy_round_trip_every_dtype_and_layout(tmp_path, dtype):
    with on_cpu_if_float64(dtype):
        for name, a in layouts(dtype).items():
            path = str(tmp_path / f"{name}.npy")
            mx.save(path, a)
            b = mx.load(path)
            same(b, mx.array(to_numpy(a)).astype(dtype) if dtype == mx.bfloat16 else a)
            if dtype != mx.bfloat16:
                # NumPy reads what we write.
                ref = np.load(path)
                assert ref.dtype == NP_DTYPE[dtype] and ref.shape == a.shape
                np.testing.assert_array_equal(ref, to_numpy(a))


@pytest.mark.parametrize("dtype", [d for d in ALL_DTYPES if d != mx.bfloat16], ids=dtype_name)
def test_npy_reads_numpy_files(tmp_path, dtype):
    with on_cpu_if_float64(dtype):
        x = to_numpy(sample(dtype, (3, 4)))
        cases = {
            "c": x,
            "f": np.asfortranarray(x),
            "f3": np.asfortranarray(to_numpy(sample(dtype, (2, 3, 4)))),
            "scalar": x[0, 0].reshape(()),
            "empty": x[:0],
        }
        if x.dtype.itemsize > 1:
            cases["big_endian"] = x.astype(x.dtype.newbyteorder(">"))
            cases["big_endian_f"] = np.asfortranarray(x.astype(x.dtype.newbyteorder(">")))
        for name, ref in cases.items():
            path = str(tmp_path / f"{name}.npy")
            np.save(path, ref)
            got = mx.load(path)
            assert got.dtype == dtype and got.shape == ref.shape, name
            np.testing.assert_array_equal(to_numpy(got), ref.astype(ref.dtype.newbyteorder("=")))
            # The loaded array is an ordinary array.
            np.testing.assert_array_equal(to_numpy(mx.reshape(got, (-1,))), ref.reshape(-1, order="C"))


def test_npy_bfloat16_is_written_as_mlx_writes_it(tmp_path):
    a = mx.array([1.0, 0.0, 3.0], dtype=mx.bfloat16)
    mx.save(str(tmp_path / "b.npy"), a)
    data = (tmp_path / "b.npy").read_bytes()
    assert b"'descr': '<V2'" in data
    assert len(data) % 64 == 6 and data.endswith(b"\x80?\x00\x00@@")
    same(mx.load(str(tmp_path / "b.npy")), a)


def test_npy_header_layout(tmp_path):
    for shape, text in [((), "()"), ((3,), "(3,)"), ((2, 3), "(2, 3)")]:
        mx.save(str(tmp_path / "h.npy"), mx.zeros(shape))
        data = (tmp_path / "h.npy").read_bytes()
        assert data[:8] == b"\x93NUMPY\x01\x00"
        hlen = struct.unpack("<H", data[8:10])[0]
        assert (10 + hlen) % 64 == 0
        header = data[10 : 10 + hlen].decode()
        assert f"'shape': {text}" in header and "'fortran_order': False" in header
        assert header.endswith("\n")


def test_save_appends_npy_extension(tmp_path):
    a = mx.arange(3)
    mx.save(str(tmp_path / "noext"), a)
    mx.save(str(tmp_path / "x.bin"), a)
    assert (tmp_path / "noext.npy").exists() and (tmp_path / "x.bin.npy").exists()
    same(mx.load(str(tmp_path / "x.bin.npy")), a)


def test_npy_sequential_arrays_in_one_file_object():
    buf = io.BytesIO()
    a, b = mx.arange(5), mx.ones((2, 2), dtype=mx.float16)
    mx.save(buf, a)
    mx.save(buf, b)
    buf.seek(0)
    same(mx.load(buf, format="npy"), a)
    same(mx.load(buf, format="npy"), b)


def test_npy_large_declared_shape_fails_fast():
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647), }"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 16
    with pytest.raises(ValueError, match="truncated or malformed"):
        mx.load(io.BytesIO(data), format="npy")
    header = header.replace("2147483647, 2147483647", "4294967296, 1      ")
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
    with pytest.raises(ValueError, match="dimension"):
        mx.load(io.BytesIO(data), format="npy")


@pytest.mark.parametrize(
    "descr", ["'<c16'", "'<U4'", "'|O'", "[('a', '<f4')]", "'<f16'", "'xyz'", "'<M8[s]'"]
)
def test_npy_unsupported_dtypes(descr):
    header = "{'descr': %s, 'fortran_order': False, 'shape': (1,), }\n" % descr
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 32
    with pytest.raises(ValueError, match=r"\[load\]"):
        mx.load(io.BytesIO(data), format="npy")


# --------------------------------------------------------------------------------------
# .npz


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_round_trip(tmp_path, compressed):
    save = mx.savez_compressed if compressed else mx.savez
    arrays = {f"{dtype_name(d)}_{k}": v for d in ALL_DTYPES for k, v in layouts(d).items() if k in ("scalar", "empty", "transposed", "3d")}
    path = str(tmp_path / "w")
    # Saving makes float64 views contiguous on the default stream: the CPU stream here when the
    # GPU is the default device (a GPU stream has no float64).
    with float64_on_cpu():
        save(path, mx.arange(4), mx.ones(2), **arrays)
    assert os.path.exists(path + ".npz")
    with zipfile.ZipFile(path + ".npz") as zf:
        kinds = {i.compress_type for i in zf.infolist()}
        names = zf.namelist()
    assert kinds == {zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED}
    assert names[:2] == ["arr_0.npy", "arr_1.npy"]
    got = mx.load(path + ".npz")
    assert list(got) == ["arr_0", "arr_1", *arrays]
    same(got["arr_0"], mx.arange(4))
    for k, v in arrays.items():
        same(got[k], v)
    # NumPy reads it too.
    ref = np.load(path + ".npz")
    for k, v in arrays.items():
        if v.dtype != mx.bfloat16:
            np.testing.assert_array_equal(ref[k], to_numpy(v))


def test_npz_reads_numpy_files(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.savez(tmp_path / "a.npz", x, y=np.asfortranarray(x), z=np.array(True))
    np.savez_compressed(tmp_path / "b.npz", x, y=x.astype(">i2"))
    with float64_on_cpu():
        a = mx.load(str(tmp_path / "a.npz"))
        assert sorted(a) == ["arr_0", "y", "z"]
        np.testing.assert_array_equal(to_numpy(a["y"]), x)
        assert a["z"].dtype == mx.bool_ and a["z"].item() is True
    b = mx.load(str(tmp_path / "b.npz"))
    assert b["y"].dtype == mx.int16
    np.testing.assert_array_equal(to_numpy(b["y"]), x)


def test_npz_file_objects_and_paths(tmp_path):
    a = mx.arange(6).reshape(2, 3)
    buf = io.BytesIO()
    mx.savez(buf, a=a)
    buf.seek(0)
    same(mx.load(buf, format="npz")["a"], a)
    p = tmp_path / "p.npz"
    mx.savez_compressed(p, a=a)
    same(mx.load(p)["a"], a)
    with open(p, "rb") as f:
        same(mx.load(f)["a"], a)


def test_savez_name_conflict_and_metadata():
    with pytest.raises(ValueError, match="arr_0"):
        mx.savez(io.BytesIO(), mx.ones(1), arr_0=mx.ones(1))
    buf = io.BytesIO()
    mx.savez(buf, mx.ones(1))
    buf.seek(0)
    with pytest.raises(ValueError, match="metadata"):
        mx.load(buf, format="npz", return_metadata=True)


# --------------------------------------------------------------------------------------
# .safetensors


def test_safetensors_round_trip_every_dtype(tmp_path):
    arrays = {}
    for d in ALL_DTYPES:
        for k, v in layouts(d).items():
            arrays[f"{dtype_name(d)}.{k}"] = v
    path = str(tmp_path / "w.safetensors")
    with float64_on_cpu():  # float64 views are made contiguous on the default stream
        mx.save_safetensors(path, arrays, metadata={"format": "mlx", "é": "ü\n\"x\""})
    got, meta = mx.load(path, return_metadata=True)
    assert meta == {"format": "mlx", "é": "ü\n\"x\""}
    assert list(got) == list(arrays)
    for k, v in arrays.items():
        same(got[k], v)
    assert mx.load(path).keys() == got.keys()


def test_safetensors_layout(tmp_path):
    path = str(tmp_path / "w")
    mx.save_safetensors(path, {"b": mx.ones((2, 3)), "a": mx.arange(3, dtype=mx.int8)})
    data = (tmp_path / "w.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    assert (8 + n) % 8 == 0
    header = json.loads(data[8 : 8 + n])
    assert "__metadata__" not in header
    assert header["b"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert header["a"] == {"dtype": "I8", "shape": [3], "data_offsets": [24, 27]}
    assert len(data) == 8 + n + 27
    np.testing.assert_array_equal(np.frombuffer(data[8 + n + 24 :], np.int8), [0, 1, 2])


def make_safetensors(header, payload=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + payload


def test_safetensors_reads_handmade_files():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.array([1, -2], dtype=np.int64)
    # Data out of header order, metadata null, unicode names, extra fields.
    data = make_safetensors(
        {
            "__metadata__": None,
            "wé": {"dtype": "F32", "shape": [2, 3], "data_offsets": [16, 40], "extra": [1]},
            "y": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
            "s": {"dtype": "BF16", "shape": [], "data_offsets": [40, 42]},
        },
        y.tobytes() + x.tobytes() + b"\x80\x3f",
    )
    got, meta = mx.load(io.BytesIO(data), format="safetensors", return_metadata=True)
    assert meta == {} and list(got) == ["wé", "y", "s"]
    np.testing.assert_array_equal(to_numpy(got["wé"]), x)
    np.testing.assert_array_equal(to_numpy(got["y"]), y)
    assert got["s"].dtype == mx.bfloat16 and got["s"].item() == 1.0


@pytest.mark.parametrize(
    "header,payload",
    [
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 8),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 8),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8),
        ({"a": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 8),
        ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8),
        ({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, b"\0" * 8),
        ({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8),
        ({"a": [1, 2]}, b""),
        ({"__metadata__": {"k": 1}}, b""),
        ([1, 2], b""),
        ({"a": {"dtype": "F32", "shape": [65536, 65536], "data_offsets": [0, 8]}}, b"\0" * 8),
    ],
)
def test_safetensors_malformed_headers(header, payload):
    with pytest.raises(ValueError, match=r"\[load_safetensors\]"):
        mx.load(io.BytesIO(make_safetensors(header, payload)), format="safetensors")


def test_safetensors_json_edge_cases():
    def load(text):
        h = text.encode()
        return mx.load(io.BytesIO(struct.pack("<Q", len(h)) + h), format="safetensors")

    assert load("  { }  ") == {}
    for bad in ["{", '{"a":1,"a":2}', "[" * 10000 + "]" * 10000, '{"a":tru}', '{"a":"\\x"}',
                '{"a":"\\ud800"}', "{} x", '{"a":01}', '{"a":"\x01"}']:
        with pytest.raises(ValueError, match=r"\[load_safetensors\]"):
            load(bad)


def test_safetensors_save_errors(tmp_path):
    with pytest.raises(ValueError, match="Metadata"):
        mx.save_safetensors(str(tmp_path / "m"), {"a": mx.ones(1)}, metadata={"k": 1})
    with pytest.raises(ValueError, match="__metadata__"):
        mx.save_safetensors(str(tmp_path / "m"), {"__metadata__": mx.ones(1)})
    with pytest.raises(TypeError):
        mx.save_safetensors(str(tmp_path / "m"), [("a", mx.ones(1))])
    assert not os.path.exists(tmp_path / "m.safetensors")


# --------------------------------------------------------------------------------------
# .gguf

GGUF_DTYPES = [mx.float32, mx.float16, mx.bfloat16, mx.float64, mx.int8, mx.int16, mx.int32, mx.int64]


def test_gguf_round_trip(tmp_path):
    arrays = {}
    for d in GGUF_DTYPES:
        for k, v in layouts(d).items():
            arrays[f"{dtype_name(d)}.{k}"] = v
    meta = {
        "s": "hello",
        "l": ["a", "bb", ""],
        "empty": [],
        "u8": mx.array([1, 2, 255], dtype=mx.uint8),
        "i8": mx.array(-3, dtype=mx.int8),
        "u16": mx.array(7, dtype=mx.uint16),
        "i16": mx.array([-1, 1], dtype=mx.int16),
        "u32": mx.array(2**32 - 1, dtype=mx.uint32),
        "i32": mx.array(-5),
        "f32": mx.array([0.5, 1.5]),
        "b": mx.array(True),
        "bs": mx.array([True, False]),
        "u64": mx.array(2**63, dtype=mx.uint64),
        "i64": mx.array(-(2**40), dtype=mx.int64),
        "f64": mx.array(0.1, dtype=mx.float64),
        "py_int": 3,
        "py_float": 2.5,
    }
    path = str(tmp_path / "w")
    with float64_on_cpu():  # float64 views are made contiguous on the default stream
        mx.save_gguf(path, arrays, meta)
    got, gmeta = mx.load(path + ".gguf", return_metadata=True)
    assert list(got) == list(arrays)
    for k, v in arrays.items():
        same(got[k], v)
    assert list(gmeta) == list(meta)
    assert gmeta["s"] == "hello" and gmeta["l"] == ["a", "bb", ""] and gmeta["empty"] == []
    for k, v in meta.items():
        if isinstance(v, mx.array):
            same(gmeta[k], v)
    same(gmeta["py_int"], mx.array(3))
    same(gmeta["py_float"], mx.array(2.5))
    assert mx.load(path + ".gguf").keys() == got.keys()


def test_gguf_layout_and_alignment(tmp_path):
    path = str(tmp_path / "w.gguf")
    mx.save_gguf(path, {"a": mx.ones((2, 3)), "b": mx.arange(5, dtype=mx.int16)})
    data = pathlib.Path(path).read_bytes()
    assert data[:4] == b"GGUF" and struct.unpack("<IQQ", data[4:24]) == (3, 2, 0)
    # dims are stored fastest-first: (2, 3) is written as [3, 2].
    assert data[24:24 + 8 + 1 + 4 + 16] == struct.pack("<Q", 1) + b"a" + struct.pack("<IQQ", 2, 3, 2)
    mx.save_gguf(path, {"a": mx.ones(3)}, {"general.alignment": mx.array(64, dtype=mx.uint32)})
    data = pathlib.Path(path).read_bytes()
    assert len(data) % 64 == 0 and data[-64:-52] == np.ones(3, np.float32).tobytes()
    same(mx.load(path)["a"], mx.ones(3))


def test_gguf_save_errors(tmp_path):
    path = tmp_path / "e.gguf"
    for d in [mx.bool_, mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.complex64]:
        with pytest.raises(ValueError, match="save_gguf"):
            mx.save_gguf(str(path), {"a": mx.zeros(2, dtype=d)})
    for bad in [mx.zeros((2, 2)), mx.array(1.0, dtype=mx.float16), {"x": 1}, object(), ["a", 1]]:
        with pytest.raises(ValueError, match="save_gguf"):
            mx.save_gguf(str(path), {"a": mx.zeros(2)}, {"m": bad})
    with pytest.raises(ValueError, match="alignment"):
        mx.save_gguf(str(path), {"a": mx.zeros(2)}, {"general.alignment": mx.array(0)})
    assert not path.exists()


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def make_gguf(tensors, kv=b"", n_kv=0, align=32, version=3):
    """tensors: (name, ggml dims, ggml type, raw bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), n_kv) + kv
    off, datas = 0, []
    for name, dims, t, raw in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", t, off)
        pad = (-len(raw)) % align
        datas.append(raw + b"\0" * pad)
        off += len(raw) + pad
    out += b"\0" * ((-len(out)) % align)
    return out + b"".join(datas)


def load_gguf(data, **kw):
    return mx.load(io.BytesIO(data), format="gguf", **kw)


def test_gguf_reads_handmade_files():
    x = np.arange(6, dtype=np.float16).reshape(2, 3)
    kv = gstr("general.alignment") + struct.pack("<II", 4, 16) + gstr("n") + struct.pack("<I", 9)
    kv += struct.pack("<IQ", 6, 2) + np.array([1, 2], np.float32).tobytes()
    kv += gstr("nested") + struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 0, 2) + b"\1\2"
    for version in (2, 3):
        data = make_gguf([("x", [3, 2], 1, x.tobytes()), ("s", [], 0, b"\0\0\x80\x3f")],
                         kv, 3, align=16, version=version)
        got, meta = load_gguf(data, return_metadata=True)
        np.testing.assert_array_equal(to_numpy(got["x"]), x)
        assert got["x"].dtype == mx.float16 and got["s"].shape == () and got["s"].item() == 1.0
        assert meta["general.alignment"].item() == 16 and meta["nested"] is None
        np.testing.assert_array_equal(to_numpy(meta["n"]), [1, 2])


# Reference GGML block encoders (random codes, valid float16 scales).
def q_blocks(kind, n_blocks, rng):
    blocks, ref = [], []
    for _ in range(n_blocks):
        d = np.float16(rng.uniform(-1, 1))
        m = np.float16(rng.uniform(-1, 1))
        if kind in ("Q4_0", "Q4_1"):
            q = rng.integers(0, 16, 32)
            qs = bytes((q[:16] | (q[16:] << 4)).tolist())
            if kind == "Q4_0":
                blocks.append(d.tobytes() + qs)
                ref.append(np.float32(d) * (q - 8))
            else:
                blocks.append(d.tobytes() + m.tobytes() + qs)
                ref.append(np.float32(d) * q + np.float32(m))
        elif kind in ("Q5_0", "Q5_1"):
            q = rng.integers(0, 32, 32)
            qh = sum(int(q[j] >> 4) << j for j in range(32))
            qs = bytes(((q[:16] & 15) | ((q[16:] & 15) << 4)).tolist())
            if kind == "Q5_0":
                blocks.append(d.tobytes() + struct.pack("<I", qh) + qs)
                ref.append(np.float32(d) * (q - 16))
            else:
                blocks.append(d.tobytes() + m.tobytes() + struct.pack("<I", qh) + qs)
                ref.append(np.float32(d) * q + np.float32(m))
        elif kind == "Q8_0":
            q = rng.integers(-128, 128, 32)
            blocks.append(d.tobytes() + q.astype(np.int8).tobytes())
            ref.append(np.float32(d) * q)
        blocks[-1] = (blocks[-1], q, d, m)
    return blocks, np.concatenate(ref).astype(np.float32)


GGML = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8}


@pytest.mark.parametrize("kind", ["Q4_0", "Q4_1", "Q8_0"])
@pytest.mark.parametrize("name", ["blk.0.weight", "other"])
def test_gguf_quantized_triplets(kind, name):
    rng = np.random.default_rng(0)
    rows, cols = 3, 64
    blocks, ref = q_blocks(kind, rows * cols // 32, rng)
    raw = b"".join(b[0] for b in blocks)
    got = load_gguf(make_gguf([(name, [cols, rows], GGML[kind], raw)]))
    base = name[: -len(".weight")] if name.endswith(".weight") else name
    assert list(got) == [name, base + ".scales", base + ".biases"]
    bits = 8 if kind == "Q8_0" else 4
    w, s, b = got[name], got[base + ".scales"], got[base + ".biases"]
    assert w.dtype == mx.uint32 and w.shape == (rows, cols * bits // 32)
    assert s.dtype == b.dtype == mx.float16 and s.shape == b.shape == (rows, cols // 32)
    # MLX's packing: element k of a row sits in word k // (32 // bits) at bit (k % (32 // bits)) * bits.
    words = np.array(w).astype(np.uint64)
    per = 32 // bits
    codes = np.stack([(words >> np.uint64(bits * i)) & np.uint64(2**bits - 1) for i in range(per)], -1)
    codes = codes.reshape(rows, cols).astype(np.float32)
    scales = np.repeat(np.array(s).astype(np.float32), 32, axis=1)
    biases = np.repeat(np.array(b).astype(np.float32), 32, axis=1)
    for blk, (bl, q, d, m) in enumerate(blocks):
        r, c = divmod(blk * 32, cols)
        off = {"Q4_0": 0, "Q4_1": 0, "Q8_0": 128}[kind]
        np.testing.assert_array_equal(codes[r, c : c + 32], (q + off).astype(np.float32))
        assert s[r, c // 32].item() == float(d)
        bias = {"Q4_0": -8 * np.float32(d), "Q4_1": np.float32(m), "Q8_0": -128 * np.float32(d)}[kind]
        assert b[r, c // 32].item() == float(np.float16(bias))
    deq = codes * scales + biases
    np.testing.assert_allclose(deq.reshape(-1), ref, atol=2e-3 * np.abs(ref).max())
    if hasattr(mx, "dequantize"):
        # dequantize computes in the scales' dtype (float16): allow a few float16 steps.
        np.testing.assert_allclose(np.array(mx.dequantize(w, s, b, group_size=32, bits=bits)).astype(np.float32),
                                   deq, rtol=4e-3, atol=4e-3 * max(1.0, float(np.abs(deq).max())))


def _f16(b, off):
    return b[:, off:off + 2].copy().view(np.float16).astype(np.float32)[:, 0]

def _scale_min_k4(s):  # s: (n, 12) uint8 -> sc, m: (n, 8)
    s = s.astype(np.int32)
    sc = np.empty((s.shape[0], 8), np.int32); m = np.empty_like(sc)
    sc[:, :4] = s[:, :4] & 63; m[:, :4] = s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)
    m[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc, m

def deq_ref(kind, raw):
    """NumPy dequantization of GGML blocks (float32), one row per block (checked against
    the reference dequantizers of the gguf package)."""
    b = np.frombuffer(raw, np.uint8)
    if kind in ("Q5_0", "Q5_1"):
        bb = 22 if kind == "Q5_0" else 24
        b = b.reshape(-1, bb)
        d = _f16(b, 0)
        o = 2 if kind == "Q5_0" else 4
        qh = b[:, o:o + 4].copy().view("<u4")[:, 0]
        qs = b[:, o + 4:o + 20].astype(np.int32)
        lo = np.concatenate([qs & 15, qs >> 4], 1)
        hi = (qh[:, None] >> np.arange(32, dtype=np.uint32)) & 1
        q = lo | (hi.astype(np.int32) << 4)
        if kind == "Q5_0":
            return d[:, None] * (q - 16)
        return d[:, None] * q + _f16(b, 2)[:, None]
    if kind == "Q2_K":
        b = b.reshape(-1, 84)
        sc = b[:, :16].astype(np.int32); qs = b[:, 16:80].astype(np.int32)
        d, dmin = _f16(b, 80), _f16(b, 82)
        # element e: half n = e // 128, shift j = (e % 128) // 32, byte l = n*32 + e % 32
        e = np.arange(256)
        n, j, r = e // 128, (e % 128) // 32, e % 32
        q = (qs[:, n * 32 + r] >> (2 * j)) & 3
        s = sc[:, e // 16]
        return d[:, None] * (s & 15) * q - dmin[:, None] * (s >> 4)
    if kind == "Q3_K":
        b = b.reshape(-1, 110)
        hm = b[:, :32].astype(np.int32); qs = b[:, 32:96].astype(np.int32); sp = b[:, 96:108].astype(np.int32)
        d = _f16(b, 108)
        i = np.arange(16)
        lo = np.where(i < 8, sp[:, i % 8] & 15, sp[:, i % 8] >> 4)
        hi = (sp[:, 8 + i % 4] >> (2 * (i // 4))) & 3
        scales = (lo | (hi << 4)) - 32
        e = np.arange(256)
        n, j, r = e // 128, (e % 128) // 32, e % 32
        q = (qs[:, n * 32 + r] >> (2 * j)) & 3
        h = (hm[:, r] >> (n * 4 + j)) & 1
        return d[:, None] * scales[:, e // 16] * (q - 4 * (1 - h))
    if kind in ("Q4_K", "Q5_K"):
        bb = 144 if kind == "Q4_K" else 176
        b = b.reshape(-1, bb)
        d, dmin = _f16(b, 0), _f16(b, 2)
        sc, m = _scale_min_k4(b[:, 4:16])
        ql = b[:, bb - 128:].astype(np.int32)
        e = np.arange(256)
        g, r = e // 64, e % 64   # group of 64, sub-block = 2g + (r >= 32)
        byte = ql[:, g * 32 + r % 32]
        q = np.where(r < 32, byte & 15, byte >> 4)
        if kind == "Q5_K":
            qh = b[:, 16:48].astype(np.int32)
            q = q + 16 * ((qh[:, r % 32] >> (2 * g + (r >= 32))) & 1)
        sub = 2 * g + (r >= 32)
        return d[:, None] * sc[:, sub] * q - dmin[:, None] * m[:, sub]
    if kind == "Q6_K":
        b = b.reshape(-1, 210)
        ql = b[:, :128].astype(np.int32); qh = b[:, 128:192].astype(np.int32)
        sc = b[:, 192:208].copy().view(np.int8).astype(np.int32); d = _f16(b, 208)
        e = np.arange(256)
        n, k, l = e // 128, (e % 128) // 32, e % 32   # quarter k of the 128
        lb = ql[:, n * 64 + l + 32 * (k % 2)]
        low = np.where(k < 2, lb & 15, lb >> 4)
        high = (qh[:, n * 32 + l] >> (2 * k)) & 3
        q = (low | (high << 4)) - 32
        return d[:, None] * sc[:, n * 8 + l // 16 + 2 * k] * q
    raise ValueError(kind)


# (block elements, block bytes, byte offsets of float16 scales) of the types loaded as float16.
FLOAT_QUANTS = {
    "Q5_0": (6, 32, 22, [0]),
    "Q5_1": (7, 32, 24, [0, 2]),
    "Q2_K": (10, 256, 84, [80, 82]),
    "Q3_K": (11, 256, 110, [108]),
    "Q4_K": (12, 256, 144, [0, 2]),
    "Q5_K": (13, 256, 176, [0, 2]),
    "Q6_K": (14, 256, 210, [208]),
}


@pytest.mark.parametrize("kind", list(FLOAT_QUANTS))
def test_gguf_quantized_to_float16(kind):
    t, block, bb, scale_pos = FLOAT_QUANTS[kind]
    rng = np.random.default_rng(2)
    n_blocks = 6
    raw = bytearray(rng.integers(0, 256, n_blocks * bb, dtype=np.uint8).tobytes())
    for blk in range(n_blocks):
        for p in scale_pos:
            raw[blk * bb + p : blk * bb + p + 2] = np.float16(rng.uniform(-0.1, 0.1)).tobytes()
    raw = bytes(raw)
    got = load_gguf(make_gguf([("t", [2 * block, 3], t, raw)]))
    assert list(got) == ["t"] and got["t"].dtype == mx.float16 and got["t"].shape == (3, 2 * block)
    ref = deq_ref(kind, raw).astype(np.float32).reshape(3, 2 * block)
    np.testing.assert_array_equal(np.array(got["t"]), ref.astype(np.float16))
    with pytest.raises(ValueError, match=f"multiple of {block}"):
        load_gguf(make_gguf([("t", [block // 2, 2], t, raw[:bb])]))


def test_gguf_quantized_errors():
    raw = b"\0" * 18
    with pytest.raises(ValueError, match="multiple of 32"):
        load_gguf(make_gguf([("w", [16, 2], 2, raw)]))
    for t, name, nbytes in [(9, "Q8_1", 40), (15, "Q8_K", 292), (16, "IQ2_XXS", 66), (99, "unknown", 8)]:
        with pytest.raises(ValueError, match=name):
            load_gguf(make_gguf([("w", [256], t, b"\0" * nbytes)]))
    with pytest.raises(ValueError, match="both load as"):
        load_gguf(make_gguf([("w.weight", [32], 2, raw), ("w.scales", [1], 0, b"\0" * 4)]))
    with pytest.raises(ValueError, match="version"):
        load_gguf(make_gguf([], version=1))
    with pytest.raises(ValueError, match="big-endian"):
        load_gguf(b"GGUF" + struct.pack(">IQQ", 3, 0, 0))


# --------------------------------------------------------------------------------------
# mx.load dispatch, paths and file objects


def test_load_dispatch_and_errors(tmp_path):
    a = mx.arange(3)
    mx.save(str(tmp_path / "a.npy"), a)
    os.replace(tmp_path / "a.npy", tmp_path / "a.bin")
    same(mx.load(str(tmp_path / "a.bin"), format="npy"), a)
    with pytest.raises(ValueError, match="Unknown file format bin"):
        mx.load(str(tmp_path / "a.bin"))
    with pytest.raises(ValueError, match="Unknown file format foo"):
        mx.load(str(tmp_path / "a.bin"), format="foo")
    with pytest.raises(ValueError, match="infer"):
        mx.load(str(tmp_path / "noext"))
    with pytest.raises(ValueError, match="infer"):
        mx.load(str(tmp_path / "dir.v1" / "noext"))
    with pytest.raises(RuntimeError, match="Failed to open"):
        mx.load(str(tmp_path / "missing.npy"))
    with pytest.raises(RuntimeError, match="Failed to open"):
        mx.load(str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match="metadata"):
        mx.load(str(tmp_path / "a.bin"), format="npy", return_metadata=True)
    with pytest.raises(ValueError, match="no name"):
        mx.load(io.BytesIO(b""))
    with pytest.raises(TypeError):
        mx.load(3)
    with pytest.raises(ValueError, match="not a .npy file"):
        mx.load(io.BytesIO(b"PK\x03\x04" + b"\0" * 60), format="npy")
    with open(tmp_path / "t.txt", "w") as f:
        with pytest.raises(ValueError, match="binary mode"):
            mx.save(f, a)
    with open(tmp_path / "t.txt", "r") as f:
        with pytest.raises(ValueError, match="binary mode"):
            mx.load(f, format="npy")
    with pytest.raises(TypeError):
        mx.save(str(tmp_path / "l.npy"), [1, 2])


def test_paths_and_file_objects_for_every_format(tmp_path):
    a = {"x": mx.arange(6, dtype=mx.float32).reshape(2, 3)}
    for ext, save in [("npy", lambda f: mx.save(f, a["x"])), ("npz", lambda f: mx.savez(f, **a)),
                      ("safetensors", lambda f: mx.save_safetensors(f, a)), ("gguf", lambda f: mx.save_gguf(f, a))]:
        p = tmp_path / f"w.{ext}"
        save(p)  # pathlib.Path
        with open(tmp_path / f"f.{ext}", "wb") as f:
            save(f)  # file object
        assert p.read_bytes() == (tmp_path / f"f.{ext}").read_bytes(), ext
        buf = io.BytesIO()
        save(buf)
        assert buf.getvalue() == p.read_bytes()
        for src in [p, str(p), open(p, "rb"), io.BytesIO(p.read_bytes())]:
            got = mx.load(src, format=None if not isinstance(src, io.BytesIO) else ext)
            if ext == "npy":
                same(got, a["x"])
            else:
                same(got["x"], a["x"])
            if hasattr(src, "close"):
                src.close()

        # A stream without seek/tell is read into memory first.
        class Stream:
            def __init__(self, b):
                self._b = io.BytesIO(b)

            def read(self, n=-1):
                return self._b.read(n)

        got = mx.load(Stream(p.read_bytes()), format=ext)
        same(got if ext == "npy" else got["x"], a["x"])


def test_loaded_arrays_are_usable():
    buf = io.BytesIO()
    mx.save(buf, mx.arange(6).reshape(2, 3).T)
    buf.seek(0)
    b = mx.load(buf, format="npy")
    np.testing.assert_array_equal(np.array(b * 2 + 1), np.arange(6).reshape(2, 3).T * 2 + 1)
    np.testing.assert_array_equal(np.array(mx.sum(b, axis=0)), [3, 12])


def test_loading_needs_no_numpy(tmp_path):
    code = f"""
import sys
sys.modules["numpy"] = None
import mlx.core as mx
d = {str(tmp_path)!r}
a = mx.arange(12, dtype=mx.float32).reshape(3, 4).T
b = mx.array([1, 2, 3], dtype=mx.bfloat16)
mx.save(d + "/a.npy", a)
mx.savez(d + "/a.npz", a=a, b=b)
mx.savez_compressed(d + "/c.npz", a=a, b=b)
mx.save_safetensors(d + "/a.safetensors", {{"a": a, "b": b}}, {{"k": "v"}})
mx.save_gguf(d + "/a.gguf", {{"a": a, "b": b}}, {{"k": "v"}})
assert mx.array_equal(mx.load(d + "/a.npy"), a).item()
for f in ["a.npz", "c.npz", "a.safetensors", "a.gguf"]:
    r = mx.load(d + "/" + f)
    assert mx.array_equal(r["a"], a).item() and mx.array_equal(r["b"], b).item(), f
print("ok")
"""
    # Same interpreter and environment: finds the installed package (or the one on PYTHONPATH).
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# --------------------------------------------------------------------------------------
# Fuzz: truncated and corrupted files raise ValueError/RuntimeError, never crash.


def _valid_files():
    a = mx.arange(12, dtype=mx.float32).reshape(3, 4)
    b = mx.array([1, 2, 3], dtype=mx.bfloat16)
    files = {}
    buf = io.BytesIO()
    mx.save(buf, a)
    files["npy"] = ("npy", buf.getvalue())
    buf = io.BytesIO()
    mx.savez(buf, a=a, b=b)
    files["npz"] = ("npz", buf.getvalue())
    buf = io.BytesIO()
    mx.savez_compressed(buf, a=a, b=b)
    files["npz_compressed"] = ("npz", buf.getvalue())
    buf = io.BytesIO()
    mx.save_safetensors(buf, {"a": a, "b": b}, {"k": "v"})
    files["safetensors"] = ("safetensors", buf.getvalue())
    buf = io.BytesIO()
    mx.save_gguf(buf, {"a": a, "b": b}, {"s": "x", "l": ["p", "q"], "n": mx.array([1, 2])})
    files["gguf"] = ("gguf", buf.getvalue())
    rng = np.random.default_rng(0)
    blocks, _ = q_blocks("Q4_0", 2, rng)
    q5, _ = q_blocks("Q5_1", 1, rng)
    files["gguf_quant"] = ("gguf", make_gguf([("w.weight", [32, 2], 2, b"".join(x[0] for x in blocks)),
                                               ("v", [32], 7, q5[0][0])]))
    return files


def _must_not_crash(fmt, data):
    try:
        mx.load(io.BytesIO(data), format=fmt)
    except (ValueError, RuntimeError):
        pass


@pytest.mark.parametrize("name", ["npy", "npz", "npz_compressed", "safetensors", "gguf", "gguf_quant"])
def test_fuzz_truncated_and_corrupted_files(name):
    fmt, data = _valid_files()[name]
    # The intact file loads.
    mx.load(io.BytesIO(data), format=fmt)
    # Every truncation.
    for n in range(len(data)):
        if fmt == "npz" or (fmt == "gguf" and n > len(data) - 32):
            # Zip readers may cope with some truncations; GGUF pads the last tensor to 32 bytes.
            _must_not_crash(fmt, data[:n])
        else:
            with pytest.raises(ValueError):
                mx.load(io.BytesIO(data[:n]), format=fmt)
    # Corrupted bytes at many offsets (every offset of the headers, a sample of the rest).
    rng = np.random.default_rng(1)
    offsets = list(range(min(len(data), 400))) + list(rng.integers(0, len(data), 100))
    for off in offsets:
        for val in (0x00, 0xFF, 0x7F, int(rng.integers(0, 256))):
            bad = bytearray(data)
            bad[off] = val
            _must_not_crash(fmt, bytes(bad))
    # Random garbage and random multi-byte corruption.
    for _ in range(100):
        bad = bytearray(data)
        for off in rng.integers(0, len(data), 4):
            bad[off] = int(rng.integers(0, 256))
        _must_not_crash(fmt, bytes(bad))
        _must_not_crash(fmt, rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes())


def test_fuzz_files_on_disk(tmp_path):
    # The file reader (not the file-object reader) on truncated files.
    for name, (fmt, data) in _valid_files().items():
        for n in range(0, len(data), max(1, len(data) // 25)):
            p = tmp_path / f"t.{fmt}"
            p.write_bytes(data[:n])
            try:
                mx.load(str(p))
            except (ValueError, RuntimeError):
                pass


def test_save_array_with_its_own_view():
    # Regression: eval([b, b.T]) ran the transpose before b (core eval order).
    b = mx.arange(6, dtype=mx.float32).reshape(2, 3) * 2
    buf = io.BytesIO()
    mx.save_safetensors(buf, {"b": b, "t": b.T, "s": b[:, 1:]})
    buf.seek(0)
    got = mx.load(buf, format="safetensors")
    x = np.arange(6, dtype=np.float32).reshape(2, 3) * 2
    np.testing.assert_array_equal(np.array(got["t"]), x.T)
    np.testing.assert_array_equal(np.array(got["s"]), x[:, 1:])
