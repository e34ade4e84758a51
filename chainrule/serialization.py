"""``save`` / ``load``: checkpoints without pickle.

A checkpoint is one safetensors file.  Every tensor (and NumPy array) in the saved object is
stored as a safetensors tensor, named by its path in the object (``model.fc1.weight``), so
the ``safetensors`` package and other tools can read the weights.  The rest of the object —
nested dicts, lists and tuples of str/int/float/bool/None, with dict keys of any of those
types, in order — is JSON in the header's ``__metadata__``, with tensors replaced by
references.  Loading only parses JSON and copies bytes, so an untrusted file can never run
code.

Layout (the safetensors format): 8-byte little-endian header length N, N bytes of JSON
header (``{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
"__metadata__": {...}}``, padded with spaces to a multiple of 8), then the raw
little-endian tensor bytes.  Writes go to a temporary file in the same folder, are fsynced
and renamed over the target, so a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import math
import os
import secrets

from . import backend
from .tensor import Tensor

_np = backend.np

FORMAT = "chainrule.checkpoint"
VERSION = "1"

_TO_ST = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32",
          "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
_FROM_ST = {v: k for k, v in _TO_ST.items()}
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit

# Tags of the JSON structure.  A JSON object holding one of these keys is a tagged value;
# a dict whose keys are all strings and none of them a tag is stored as a plain object.
_TENSOR, _ARRAY, _TUPLE, _DICT, _FLOAT, _DTYPE, _DEVICE = (
    "__tensor__", "__ndarray__", "__tuple__", "__dict__", "__float__", "__dtype__", "__device__")
_TAGS = frozenset((_TENSOR, _ARRAY, _TUPLE, _DICT, _FLOAT, _DTYPE, _DEVICE))


class _Encoder:
    """Walks the object: returns its JSON structure and collects its arrays by name."""

    def __init__(self):
        self.arrays = {}  # name -> C-contiguous little-endian numpy array
        self._by_id = {}  # id(tensor or array) -> name, so a shared tensor is stored once
        self._keep = []  # keep the objects alive while their ids are in use
        self._active = set()

    def name_for(self, path):
        base = ".".join(path) or "tensor"
        name, i = base, 1
        while name in self.arrays or name == "__metadata__":
            name, i = f"{base}#{i}", i + 1
        return name

    def add_array(self, obj, array, path):
        name = self._by_id.get(id(obj))
        if name is None:
            array = backend.to_numpy(array)
            if array.dtype.name not in _TO_ST:
                raise TypeError(f"save: unsupported dtype {array.dtype} at {_where(path)}")
            # (not ascontiguousarray: it turns 0-d arrays into 1-d ones)
            array = _np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
            name = self.name_for(path)
            self.arrays[name] = array
            self._by_id[id(obj)] = name
            self._keep.append(obj)
        return name

    def encode(self, obj, path):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            if math.isfinite(obj):
                return float(obj)
            return {_FLOAT: repr(float(obj))}  # 'nan', 'inf', '-inf': not valid JSON numbers
        if isinstance(obj, Tensor):
            out = {_TENSOR: self.add_array(obj, obj.data, path)}
            if obj.requires_grad:
                out["requires_grad"] = True
            if obj.device.type != "cpu":
                out["device"] = str(obj.device)
            return out
        if isinstance(obj, (_np.ndarray, _np.generic)):
            out = {_ARRAY: self.add_array(obj, _np.asarray(obj), path)}
            if isinstance(obj, _np.generic):
                out["scalar"] = True
            return out
        if isinstance(obj, backend.dtype):
            return {_DTYPE: obj.name}
        if isinstance(obj, backend.device):
            return {_DEVICE: str(obj)}
        if isinstance(obj, (list, tuple, dict)):
            if id(obj) in self._active:
                raise ValueError(f"save: the object contains itself at {_where(path)}")
            self._active.add(id(obj))
            try:
                if isinstance(obj, list):
                    return [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]
                if isinstance(obj, tuple):
                    return {_TUPLE: [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}
                return self.encode_dict(obj, path)
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"save: can't save a {type(obj).__module__}.{type(obj).__qualname__} at "
                        f"{_where(path)}; checkpoints hold tensors, numpy arrays, str, int, float, "
                        f"bool, None and lists/tuples/dicts of them (no pickle)")

    def encode_dict(self, obj, path):
        plain = all(isinstance(k, str) for k in obj) and not (_TAGS & obj.keys())
        if plain:
            return {k: self.encode(v, path + [k]) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if k is not None and not isinstance(k, (str, int, float, tuple)):
                raise TypeError(f"save: dict key {k!r} of type {type(k).__name__} at "
                                f"{_where(path)} can't be saved (keys must be str, int, float, "
                                f"bool, None or tuples of them)")
            items.append([self.encode(k, path + ["key"]), self.encode(v, path + [str(k)])])
        return {_DICT: items}


def _where(path) -> str:
    return "'" + ".".join(path) + "'" if path else "the top level"


def _header_bytes(structure, arrays) -> tuple[bytes, list]:
    # Largest items first: with an 8-aligned data start every tensor is then aligned to its
    # element size (what the safetensors library does too).
    order = sorted(arrays, key=lambda n: -arrays[n].dtype.itemsize)
    header, offset = {}, 0
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": _TO_ST[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    header["__metadata__"] = {
        "format": FORMAT, "version": VERSION,
        "structure": json.dumps(structure, separators=(",", ":"), allow_nan=False),
    }
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 8)
    return raw, [arrays[n] for n in order]


def _write_array(f, array) -> None:
    if array.nbytes:
        f.write(memoryview(array.reshape(-1).view(_np.uint8)))


def _write(f, header: bytes, arrays) -> None:
    f.write(len(header).to_bytes(8, "little"))
    f.write(header)
    for a in arrays:
        _write_array(f, a)


def save(obj, f) -> None:
    """Save ``obj`` (a state_dict, a training checkpoint dict, ...) to the path ``f``.

    ``obj`` may nest dicts, lists and tuples of tensors, NumPy arrays, str, int, float,
    bool and None (dict keys: str, int, float, bool, None, tuples); all of it, key types
    included, comes back from ``load``.  ``f`` is a path (written atomically) or a
    binary file object.
    """
    enc = _Encoder()
    structure = enc.encode(obj, [])
    header, arrays = _header_bytes(structure, enc.arrays)
    if hasattr(f, "write"):
        _write(f, header, arrays)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: folder {folder} does not exist")
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # os.open applies the umask to 0o666, so the checkpoint gets the usual permissions
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            _write(out, header, arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _fsync_dir(folder) -> None:
    """Make the rename itself durable (POSIX); harmless where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- loading


class _NotCheckpoint(Exception):
    pass


def _read_all(f):
    if hasattr(f, "read"):
        data = f.read()
        return bytearray(data), getattr(f, "name", "<file object>")
    path = os.fspath(f)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        buf = bytearray(size)
        got = fh.readinto(buf)
    return buf[:got] if got != size else buf, path


def _parse(buf):
    """(header dict, data start) of a safetensors buffer, or _NotCheckpoint saying why."""
    if len(buf) < 8:
        raise _NotCheckpoint(f"{len(buf)} bytes is too short for a header")
    n = int.from_bytes(buf[:8], "little")
    if n > _MAX_HEADER or n < 2:
        raise _NotCheckpoint("no safetensors header length at the start")
    if 8 + n > len(buf):
        raise _NotCheckpoint(f"truncated: header of {n} bytes, but the file has "
                             f"{len(buf) - 8} bytes after the length")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _NotCheckpoint(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise _NotCheckpoint("header is not a JSON object")
    return header, 8 + n


def _tensor_table(header, buf, start):
    """name -> numpy array (views into buf), validating every entry."""
    data_len = len(buf) - start
    arrays, end_max = {}, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            st_dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            shape = [int(s) for s in shape]
            begin, end = int(begin), int(end)
        except (KeyError, TypeError, ValueError):
            raise _NotCheckpoint(f"malformed entry for tensor {name!r}") from None
        if st_dtype not in _FROM_ST:
            raise _NotCheckpoint(f"tensor {name!r} has dtype {st_dtype}, which chainrule does "
                                 f"not support")
        dt = _np.dtype(_FROM_ST[st_dtype]).newbyteorder("<")
        count = math.prod(shape)
        if any(s < 0 for s in shape) or begin < 0 or end - begin != count * dt.itemsize:
            raise _NotCheckpoint(f"tensor {name!r}: shape {shape} does not match its byte range "
                                 f"[{begin}, {end})")
        if end > data_len:
            raise _NotCheckpoint(f"truncated: tensor {name!r} ends at byte {end} of the data, "
                                 f"but the file holds {data_len} bytes of data")
        end_max = max(end_max, end)
        a = _np.frombuffer(buf, dtype=dt, count=count, offset=start + begin).reshape(shape)
        if not dt.isnative:
            a = a.astype(dt.newbyteorder("="))
        arrays[name] = a
    if end_max != data_len:
        raise _NotCheckpoint(f"{data_len - end_max} bytes after the last tensor")
    return arrays


def _place(t: Tensor, saved_device, map_location) -> Tensor:
    if map_location is None:
        return t
    if callable(map_location):
        out = map_location(t, saved_device)
        return t if out is None else out
    if isinstance(map_location, dict):
        target = map_location.get(saved_device)
        if target is None:
            return t
    else:
        target = map_location
    dev = backend.device(target)
    return t if dev.type == "cpu" else t.to(dev)


class _Decoder:
    def __init__(self, arrays, map_location):
        self.arrays = arrays
        self.map_location = map_location
        self._tensors = {}

    def array(self, name):
        if not isinstance(name, str) or name not in self.arrays:
            raise _NotCheckpoint(f"structure refers to a missing tensor {name!r}")
        return self.arrays[name]

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            raise _NotCheckpoint(f"unexpected JSON value {node!r}")
        if _TENSOR in node:
            name = node[_TENSOR]
            key = (name, bool(node.get("requires_grad")))
            t = self._tensors.get(key)  # a tensor saved once and referenced twice stays one
            if t is None:
                t = Tensor._wrap(self.array(name))
                t = _place(t, node.get("device", "cpu"), self.map_location)
                if key[1]:
                    t.requires_grad_(True)
                self._tensors[key] = t
            return t
        if _ARRAY in node:
            a = self.array(node[_ARRAY])
            return a[()] if node.get("scalar") else a
        if _TUPLE in node:
            return tuple(self.decode(v) for v in node[_TUPLE])
        if _DICT in node:
            out = {}
            for pair in node[_DICT]:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _NotCheckpoint("malformed dict entry")
                out[self.decode(pair[0])] = self.decode(pair[1])
            return out
        if _FLOAT in node:
            if node[_FLOAT] not in ("nan", "inf", "-inf"):
                raise _NotCheckpoint(f"bad float {node[_FLOAT]!r}")
            return float(node[_FLOAT])
        if _DTYPE in node:
            try:
                return backend.as_dtype(node[_DTYPE])
            except TypeError:
                raise _NotCheckpoint(f"unknown dtype {node[_DTYPE]!r}") from None
        if _DEVICE in node:
            try:
                return backend.device(node[_DEVICE])
            except ValueError:
                raise _NotCheckpoint(f"unknown device {node[_DEVICE]!r}") from None
        return {k: self.decode(v) for k, v in node.items()}


def load(f, map_location=None, *, weights_only=None, mmap=None):
    """Load an object saved by ``save``: tensors come back on the CPU with their dtype (and
    ``requires_grad``), dict keys with their types, tuples as tuples.

    ``map_location`` (torch's): a device or device string to move every tensor to, a dict
    mapping saved device strings to devices, or ``fn(tensor, saved_device) -> tensor``.
    ``weights_only`` and ``mmap`` are accepted for torch compatibility and change nothing:
    loading never runs code, and the file is read into memory.
    A safetensors file written by another tool loads as a dict of tensors by name.
    """
    buf, where = _read_all(f)
    try:
        header, start = _parse(buf)
        arrays = _tensor_table(header, buf, start)
        meta = header.get("__metadata__") or {}
        if not isinstance(meta, dict):
            raise _NotCheckpoint("__metadata__ is not an object")
        decoder = _Decoder(arrays, map_location)
        if meta.get("format") != FORMAT:
            # a plain safetensors file: its tensors by name
            return {name: decoder.decode({_TENSOR: name}) for name in arrays}
        if meta.get("version") != VERSION:
            raise _NotCheckpoint(f"checkpoint format version {meta.get('version')!r}, this "
                                 f"chainrule reads version {VERSION}")
        try:
            structure = json.loads(meta["structure"])
        except (KeyError, TypeError, ValueError):
            raise _NotCheckpoint("its structure metadata is missing or not JSON") from None
        return decoder.decode(structure)
    except _NotCheckpoint as exc:
        raise ValueError(f"load: {where} is not a chainrule checkpoint ({exc})") from None


__all__ = ["save", "load"]
