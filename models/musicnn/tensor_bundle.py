"""A reader of TensorFlow's tensor-bundle checkpoints in plain Python: no TensorFlow, no
protobuf library, and nothing in the files is executed (no pickle).

A bundle is ``<prefix>.index`` and ``<prefix>.data-00000-of-00001``. The index is a sorted
table (:mod:`models.musicnn.sorted_table`) from each variable's name to a serialised
``BundleEntryProto``: its dtype, shape, shard, the ``offset`` and ``size`` of its bytes in the
data file and their masked CRC-32C; the empty key holds the ``BundleHeaderProto`` (number of
shards, endianness). The data file is the tensors' raw bytes, C order, little-endian.

The protobuf messages are decoded by hand: each field is a varint ``number << 3 | wire type``
followed by a varint (type 0), 8 bytes (1), a varint length and that many bytes (2: strings,
nested messages) or 4 bytes (5). Every tensor's CRC-32C is checked (:mod:`models.musicnn.crc32c`)
unless ``verify_crc=False``. Anything damaged or not supported is a :class:`DataError` of one
line naming the file and what is wrong.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import DataError
from models.musicnn.crc32c import crc32c, mask
from models.musicnn.sorted_table import TableError, read_table, read_varint

INDEX_SUFFIX = ".index"
DATA_SUFFIX = ".data-00000-of-00001"  # the only shard layout read: one shard
#: TensorFlow's ``DataType`` enum -> numpy dtype (little-endian), for fixed-width types.
DTYPES: dict[int, str] = {
    1: "<f4",  # DT_FLOAT
    2: "<f8",  # DT_DOUBLE
    3: "<i4",  # DT_INT32
    4: "u1",  # DT_UINT8
    5: "<i2",  # DT_INT16
    6: "i1",  # DT_INT8
    8: "<c8",  # DT_COMPLEX64
    9: "<i8",  # DT_INT64
    10: "?",  # DT_BOOL
    17: "<u2",  # DT_UINT16
    18: "<c16",  # DT_COMPLEX128
    19: "<f2",  # DT_HALF
    22: "<u4",  # DT_UINT32
    23: "<u8",  # DT_UINT64
}
_INT64 = 1 << 63


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor's bytes are (a ``BundleEntryProto``)."""

    dtype: int  # TensorFlow's DataType number
    shape: tuple[int, ...]
    shard_id: int
    offset: int  # bytes into the data file
    size: int  # bytes
    crc32c: int  # masked CRC-32C of the bytes
    sliced: bool  # a partitioned variable (not read here)


def read_tensor_bundle(prefix: str | Path, *, verify_crc: bool = True) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint at ``prefix``.

    Parameters
    ----------
    prefix : str or Path
        The files' common start (``model.ckpt`` for ``model.ckpt.index``), or a folder whose
        files are named ``.index`` and ``.data-00000-of-00001``, as the musicnn checkpoints'.
    verify_crc : bool
        Check each tensor's bytes against the CRC-32C its entry stores (0.1 s for 9 MB).

    Returns
    -------
    dict
        variable name -> read-only numpy array of its dtype and shape.

    Raises
    ------
    DataError
        A missing or damaged file (wrong magic number, truncated, an offset beyond the data,
        a failed CRC), a sliced, multi-shard or big-endian checkpoint, an unsupported dtype.
    """
    index_path, data_path = bundle_paths(prefix)
    entries = read_index(prefix, verify_crc=verify_crc)
    data = _read_bytes(data_path)
    tensors = {}
    for name, entry in entries.items():
        where = f"{data_path}: tensor {name!r}"
        dtype = np.dtype(DTYPES[entry.dtype])
        count = int(np.prod(entry.shape, dtype=np.int64))
        if entry.size != count * dtype.itemsize:
            raise DataError(
                f"{index_path}: tensor {name!r} has {entry.size} bytes, but shape "
                f"{list(entry.shape)} of {dtype} needs {count * dtype.itemsize}"
            )
        if entry.offset + entry.size > len(data):
            raise DataError(
                f"{where} at bytes {entry.offset}-{entry.offset + entry.size} runs past the "
                f"file's end ({len(data)} bytes): the file is truncated or does not belong to "
                "this index"
            )
        raw = memoryview(data)[entry.offset : entry.offset + entry.size]
        if verify_crc and mask(crc32c(raw)) != entry.crc32c:
            raise DataError(f"{where} fails its CRC-32C: the file is damaged")
        tensors[name] = np.frombuffer(data, dtype, count, entry.offset).reshape(entry.shape)
    return tensors


def bundle_paths(prefix: str | Path) -> tuple[Path, Path]:
    """The ``.index`` and ``.data-00000-of-00001`` paths of the checkpoint at ``prefix``."""
    prefix = os.fspath(prefix)
    if os.path.isdir(prefix):
        prefix = os.path.join(prefix, "")
    return Path(prefix + INDEX_SUFFIX), Path(prefix + DATA_SUFFIX)


def read_index(prefix: str | Path, *, verify_crc: bool = True) -> dict[str, BundleEntry]:
    """Each tensor's entry in the checkpoint's index (no tensor data read), checked to be one
    that :func:`read_tensor_bundle` can read; one-line :class:`DataError` otherwise."""
    index_path, _ = bundle_paths(prefix)
    try:
        table = read_table(_read_bytes(index_path), verify_crc=verify_crc)
    except TableError as exc:
        raise DataError(f"{index_path}: not a readable tensor-bundle index ({exc})") from None
    entries, header = {}, None
    for key, value in table:
        name = key.decode("utf-8", errors="replace")
        try:
            if not key:
                header = _header(value)
            else:
                entries[name] = _entry(value)
        except (TableError, struct.error) as exc:
            raise DataError(f"{index_path}: entry {name!r} is malformed ({exc})") from None
    if header is None:
        raise DataError(f"{index_path}: no bundle header (the empty key); not a checkpoint")
    n_shards, big_endian = header
    if n_shards != 1 or big_endian:
        raise DataError(
            f"{index_path}: a checkpoint of {n_shards} shard(s), "
            f"{'big' if big_endian else 'little'}-endian; only one little-endian shard is read"
        )
    for name, entry in entries.items():
        problem = _unsupported(entry)
        if problem:
            raise DataError(f"{index_path}: tensor {name!r} {problem}")
    return entries


def _unsupported(entry: BundleEntry) -> str | None:
    """What keeps ``entry`` from being read, or None."""
    if entry.sliced or entry.shard_id:
        return f"is sliced or in shard {entry.shard_id}; only whole, single-shard tensors"
    if entry.dtype not in DTYPES:
        return f"has dtype {entry.dtype} (TensorFlow's DataType), which is not supported"
    if any(dim < 0 for dim in entry.shape) or entry.offset < 0 or entry.size < 0:
        return f"has a negative dimension, offset or size ({entry})"
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read this checkpoint file ({exc.strerror})") from None


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a serialised protobuf message, in order: ints for varint and
    fixed-width fields, bytes for length-delimited ones."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > len(buf):
                raise TableError(f"field {number} runs past the message's end")
            value = int.from_bytes(buf[pos : pos + width], "little")
            pos += width
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise TableError(f"field {number} runs past the message's end")
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise TableError(f"field {number} has wire type {wire}, not used by these messages")
        out.append((number, value))
    return out


def _signed(value: int) -> int:
    """A varint-encoded int64 (negative values take ten bytes) as a Python int."""
    return value - (1 << 64) if value >= _INT64 else value


def _header(value: bytes) -> tuple[int, bool]:
    """A ``BundleHeaderProto``: (num_shards, big-endian?)."""
    fields = dict(_fields(value))  # 1: num_shards, 2: endianness (0 little, 1 big), 3: version
    return _signed(fields.get(1, 0)), fields.get(2, 0) == 1


def _entry(value: bytes) -> BundleEntry:
    """A ``BundleEntryProto``: 1 dtype, 2 shape, 3 shard_id, 4 offset, 5 size, 6 crc32c
    (fixed32), 7 slices (repeated)."""
    found: dict[int, int | bytes] = {}
    sliced = False
    for number, field in _fields(value):
        sliced = sliced or number == 7
        found[number] = field
    shape = _shape(found[2]) if isinstance(found.get(2), bytes) else ()
    return BundleEntry(
        dtype=int(found.get(1, 0)),
        shape=shape,
        shard_id=_signed(int(found.get(3, 0))),
        offset=_signed(int(found.get(4, 0))),
        size=_signed(int(found.get(5, 0))),
        crc32c=int(found.get(6, 0)),
        sliced=sliced,
    )


def _shape(value: bytes) -> tuple[int, ...]:
    """A ``TensorShapeProto``: its repeated field 2 ``Dim`` messages, each with size at 1."""
    dims = []
    for number, dim in _fields(value):
        if number == 2 and isinstance(dim, bytes):
            sizes = [v for n, v in _fields(dim) if n == 1]
            dims.append(_signed(int(sizes[-1])) if sizes else 0)
    return tuple(dims)
