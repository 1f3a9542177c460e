"""R data files (``.rda`` / ``.RData`` / ``.rds``) read with the ``rdata`` package, without R code.

``rdata`` parses R's serialisation format in pure Python: nothing in the file is evaluated. Its
conversion step, however, fails on objects that hold R code, such as Bioconductor S4 classes with a
function slot (``BSseq@trans`` is a closure). :func:`read_rda` therefore parses the file, walks the
parsed tree removing every slot, attribute or list element that is code or an environment
(closures, byte code, promises, calls, environments, external pointers) and only then converts:

* an S4 object becomes a :class:`types.SimpleNamespace` with one attribute per slot;
* an atomic vector becomes a NumPy array; one with a ``dim`` attribute is reshaped (R is
  column-major, so ``M[i, j]`` in R is ``M[i, j]`` here); a factor becomes a pandas Categorical;
* a named list becomes a dict, a ``data.frame`` a pandas DataFrame.

A code element inside a list is replaced by ``None`` (R ``NULL``) so that list names stay aligned;
a code slot or attribute is dropped.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from genotx.data.formats.text import check_path
from genotx.errors import InputError

__all__ = ["read_lazyload", "read_rda", "strip_code"]


def _code_types() -> frozenset:
    from rdata.parser import RObjectType as T

    return frozenset({T.CLO, T.ENV, T.PROM, T.LANG, T.SPECIAL, T.BUILTIN, T.BCODE, T.EXTPTR, T.WEAKREF,
                      T.DOT, T.ATTRLANG, T.BCREPDEF, T.BCREPREF, T.GLOBALENV, T.EMPTYENV, T.BASEENV,
                      T.NAMESPACE})


def _deref(obj):
    from rdata.parser import RObjectType as T

    while obj is not None and obj.info.type == T.REF:
        obj = obj.referenced_object
    return obj


def _is_code(obj, code: frozenset) -> bool:
    target = _deref(obj)
    return target is not None and target.info.type in code


def _strip_pairlist(node, code: frozenset, null):
    """Rebuild a pairlist (R ``LISTSXP``: ``value == (car, cdr)``) without its code elements."""
    from rdata.parser import RObjectType as T

    nodes = []
    end = node
    while end is not None and end.info.type == T.LIST:
        nodes.append(end)
        end = end.value[1]
    rebuilt = end
    for item in reversed(nodes):
        car = item.value[0]
        if _is_code(car, code):
            continue
        rebuilt = dataclasses.replace(item, value=(_strip(car, code, null), rebuilt))
    return rebuilt


def _strip(obj, code: frozenset, null):
    from rdata.parser import RObjectType as T

    kind = obj.info.type
    if kind == T.REF:
        return obj  # shared references are left as they are; code ones are removed by their holder
    if kind == T.LIST:
        return _strip_pairlist(obj, code, null)
    changes: dict[str, Any] = {}
    if obj.attributes is not None:
        attributes = _strip_pairlist(obj.attributes, code, null)
        changes["attributes"] = None if attributes.info.type == T.NILVALUE else attributes
    if kind in (T.VEC, T.EXPR):
        changes["value"] = [null if _is_code(item, code) else _strip(item, code, null) for item in obj.value]
    return dataclasses.replace(obj, **changes) if changes else obj


def strip_code(parsed):
    """A copy of a parsed R object (``rdata.parser.RData`` or ``RObject``) with all R code removed.

    Slots and attributes holding code are dropped; list elements holding code become ``NULL``.
    """
    from rdata.parser import RData, RObject, RObjectInfo
    from rdata.parser import RObjectType as T

    code = _code_types()
    null = RObject(RObjectInfo(T.NILVALUE, object=False, attributes=False, tag=False, gp=0, reference=0), None, None, None, None)
    if isinstance(parsed, RData):
        return dataclasses.replace(parsed, object=_strip(parsed.object, code, null))
    return _strip(parsed, code, null)


def read_rda(path: str | Path) -> dict[str, Any] | Any:
    """Read an ``.rda``/``.RData`` (a dict of named objects) or ``.rds`` file (one object), code-free.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> import rdata
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.rda"
    >>> rdata.write_rda(p, {"counts": np.array([3, 1, 4], dtype=np.int32)})
    >>> read_rda(p)["counts"].tolist()
    [3, 1, 4]
    """
    import rdata

    path = check_path(path, what="R data file")
    try:
        with warnings.catch_warnings():  # rdata guesses a type from the magic and the name; a bad guess fails below
            warnings.filterwarnings("ignore", message="(Unknown file type|Wrong extension)", category=UserWarning)
            parsed = rdata.parser.parse_file(path)
    except Exception as err:  # noqa: BLE001 - rdata raises many types on a malformed file
        raise InputError(str(path), f"cannot parse as an R data file ({type(err).__name__}: {err})",
                         fix="give a file written by R's save() or saveRDS()") from None
    try:
        with warnings.catch_warnings():  # S4 classes without a Python constructor become namespaces, as documented
            warnings.filterwarnings("ignore", message="Missing constructor for R class", category=UserWarning)
            return rdata.conversion.convert(strip_code(parsed))
    except Exception as err:  # noqa: BLE001
        raise InputError(str(path), f"cannot convert its R objects ({type(err).__name__}: {err})",
                         fix="read it at the parser level with rdata.parser.parse_file") from None


def _lazyload_blob(blob: bytes, compressed: int, where: str) -> bytes:
    """One object's bytes in an R lazy-load database: a 4-byte length, then (for types 2/3) a type byte."""
    import bz2
    import lzma
    import zlib

    size = int.from_bytes(blob[:4], "big")
    if compressed == 1:
        data = zlib.decompress(blob[4:])
    else:
        kind, body = blob[4:5], blob[5:]
        decoders = {b"2": bz2.decompress, b"X": lzma.decompress, b"Z": zlib.decompress, b"0": bytes}
        if kind not in decoders:
            raise InputError(where, f"unknown lazy-load compression type {kind!r}", fix="give an R lazy-load .rdb file")
        data = decoders[kind](body)
    if len(data) != size:
        raise InputError(where, f"an object decompressed to {len(data)} bytes, its header says {size}",
                         fix="re-extract the .rdb/.rdx pair from the same package")
    return data


def read_lazyload(rdx: str | Path, rdb: str | Path, *, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Objects of an R lazy-load database (``Rdata.rdx`` index + ``Rdata.rdb`` blobs), code-free.

    Packages install their ``data/`` this way. The index (a plain R serialisation) gives each
    object's offset and length in the ``.rdb``; each blob is decompressed and parsed with
    ``rdata.parser.parse_data``, then converted as in :func:`read_rda`. ``names`` restricts the
    objects read. Environments (references) are not supported; data objects do not use them.
    """
    import rdata

    rdx, rdb = Path(rdx), Path(rdb)
    for path in (rdx, rdb):
        if not path.exists():
            raise InputError(str(path), "file not found", fix="check the path")
    with warnings.catch_warnings():  # lazy-load blobs have no file-type magic: rdata warns that it assumes RDS
        warnings.filterwarnings("ignore", message="(Unknown file type|Wrong extension)", category=UserWarning)
        try:
            index = rdata.conversion.convert(rdata.parser.parse_file(rdx))
        except Exception as err:  # noqa: BLE001
            raise InputError(str(rdx), f"cannot parse as a lazy-load index ({type(err).__name__}: {err})",
                             fix="give the .rdx file next to the .rdb") from None
    try:
        variables = {str(k): (int(v[0]), int(v[1])) for k, v in index["variables"].items()}
        compressed = int(np.asarray(index.get("compressed", [1])).ravel()[0]) if "compressed" in index else 1
    except (KeyError, TypeError, IndexError) as err:
        raise InputError(str(rdx), f"is not a lazy-load index ({err})", fix="give the .rdx file next to the .rdb") from None
    wanted = variables if names is None else {n: variables[n] for n in names if n in variables}
    missing = set(names or ()) - set(variables)
    if missing:
        raise InputError(str(rdb), f"has no objects {sorted(missing)} (found {sorted(variables)})", fix="check the names")
    out: dict[str, Any] = {}
    with open(rdb, "rb") as handle:
        for name, (offset, length) in wanted.items():
            handle.seek(offset)
            data = _lazyload_blob(handle.read(length), compressed, str(rdb))
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="(Unknown file type|Wrong extension|Missing constructor)",
                                            category=UserWarning)
                    parsed = rdata.parser.parse_data(data)
                    out[name] = rdata.conversion.convert(strip_code(parsed))
            except Exception as err:  # noqa: BLE001
                raise InputError(str(rdb), f"cannot read object {name!r} ({type(err).__name__}: {err})",
                                 fix="read it at the parser level with rdata.parser.parse_data") from None
    return out
