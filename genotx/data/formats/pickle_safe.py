"""Read pickles shipped inside data packages, safely: only plain containers and scalars.

Pickles can run code when loaded. genotx reads one only inside a source's fetch-time converter, with
an unpickler that refuses every global (class or function), so a pickle holding anything but dicts,
lists, tuples, strings and numbers fails instead of executing.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

from genotx.data.formats.text import read_bytes
from genotx.errors import InputError


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")


def load_plain_pickle(path: str | Path):
    """Load a pickle that holds only builtin containers/scalars; refuse anything else.

    Examples
    --------
    >>> import pickle, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.pkl"
    >>> _ = p.write_bytes(pickle.dumps({"A": [0, 1]}))
    >>> load_plain_pickle(p)
    {'A': [0, 1]}
    """
    raw = read_bytes(path, what="pickle file")
    try:
        return _PlainUnpickler(io.BytesIO(raw)).load()
    except Exception as err:  # noqa: BLE001 - malformed pickle bytes fail in many ways (EOF, bad opcode, bad key...)
        raise InputError(str(path), f"unsafe or unreadable pickle ({type(err).__name__}: {err})", fix="convert it to CSV/Parquet") from None
