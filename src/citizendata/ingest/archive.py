"""Limits on what a ZIP archive (an XLSX workbook) may expand to, checked before it is read.

An XLSX file is a ZIP archive of XML files. Deflate shrinks a long run of one
character about a thousand times, so a 100 KB upload can hold a 100 MB label that
openpyxl and pyxform would load into memory whole. Before a workbook is opened, its
members are counted, their declared sizes summed and their compression ratios
checked; then every member is inflated through a counting stream that stops at the
size its header declares, so a header that lies about the size is caught too.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from citizendata.errors import PayloadTooLarge, Where

if TYPE_CHECKING:
    from citizendata.config import Settings

__all__ = ["ArchiveLimits", "archive_limits", "check_archive"]

_ZIP_MAGIC = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile's structFileHeader, 30 bytes
_CHUNK = 1 << 16
# a member smaller than this cannot hurt, whatever its ratio (empty sheets compress well)
_RATIO_FLOOR = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    """How large, how many and how compressed the members of one archive may be."""

    max_bytes: int
    max_members: int
    max_ratio: int
    setting: str = "max_uncompressed_bytes"  # named in the message, so an admin knows what to raise


def archive_limits(settings: Settings | None = None, *, form: bool = False) -> ArchiveLimits:
    """The limits in force for XLSForms (``form=True``) or for imported workbooks.

    Without settings, the defaults of :class:`~citizendata.config.Settings` (the
    environment is not read).
    """
    from citizendata.config import Settings

    s = settings if settings is not None else Settings.model_construct()
    name = "max_form_uncompressed_bytes" if form else "max_uncompressed_bytes"
    return ArchiveLimits(max_bytes=int(getattr(s, name)), max_members=s.max_archive_members,
                         max_ratio=s.max_compression_ratio, setting=name)


def _refuse(file: str, message: str, limits: ArchiveLimits, **details: int | str) -> PayloadTooLarge:
    env = f"CITIZENDATA_{limits.setting.upper()}"
    return PayloadTooLarge(
        "import.too_large_uncompressed", f"{file}: {message}; nothing was read.",
        where=Where(file=file),
        fix=f"Send a smaller workbook or split it. The limits are settings ({env}, "
            "CITIZENDATA_MAX_ARCHIVE_MEMBERS, CITIZENDATA_MAX_COMPRESSION_RATIO) an "
            "administrator can raise.",
        details=dict(details))


def check_archive(data: bytes, file: str, limits: ArchiveLimits) -> None:
    """Refuse (413 ``import.too_large_uncompressed``) an archive that expands past the limits.

    Anything that is not a readable ZIP archive passes: the reader that follows reports it.
    """
    if not data.startswith(_ZIP_MAGIC):
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # a damaged directory fails in many ways (even NotImplementedError)
        return
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise _refuse(file, f"the workbook holds {len(members):,} files; the limit is "
                          f"{limits.max_members:,}", limits, members=len(members),
                          limit=limits.max_members)
        declared = sum(m.file_size for m in members)
        if declared > limits.max_bytes:
            raise _refuse(file, f"the workbook expands to {declared:,} bytes; the limit is "
                          f"{limits.max_bytes:,}", limits, uncompressed_bytes=declared,
                          limit=limits.max_bytes)
        for m in members:
            ratio = m.file_size / max(m.compress_size, 1)
            if m.file_size > _RATIO_FLOOR and ratio > limits.max_ratio:
                raise _refuse(file, f"{m.filename} expands {ratio:,.0f} times (to "
                              f"{m.file_size:,} bytes); the limit is {limits.max_ratio:,} "
                              "times", limits, member=m.filename, ratio=round(ratio),
                              limit=limits.max_ratio)
        for m in members:
            _inflated_size(data, m, file, limits)


def _inflated_size(data: bytes, member: zipfile.ZipInfo, file: str, limits: ArchiveLimits) -> int:
    """The member's bytes counted while inflating, refused past its declared size."""
    if member.flag_bits & 0x1:
        return 0  # encrypted: no reader here can open it, and it says so
    if member.compress_type == zipfile.ZIP_STORED:
        return member.compress_size
    if member.compress_type != zipfile.ZIP_DEFLATED:
        # bzip2/lzma: zipfile itself never returns more than the declared size
        return member.file_size
    start = _data_offset(data, member)
    if start is None:
        return 0
    stream = zlib.decompressobj(-zlib.MAX_WBITS)
    compressed = memoryview(data)[start:start + member.compress_size]
    pos = count = 0
    try:
        while not stream.eof:
            # at most _CHUNK bytes out per call; input the window could not use yet waits
            # in unconsumed_tail, so memory stays small however far the member expands
            if stream.unconsumed_tail:
                chunk: bytes | memoryview = stream.unconsumed_tail
            elif pos < len(compressed):
                chunk = compressed[pos:pos + _CHUNK]
                pos += len(chunk)
            else:
                break
            count += len(stream.decompress(chunk, _CHUNK))
            if count > member.file_size:
                raise _refuse(file, f"{member.filename} expands past the {member.file_size:,} "
                              "bytes its header declares", limits, member=member.filename,
                              declared_bytes=member.file_size)
    except zlib.error:
        pass  # damaged: the reader that follows reports it
    return count


def _data_offset(data: bytes, member: zipfile.ZipInfo) -> int | None:
    """Where the member's compressed bytes start (after its local header), if readable."""
    at = member.header_offset
    header = data[at:at + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        return None
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _ZIP_MAGIC:
        return None
    name_len, extra_len = fields[10], fields[11]
    return at + _LOCAL_HEADER.size + name_len + extra_len
