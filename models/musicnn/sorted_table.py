"""A reader of the LevelDB-style sorted table that a TensorFlow checkpoint's ``.index`` is.

Layout (TensorFlow's ``tensorflow/core/lib/io/table``, LevelDB's format without compression):

- data blocks, each a run of entries ``varint shared, varint unshared, varint value_length,
  key[shared:], value`` (a key is stored as the bytes it does not share with the previous
  key), then ``uint32`` restart offsets and their ``uint32`` count;
- after every block a 5-byte trailer: its compression type (0: none, the only kind TensorFlow
  writes for bundles) and the masked CRC-32C of the block and that type byte;
- a metaindex block (empty here) and an index block whose values are the data blocks'
  handles (``varint offset, varint size``);
- a 48-byte footer: the metaindex and index handles, zero padding, and the magic number as
  a little-endian ``uint64``.

All integers are little-endian. Nothing read is executed; any inconsistency is a
:class:`TableError` saying what is wrong and where.
"""

from __future__ import annotations

import struct

from models.musicnn.crc32c import crc32c, mask

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5  # compression type byte + masked CRC-32C


class TableError(ValueError):
    """The bytes are not a well-formed sorted table (the message says what and where)."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The unsigned base-128 varint at ``buf[pos:]`` and the position after it."""
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise TableError("a varint runs past the end of its buffer")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise TableError("a varint is longer than 10 bytes")


def read_table(data: bytes, *, verify_crc: bool = True) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the table ``data``, in stored (sorted) order.

    Parameters
    ----------
    data : bytes
        The whole table file.
    verify_crc : bool
        Check each block's CRC-32C against its trailer.
    """
    if len(data) < FOOTER_SIZE:
        raise TableError(f"{len(data)} bytes, shorter than a table footer ({FOOTER_SIZE})")
    footer = data[-FOOTER_SIZE:]
    (magic,) = struct.unpack("<Q", footer[-8:])
    if magic != MAGIC:
        raise TableError(f"magic number {magic:#018x} at its end, expected {MAGIC:#018x}")
    _, pos = read_varint(footer, 0)  # the metaindex handle: bundles keep nothing there
    _, pos = read_varint(footer, pos)
    index_offset, pos = read_varint(footer, pos)
    index_size, _ = read_varint(footer, pos)
    body = len(data) - FOOTER_SIZE
    entries = []
    for _, handle in _read_block(data, index_offset, index_size, body, verify_crc):
        offset, pos = read_varint(handle, 0)
        size, _ = read_varint(handle, pos)
        entries += _read_block(data, offset, size, body, verify_crc)
    return entries


def _read_block(
    data: bytes, offset: int, size: int, limit: int, verify_crc: bool
) -> list[tuple[bytes, bytes]]:
    """The entries of the block at ``offset`` (``size`` bytes, then its trailer) that must end
    before byte ``limit``."""
    end = offset + size
    where = f"block at byte {offset} ({size} bytes)"
    if end + TRAILER_SIZE > limit or size < 4:
        raise TableError(f"{where} runs past the table's end ({limit} bytes before the footer)")
    kind = data[end]
    if kind != 0:
        raise TableError(f"{where} is compressed (type {kind}); only uncompressed is read")
    if verify_crc:
        (stored,) = struct.unpack("<I", data[end + 1 : end + TRAILER_SIZE])
        if mask(crc32c(data[offset : end + 1])) != stored:
            raise TableError(f"{where} fails its CRC-32C (damaged bytes)")
    block = data[offset:end]
    (n_restarts,) = struct.unpack("<I", block[-4:])
    stop = size - 4 - 4 * n_restarts
    if stop < 0:
        raise TableError(f"{where} claims {n_restarts} restart points, more than fit")
    entries, pos, key = [], 0, b""
    while pos < stop:
        shared, pos = read_varint(block, pos)
        unshared, pos = read_varint(block, pos)
        length, pos = read_varint(block, pos)
        if shared > len(key) or pos + unshared + length > stop:
            raise TableError(f"{where} has an entry that overruns it")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + length]))
        pos += length
    return entries
