"""Reading a CSV file from any checkpoint gives back exactly the rows that follow it: whatever
the cells hold (delimiters, quotes, line breaks, accents), the delimiter, the encoding and the
line ends, and in whatever pieces the bytes arrive."""

from __future__ import annotations

import csv
import io

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chalicelib.exchange.csv_reading import detect, records

cell = st.text(
    alphabet=st.sampled_from(list("abcXYZ éçàÉ€ ,;\t\"'\n\r@+=-12")), min_size=0, max_size=12
).filter(lambda text: "\r" not in text)  # a bare CR inside a value is not kept by csv itself
row = st.lists(cell, min_size=3, max_size=3)


def as_file(header: list[str], rows: list[list[str]], delimiter: str, encoding: str, newline: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL).writerows(
        [header, *rows]
    )
    return buffer.getvalue().encode(encoding, errors="replace")  # "utf-8-sig" writes the BOM


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(row, min_size=1, max_size=12),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    piece=st.integers(min_value=1, max_value=64),
    resume_at=st.integers(min_value=0, max_value=11),
)
def test_reading_from_any_checkpoint_gives_the_rows_that_follow(
    rows: list[list[str]], delimiter: str, encoding: str, newline: str, piece: int, resume_at: int
) -> None:
    header = ["email", "first name", "company"]
    data = as_file(header, rows, delimiter, encoding, newline)
    # Lines are read as UTF-8 when they are valid UTF-8: Windows-1252 text that happens to be
    # valid UTF-8 too ("É€" is C9 80, UTF-8 for "ɀ") is the one thing this cannot tell apart.
    assume(encoding != "cp1252" or not any(_valid_utf8_beyond_ascii(line) for line in data.split(b"\n")))
    layout = detect(data, whole_file=True)
    assert layout.header == header and layout.delimiter == delimiter

    def pieces(start: int) -> list[bytes]:
        return [data[i : i + piece] for i in range(start, len(data), piece)]

    expected = [r for r in (_decoded(r, encoding) for r in rows) if any(c.strip() for c in r)]
    read = list(records(pieces(layout.data_offset), layout, layout.data_offset, layout.data_line))
    assert [r.cells for r in read if not r.blank] == expected
    # Resume after any record: the rest comes back, from its byte offset and line number.
    if read:
        checkpoint = read[min(resume_at, len(read) - 1)]
        rest = list(
            records(pieces(checkpoint.end_offset), layout, checkpoint.end_offset, checkpoint.next_line)
        )
        assert [r.cells for r in rest] == [r.cells for r in read[read.index(checkpoint) + 1 :]]
        assert [r.line for r in rest] == [r.line for r in read[read.index(checkpoint) + 1 :]]


def _valid_utf8_beyond_ascii(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not data.isascii()


def _decoded(cells: list[str], encoding: str) -> list[str]:
    if encoding != "cp1252":
        return cells
    return [c.encode("cp1252", errors="replace").decode("cp1252") for c in cells]


def test_a_header_only_file_and_blank_leading_lines() -> None:
    layout = detect(b"\r\n\r\nEmail;Nom\r\n", whole_file=True)
    assert (layout.header, layout.delimiter, layout.data_line) == (["Email", "Nom"], ";", 4)
    assert list(records([b""], layout, layout.data_offset, layout.data_line)) == []


def test_an_empty_file_says_it_is_empty() -> None:
    from chalicelib.exchange.csv_reading import UnreadableFile, detect

    for sample in (b"", b"\xef\xbb\xbf", b"\r\n\r\n"):
        try:
            detect(sample, whole_file=True)
        except UnreadableFile as error:
            assert str(error) == "the file is empty"
        else:
            raise AssertionError(f"{sample!r} was read")
