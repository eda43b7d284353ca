"""Reading CSV files as people save them, streamed from any byte offset with flat memory.

What a file looks like is decided once, from its first bytes (`detect`): the encoding, the
delimiter (`,` `;` tab or `|`, sniffed, or Excel's `sep=;` first line), the line ending and
the header. Then `records` reads the data from any byte offset, record by record, telling
where each record starts and ends, so an import can checkpoint after a record and resume
there without reading the file again.

Encoding is decided per line: a line that is valid UTF-8 is UTF-8, any other is
Windows-1252 (Latin-1 for the five bytes Windows-1252 leaves undefined). Windows-1252 text
is almost never valid UTF-8 (an accented letter would have to be followed by a symbol such
as ™ or «), so files saved by Excel on Windows, UTF-8 files with or without a BOM, and even
files that mix both read right, and no sample can guess wrong about a line it did not see.

Quoted fields may hold delimiters and line breaks. A record whose quoting is malformed is
returned with its `error` (the row fails, the rest goes on); a quote never closed is fatal
(`UnreadableFile`), because everything after it would silently become one value.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

BOM_UTF8 = b"\xef\xbb\xbf"
SAMPLE_BYTES = 64 * 1024  # what `detect` needs: the header and enough records to sniff
SNIFF_RECORDS = 50
DELIMITERS = (",", ";", "\t", "|")
# A line longer than this is not a CSV line (a binary file, or a file with no line breaks).
MAX_LINE_BYTES = 1024 * 1024
_SEP_LINE = re.compile(r'^"?sep=(.)"?\s*$', re.IGNORECASE)
# Signatures of files that are not text, with what to tell the person who sent one.
_NOT_CSV = (
    (b"PK\x03\x04", "this is an Excel workbook (.xlsx) or another zip file; save it as CSV first"),
    (b"\xd0\xcf\x11\xe0", "this is an old Excel workbook (.xls); save it as CSV first"),
    (b"%PDF", "this is a PDF file, not a CSV file"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class UnreadableFile(ValueError):
    """The file cannot be read as CSV at all; the message says why, for the person."""


@dataclass(frozen=True)
class Layout:
    """What the file looks like; stored with an import so every chunk reads it the same way."""

    encoding: str  # what the sample was: "utf-8", "utf-8-sig" (BOM) or "windows-1252"
    delimiter: str
    newline: str  # "\n" (also CRLF) or "\r" (old Mac files)
    header: list[str]
    data_offset: int  # byte offset of the first record after the header
    data_line: int  # its physical line number, from 1


@dataclass(frozen=True)
class Record:
    """One record: its cells, where it starts (line) and the offset just after it."""

    cells: list[str]
    line: int
    end_offset: int
    next_line: int
    error: str | None = None

    @property
    def blank(self) -> bool:
        """Nothing in it: skipped. A record that could not be read is never blank (reported)."""
        return self.error is None and not any(cell.strip() for cell in self.cells)


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def detect(sample: bytes, whole_file: bool) -> Layout:
    """The layout of a file from its first bytes (`whole_file`: the sample is all of it)."""
    if not sample.strip(b"\xef\xbb\xbf \t\r\n"):
        raise UnreadableFile("the file is empty")
    for signature, message in _NOT_CSV:
        if sample.startswith(signature):
            raise UnreadableFile(message)
    if sample.startswith(_UTF16_BOMS):
        raise UnreadableFile(
            "this file is UTF-16 (Excel's 'Unicode text'); save it as 'CSV UTF-8' or 'CSV' instead"
        )
    if b"\x00" in sample:
        raise UnreadableFile("this is a binary file, not a CSV file")
    start = len(BOM_UTF8) if sample.startswith(BOM_UTF8) else 0
    newline = "\r" if b"\r" in sample and b"\n" not in sample else "\n"
    if not whole_file:  # sniff complete lines only
        cut = sample.rfind(newline.encode())
        sample = sample[: cut + 1] if cut > start else sample
    encoding = "utf-8-sig" if start else _sample_encoding(sample)

    lines = list(_split(sample[start:], newline.encode()))
    offset, line_no = start, 1
    delimiter = None
    if lines and (match := _SEP_LINE.match(decode(lines[0]).strip("\r\n"))):
        delimiter = match.group(1)
        offset += len(lines[0])
        line_no += 1
        lines = lines[1:]
    text = [decode(raw) for raw in lines]
    if delimiter is None:
        delimiter = sniff_delimiter(text)

    position = [offset, line_no]

    def tracked() -> Iterator[str]:
        for raw, decoded in zip(lines, text, strict=True):
            position[0] += len(raw)
            position[1] += 1
            yield decoded

    reader = csv.reader(tracked(), delimiter=delimiter, strict=True)
    header_line = position[1]
    for cells in _quiet(reader):
        if any(cell.strip() for cell in cells):
            header = [cell.strip() for cell in cells]
            return Layout(encoding, delimiter, newline, header, position[0], position[1])
        header_line = position[1]
    raise UnreadableFile(f"the file has no header line (checked up to line {header_line})")


def _sample_encoding(sample: bytes) -> str:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the sample's end is still UTF-8.
        if error.start < len(sample) - 3:
            return "windows-1252"
    return "utf-8"


def _quiet(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """Records of a sample; a malformed one is skipped (the import reports it later)."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue


def sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits the first records into the most consistent columns.

    Each candidate parses the sample (quotes respected); the score is whether the header has
    more than one column, how many records have the header's width (trailing empty cells not
    counted, as spreadsheets pad or trim them), then the width itself.
    """
    best, best_score = DELIMITERS[0], (False, -1, 0)
    for delimiter in DELIMITERS:
        widths = []
        reader = csv.reader(iter(lines), delimiter=delimiter, strict=True)
        for cells in _quiet(reader):
            if any(cell.strip() for cell in cells):
                widths.append(_width(cells))
            if len(widths) > SNIFF_RECORDS:
                break
        if not widths:
            continue
        header = widths[0]
        score = (header > 1, sum(1 for w in widths[1:] if w == header or 0 < w <= header), header)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _width(cells: list[str]) -> int:
    width = len(cells)
    while width and not cells[width - 1].strip():
        width -= 1
    return width


def _split(data: bytes, newline: bytes) -> Iterator[bytes]:
    start = 0
    while (end := data.find(newline, start)) != -1:
        yield data[start : end + 1]
        start = end + 1
    if start < len(data):
        yield data[start:]


def lines(chunks: Iterable[bytes], newline: bytes, first_line: int = 1) -> Iterator[bytes]:
    """Whole lines (with their line break) from a stream of byte chunks of any size."""
    buffer = bytearray()
    line_no = first_line
    for chunk in chunks:
        buffer += chunk
        start = 0
        while (end := buffer.find(newline, start)) != -1:
            yield bytes(buffer[start : end + 1])
            start = end + 1
            line_no += 1
        del buffer[:start]
        if len(buffer) > MAX_LINE_BYTES:
            raise UnreadableFile(
                f"line {line_no} is longer than {MAX_LINE_BYTES // 1024} KB; is this a CSV file?"
            )
    if buffer:
        yield bytes(buffer)


def records(chunks: Iterable[bytes], layout: Layout, offset: int, line: int) -> Iterator[Record]:
    """The records read from `chunks` (the file's bytes from `offset`, physical line `line`).

    Blank records are returned too (`blank`), so the caller's position moves past them.
    Raises UnreadableFile for a quote that is never closed or a value larger than the csv
    module's field limit (128 KB): both mean the rest of the file would be misread.
    """
    position = [offset, line]
    exhausted = [False]
    last = [""]  # the line read last: what a record that cannot be parsed reports as its value

    def text() -> Iterator[str]:
        for raw in lines(chunks, layout.newline.encode(), line):
            position[0] += len(raw)
            position[1] += 1
            last[0] = decode(raw)
            yield last[0]
        exhausted[0] = True

    reader = csv.reader(text(), delimiter=layout.delimiter, strict=True)
    start_line = line
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = str(error)
            if exhausted[0] and "unexpected end of data" in message:
                raise UnreadableFile(
                    f'line {start_line}: a quoted value is never closed (a missing "), so the rest of '
                    "the file cannot be read; fix the quotes and import it again"
                ) from None
            if "field limit" in message:
                raise UnreadableFile(
                    f"line {start_line}: a value is longer than 128 KB, which usually means a quote "
                    "that is never closed; fix the quotes and import it again"
                ) from None
            raw_line = last[0].rstrip("\r\n")
            yield Record([raw_line], start_line, position[0], position[1], f"malformed quotes ({message})")
            start_line = position[1]
            continue
        yield Record(cells, start_line, position[0], position[1])
        start_line = position[1]
