"""The .npz parts of mlx.core's file io: savez, savez_compressed and npz loading.

An .npz file is a zip archive of .npy files (one per array, named ``<key>.npy``). The zip
container comes from Python's ``zipfile`` (``savez_compressed`` needs Python's ``zlib``
module); each member is written and read by the C++ ``.npy`` code, so NumPy is not needed.
Loading from a path is lazy for uncompressed members (``savez``): their data offsets come from
the zip headers and the arrays read their bytes when evaluated (CRCs are not checked for
them). Compressed members and archives given as file objects are read when loaded.
"""

import collections
import io
import os
import struct
import zipfile

_mx = None


def _prepare(op, args, kwargs):
    arrays = {}
    for i, a in enumerate(args):
        name = f"arr_{i}"
        if name in kwargs:
            raise ValueError(f"[{op}] Cannot use un-named variables and keyword {name}; got both.")
        arrays[name] = a
    arrays.update(kwargs)
    for k, v in arrays.items():
        if not isinstance(v, _mx.array):
            arrays[k] = _mx.array(v)
    _mx.eval(list(arrays.values()))
    return arrays


def _savez(op, file, args, kwargs, compression):
    arrays = _prepare(op, args, kwargs)
    if isinstance(file, (str, os.PathLike)):
        file = os.fsdecode(os.fspath(file))
        if not file.endswith(".npz"):
            file += ".npz"
    elif not hasattr(file, "write"):
        raise TypeError(
            f"[{op}] the file must be a str, a pathlib.Path or a binary file object; "
            f"got {type(file).__name__}."
        )
    with zipfile.ZipFile(file, mode="w", compression=compression, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as f:
                _mx.save(f, arr)


def savez(file, *args, **kwargs):
    """Save several arrays to a binary file in uncompressed ``.npz`` format.

    .. code-block:: python

        import mlx.core as mx

        x = mx.ones((10, 10))
        mx.savez("my_path.npz", x=x)

    Args:
        file (file, str, pathlib.Path): Path to file to which the arrays are saved.
          ``.npz`` is appended to a path that has another ending.
        *args (arrays): Arrays to be saved, named ``arr_0``, ``arr_1``, ...
        **kwargs (arrays): Arrays to be saved. Each array will be saved with the
          associated keyword as the output file name.
    """
    _savez("savez", file, args, kwargs, zipfile.ZIP_STORED)


def savez_compressed(file, *args, **kwargs):
    """Save several arrays to a binary file in compressed ``.npz`` format.

    Args:
        file (file, str, pathlib.Path): Path to file to which the arrays are saved.
          ``.npz`` is appended to a path that has another ending.
        *args (arrays): Arrays to be saved, named ``arr_0``, ``arr_1``, ...
        **kwargs (arrays): Arrays to be saved. Each array will be saved with the
          associated keyword as the output file name.
    """
    _savez("savez_compressed", file, args, kwargs, zipfile.ZIP_DEFLATED)


def _load_npz(file):
    """Loads every ``.npy`` member of an .npz archive (called by ``mx.load``)."""
    label = file if isinstance(file, str) else getattr(file, "name", "<file object>")
    if isinstance(file, str):
        try:
            fobj = open(file, "rb")
        except OSError as e:
            raise RuntimeError(f"[load] Failed to open file {file}; got {e}.") from None
    else:
        fobj = file
        seekable = hasattr(file, "seek") and hasattr(file, "tell")
        if seekable and hasattr(file, "seekable"):
            seekable = file.seekable()
        if not seekable:
            # zipfile needs random access: read the stream into memory.
            data = file.read()
            if not isinstance(data, (bytes, bytearray)):
                raise ValueError(
                    "[load] the file object must be opened in binary mode; "
                    f"got read() returning {type(data).__name__}."
                )
            fobj = io.BytesIO(data)
    try:
        out = {}
        try:
            zf = zipfile.ZipFile(fobj, mode="r")
        except (ValueError, RuntimeError):
            raise
        except Exception as e:
            raise ValueError(
                f"[load] {label} is not a valid .npz file; got {type(e).__name__}: {e}."
            ) from None
        with zf:
            lazy = {}
            if isinstance(file, str):
                # A path: uncompressed members are read lazily, straight from the file.
                lazy = _stored_members(zf, fobj, label)
                if lazy:
                    arrays = _mx._load_npy_members(
                        file, [(n, off, size) for n, (off, size) in lazy.items()]
                    )
                    lazy = dict(zip(lazy, arrays))
            for info in zf.infolist():
                name = info.filename
                if not name.endswith(".npy"):
                    continue
                if name in lazy:
                    out[name[:-4]] = lazy[name]
                    continue
                try:
                    data = zf.read(info)
                except (ValueError, RuntimeError):
                    raise
                except Exception as e:
                    raise ValueError(
                        f"[load] {label} is truncated or malformed; got {type(e).__name__} "
                        f"reading member {name}: {e}."
                    ) from None
                try:
                    out[name[:-4]] = _mx.load(io.BytesIO(data), format="npy")
                except ValueError as e:
                    raise ValueError(f"[load] member {name} of {label}: {e}") from None
        return out
    finally:
        if fobj is not file:
            fobj.close()


def _stored_members(zf, fobj, label):
    """``{name: (data offset, data length)}`` of the uncompressed, unencrypted ``.npy``
    members (read from their local headers); the others are read by ``zipfile``."""
    out = {}
    size = os.fstat(fobj.fileno()).st_size
    infos = zf.infolist()
    counts = collections.Counter(i.filename for i in infos)
    for info in infos:
        name = info.filename
        if (
            not name.endswith(".npy")
            or info.compress_type != zipfile.ZIP_STORED
            or info.flag_bits & 0x1
            or counts[name] > 1
        ):
            continue
        fobj.seek(info.header_offset)
        head = fobj.read(30)
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            raise ValueError(
                f"[load] {label} is truncated or malformed; got a bad local header "
                f"for member {name}."
            )
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        begin = info.header_offset + 30 + name_len + extra_len
        if info.compress_size != info.file_size or begin + info.file_size > size:
            raise ValueError(
                f"[load] {label} is truncated or malformed; got member {name} of "
                f"{info.file_size} bytes at offset {begin} in a file of {size} bytes."
            )
        out[name] = (begin, info.file_size)
    return out


def install(mx):
    global _mx
    _mx = mx
    mx.savez = savez
    mx.savez_compressed = savez_compressed
