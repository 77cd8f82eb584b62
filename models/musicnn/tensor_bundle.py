"""A reader of TensorFlow's tensor-bundle checkpoints (``<prefix>.index`` +
``<prefix>.data-NNNNN-of-NNNNN``) in plain Python: no TensorFlow, no protobuf library, and
nothing in the files is executed (no pickle).

The ``.index`` file is a LevelDB-style sorted table: data blocks of prefix-compressed
key/value entries, each block followed by a 5-byte trailer (compression type, CRC), an index
block mapping each data block's last key to its (offset, size) handle, and a 48-byte footer
ending in a magic number. Each value is a serialised ``BundleEntryProto`` (dtype, shape,
shard, offset and size of the tensor's bytes in the ``.data`` shard); the empty key holds the
``BundleHeaderProto``. The tensors' own CRC32C values are not checked here: the checkpoints
this project reads are checked whole against pinned SHA-256 digests
(:mod:`models.musicnn.weights`).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from harness.errors import DataError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
#: TensorFlow DataType enum -> numpy dtype (little-endian), for the types a checkpoint holds.
DTYPES = {
    1: "<f4",
    2: "<f8",
    3: "<i4",
    4: "u1",
    5: "<i2",
    6: "i1",
    9: "<i8",
    10: "?",
    19: "<f2",
}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``buf[pos:]`` and the position after it."""
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: ints for varint / fixed fields, bytes for
    length-delimited ones."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated length-delimited field")
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of the table block at ``offset`` (``size`` bytes + trailer)."""
    end = offset + size
    if offset < 0 or end + BLOCK_TRAILER_SIZE > len(data):
        raise ValueError(f"block at {offset} (+{size}) runs past the end of the file")
    if data[end] != 0:
        raise ValueError(f"block at {offset} is compressed (type {data[end]}); expected none")
    block = data[offset:end]
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise ValueError(f"block at {offset} has a bad restart array")
    entries, pos, key = [], 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + length > limit:
            raise ValueError(f"block at {offset} has a malformed entry")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + length]))
        pos += length
    return entries


def _index_entries(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the sorted table in ``data``, in key order."""
    if len(data) < FOOTER_SIZE:
        raise ValueError("shorter than a table footer")
    footer = data[-FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)
    if magic != TABLE_MAGIC:
        raise ValueError("no table magic number at its end (not a tensor-bundle .index)")
    _, pos = _varint(footer, 0)  # metaindex handle: unused
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    entries = []
    for _, handle in _block(data, index_offset, index_size):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        entries += _block(data, offset, size)
    return entries


def _entry(value: bytes) -> dict:
    """A BundleEntryProto as a dict: dtype, shape, shard_id, offset, size."""
    entry = {"dtype": 0, "shape": [], "shard_id": 0, "offset": 0, "size": 0, "slices": 0}
    for number, field in _fields(value):
        if number == 1:
            entry["dtype"] = field
        elif number == 2:
            for dim_number, dim in _fields(field):
                if dim_number == 2:
                    sizes = [v for n, v in _fields(dim) if n == 1]
                    entry["shape"].append(sizes[0] if sizes else 0)
        elif number in (3, 4, 5):
            entry[{3: "shard_id", 4: "offset", 5: "size"}[number]] = field
        elif number == 7:
            entry["slices"] += 1
    return entry


def read_tensor_bundle(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint at ``prefix`` (the path without ``.index``).

    Returns
    -------
    dict
        variable name -> read-only numpy array of its dtype and shape.

    Raises
    ------
    DataError
        A missing or damaged file, a sliced or compressed or multi-shard checkpoint, an
        unsupported dtype: one line naming the file and what is wrong.
    """
    index_path = Path(f"{prefix}.index")
    data_path = Path(f"{prefix}.data-00000-of-00001")
    try:
        index = index_path.read_bytes()
        data = data_path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"{exc.filename}: cannot read this checkpoint file ({exc.strerror})"
        ) from None
    try:
        entries = _index_entries(index)
    except (ValueError, struct.error) as exc:
        raise DataError(f"{index_path}: not a readable tensor-bundle index ({exc})") from None
    tensors = {}
    for key, value in entries:
        if not key:  # the BundleHeaderProto
            continue
        name = key.decode("utf-8", errors="replace")
        try:
            entry = _entry(value)
        except (ValueError, struct.error) as exc:
            raise DataError(f"{index_path}: entry {name!r} is malformed ({exc})") from None
        where = f"{index_path}: tensor {name!r}"
        if entry["slices"] or entry["shard_id"]:
            raise DataError(f"{where} is sliced or in another shard; expected one shard")
        if entry["dtype"] not in DTYPES:
            raise DataError(f"{where} has unsupported dtype {entry['dtype']}")
        dtype = np.dtype(DTYPES[entry["dtype"]])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        start, size = entry["offset"], entry["size"]
        if size != count * dtype.itemsize or start + size > len(data):
            raise DataError(
                f"{where}: {size} bytes at {start} do not hold shape {entry['shape']} of "
                f"{dtype} in {data_path} ({len(data)} bytes); the checkpoint is damaged"
            )
        array = np.frombuffer(data, dtype=dtype, count=count, offset=start)
        tensors[name] = array.reshape(entry["shape"])
    return tensors
