"""One door for a user's file: the checks every reader shares, each error naming the file, the line and the fix.

* :func:`check_path`: the path exists (a dangling link is missing), is not a folder (unless the reader
  takes one) and can be read;
* :func:`read_bytes`: the file read ONCE (so ``--input <(cat file)``, a named pipe, works), gzip
  recognised by its first bytes, not its name (a ``.gz`` that is plain text reads; a plain name holding
  gzip reads), a truncated or corrupt gzip refused, other archives (zip/xlsx, bzip2, xz, zstd) named,
  the size bounded (:data:`MAX_INPUT_BYTES`, no decompression bomb);
* :func:`read_text`: UTF-8 (a byte that is not names its line), a leading BOM dropped, NUL bytes
  (a binary file) refused, an empty or blank file refused;
* :func:`open_text`: the same checks for a reader that streams (a FASTA genome);
* :func:`parse_delimited`: a CSV/TSV text as a ``str`` DataFrame, a malformed line named (too many
  fields, an unclosed quote) instead of the parser's own message.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
import stat
import zlib
from pathlib import Path

import pandas as pd

from genotx.errors import InputError

__all__ = ["MAX_INPUT_BYTES", "check_path", "read_bytes", "read_text", "open_text", "parse_delimited", "delimiter"]

#: the largest user file (after decompression) a reader takes into memory; beyond it, a file is refused
MAX_INPUT_BYTES = 2 << 30

_GZIP = b"\x1f\x8b"
#: first bytes of formats a text reader cannot read, and what to do
_OTHER = ((b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?)", "save the sheet as CSV"),
          (b"BZh", "bzip2-compressed", "decompress it (bunzip2) or compress it with gzip"),
          (b"\xfd7zXZ\x00", "xz-compressed", "decompress it (unxz) or compress it with gzip"),
          (b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it (unzstd) or compress it with gzip"),
          (b"BAM\x01", "a BAM file", "give a text file here"),
          (b"\x89HDF", "an HDF5 file (.h5ad?)", "give a text file here, or an .h5ad where the task takes one"))
_DAMAGED_GZIP = (EOFError, gzip.BadGzipFile, zlib.error)


def check_path(path: str | os.PathLike, *, what: str = "file", folder_ok: bool = False) -> Path:
    """``path`` as a Path if it can be read; an :class:`~genotx.errors.InputError` otherwise.

    Examples
    --------
    >>> import tempfile
    >>> check_path(tempfile.mkdtemp(), what="CSV file")
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...: is a folder, not a CSV file. Fix: give the path of a CSV file
    """
    path = Path(path)
    where = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        dangling = path.is_symlink()
        raise InputError(where, "is a link to a file that does not exist" if dangling else "file not found",
                         fix="check the path") from None
    except OSError as error:
        raise InputError(where, f"cannot be read ({error.strerror})", fix="check the path and its permissions") from None
    if stat.S_ISDIR(info.st_mode):
        if folder_ok:
            return path
        raise InputError(where, f"is a folder, not a {what}", fix=f"give the path of a {what}")
    if not os.access(path, os.R_OK):
        raise InputError(where, "cannot be read (permission denied)", fix="check the file's permissions")
    return path


def read_bytes(path: str | os.PathLike, *, what: str = "file", max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The file's bytes, read once, gzip-decompressed when it is gzip (by content), at most ``max_bytes``."""
    path = check_path(path, what=what)
    where = str(path)
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    _check_size(raw, where, max_bytes, "")
    if raw.startswith(_GZIP):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
                raw = unzipped.read(max_bytes + 1)
        except _DAMAGED_GZIP as error:
            raise InputError(where, f"is a truncated or damaged gzip file ({error})",
                             fix="compress it again, or check that the copy or download finished") from None
        _check_size(raw, where, max_bytes, " once decompressed")
    for magic, kind, fix in _OTHER:
        if raw.startswith(magic):
            raise InputError(where, f"is {kind}, not a {what}", fix=fix)
    return raw


def _check_size(raw: bytes, where: str, max_bytes: int, when: str) -> None:
    if len(raw) > max_bytes:
        raise InputError(where, f"is larger than {max_bytes} bytes{when}", fix="split the file into smaller ones")


def read_text(path: str | os.PathLike, *, what: str = "text file", max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The file as UTF-8 text (see the module docstring); refused when empty, blank, binary or not UTF-8.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_bytes(b"a,b\\n1,caf\\xe9\\n")
    >>> read_text(p, what="CSV file")
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...x.csv, line 2: byte 0xe9 at column 6 is not UTF-8 text. Fix: save the file as UTF-8 (e.g. 'Save as CSV UTF-8')
    """
    raw = read_bytes(path, what=what, max_bytes=max_bytes)
    where = str(path)
    if not raw.strip():
        raise InputError(where, "is empty" if not raw else "holds only blank lines (no header, no records)",
                         fix=f"give a {what} with content")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = raw.rfind(b"\n", 0, error.start) + 1
        raise InputError(where, f"byte 0x{raw[error.start]:02x} at column {error.start - line_start + 1} is not UTF-8 text",
                         line=raw.count(b"\n", 0, error.start) + 1, fix="save the file as UTF-8 (e.g. 'Save as CSV UTF-8')") from None
    nul = text.find("\0")
    if nul >= 0:
        raise InputError(where, f"holds a NUL byte: a binary file, not a {what}", line=text.count("\n", 0, nul) + 1,
                         fix=f"give a {what}")
    return text


class _CheckedLines:
    """Text lines of a binary stream, decoded one line at a time so that an error names its own line:
    a byte that is not UTF-8, a NUL byte, a damaged gzip. Windows line ends and a leading BOM are dropped."""

    def __init__(self, stream, where: str, what: str) -> None:
        self._stream, self._where, self._what, self._number = stream, where, what, 0

    def __enter__(self) -> "_CheckedLines":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    def __iter__(self) -> "_CheckedLines":
        return self

    def __next__(self) -> str:
        try:
            raw = self._stream.readline()
        except _DAMAGED_GZIP as error:
            raise InputError(self._where, f"is a truncated or damaged gzip file ({error})", line=self._number + 1,
                             fix="compress it again, or check that the copy or download finished") from None
        if not raw:
            raise StopIteration
        self._number += 1
        if self._number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(self._where, f"is not a text {self._what} (byte 0x{raw[error.start]:02x} at column "
                             f"{error.start + 1} is not UTF-8)", line=self._number, fix="save the file as UTF-8 text") from None
        if "\0" in line:
            raise InputError(self._where, f"holds a NUL byte: a binary file, not a {self._what}", line=self._number,
                             fix=f"give a {self._what}")
        return line[:-2] + "\n" if line.endswith("\r\n") else line


def open_text(path: str | os.PathLike, *, what: str = "text file") -> _CheckedLines:
    """Lines of a (gzip) text file for readers that stream (a context manager and an iterator), with
    :func:`read_text`'s checks applied line by line (a damaged gzip or a non-UTF-8 byte names its line)."""
    path = check_path(path, what=what)
    raw = open(path, "rb")  # noqa: SIM115 - closed with the returned stream
    head = raw.peek(8)[:8]
    for magic, kind, fix in _OTHER:
        if head.startswith(magic):
            raw.close()
            raise InputError(str(path), f"is {kind}, not a {what}", fix=fix)
    if head.startswith(_GZIP):
        stream = gzip.GzipFile(fileobj=raw)
        stream.myfileobj = raw  # closed with the gzip stream
    else:
        stream = raw
    return _CheckedLines(stream, str(path), what)


def delimiter(path: str | os.PathLike, text: str) -> str:
    """Tab for ``.tsv``/``.txt``/``.tab`` (also gzipped), or when the header holds tabs and no comma; else comma.

    Examples
    --------
    >>> delimiter("x.csv", "a\\tb\\n1\\t2\\n"), delimiter("x.tsv.gz", "a\\n"), delimiter("x.csv", "a,b\\n")
    ('\\t', '\\t', ',')
    """
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() not in (".gz", ".bgz")]
    if suffixes and suffixes[-1] in (".tsv", ".txt", ".tab"):
        return "\t"
    header = text.lstrip("\n").split("\n", 1)[0]
    return "\t" if "\t" in header and "," not in header else ","


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def parse_delimited(text: str, where: str, *, sep: str = ",", header: bool = True, unique: bool = True) -> pd.DataFrame:
    """``text`` as a DataFrame of ``str`` cells (nothing read as NaN); a malformed line named.

    With ``header``, the first line names the columns (stripped; a name given twice is refused unless
    ``unique=False``: the names are then kept as written, for the caller's own message) and
    ``frame.attrs["lines"]`` holds each row's line number in the file (blank lines skipped).

    Examples
    --------
    >>> parse_delimited("a,b\\n\\n1,2\\n", "x.csv").attrs["lines"]
    [3]
    >>> parse_delimited("a,b\\n1,2\\n3,4,5\\n", "x.csv")
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: x.csv, line 3: 3 fields, but line 1 has 2. Fix: give every line the same number of comma-separated fields (quote a value that holds a comma)
    """
    kind = "tab" if sep == "\t" else "comma"
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, header=None, comment=None,
                            skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise InputError(where, "holds no header line", fix="write a header line and at least one row") from None
    except pd.errors.ParserError as error:
        message = str(error)
        fields = _FIELDS.search(message)
        if fields:
            expected, line, saw = fields.groups()
            raise InputError(where, f"{saw} fields, but line 1 has {expected}", line=int(line),
                             fix=f"give every line the same number of {kind}-separated fields (quote a value that holds a {kind})") from None
        quote = _QUOTE.search(message)
        if quote:
            raise InputError(where, "a quote (\") opens a value that never closes", line=int(quote.group(1)) + 1,
                             fix="close the quote or remove it") from None
        raise InputError(where, f"cannot be read as {kind}-separated text ({' '.join(message.split())})",
                         fix=f"save it as plain UTF-8 {'TSV' if sep == chr(9) else 'CSV'}") from None
    filled = [number for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    lines = filled if len(filled) == len(frame) else None  # a quoted value spanning lines: numbers unknown
    if not header:
        frame.attrs["lines"] = lines
        return frame
    names = [str(name).strip() for name in frame.iloc[0]]
    seen: set[str] = set()
    for name in names:
        if unique and name and name in seen:
            raise InputError(where, f"column name {name!r} appears twice in the header", line=lines[0] if lines else 1,
                             fix="give every column its own name")
        seen.add(name)
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = [name or f"Unnamed: {i}" for i, name in enumerate(names)]
    frame.attrs["lines"] = lines[1:] if lines else None
    return frame
