"""ARFF (Weka attribute-relation files): read with ``scipy.io.arff`` into a DataFrame.

Numeric attributes become float columns (``?`` -> NaN); nominal attributes become ``str`` columns
(``?`` -> missing). Errors name the file and the fix.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import arff

from genotx.data.formats.text import read_text
from genotx.errors import InputError

__all__ = ["read_arff"]


def read_arff(path: str | Path) -> pd.DataFrame:
    """Read an ARFF file; nominal values are decoded to ``str``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.arff"
    >>> _ = p.write_text("@relation r\\n@attribute a numeric\\n@attribute b {yes,no}\\n@data\\n1.5,yes\\n?,no\\n")
    >>> read_arff(p)
         a    b
    0  1.5  yes
    1  NaN   no
    """
    path = Path(path)
    text = read_text(path, what="ARFF file")  # missing, folder, empty, not UTF-8, damaged gzip: named there
    try:
        data, meta = arff.loadarff(io.StringIO(text))
    except (ValueError, TypeError, IndexError, KeyError, StopIteration, csv.Error, arff.ParseArffError) as err:  # scipy's parser fails in all these ways
        raise InputError(str(path), f"cannot parse as ARFF ({type(err).__name__}: {err})", fix="check the @attribute and @data sections") from None
    frame = pd.DataFrame(data)
    for name, kind in zip(meta.names(), meta.types()):
        if kind == "nominal":
            values = frame[name].map(lambda v: v.decode("utf-8") if isinstance(v, bytes) else v)
            frame[name] = values.where(values != "?", np.nan).astype(object)
    return frame
