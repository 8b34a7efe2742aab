"""The privacy core: everything that touches personal values.

Owns normalisation (BSN, Dutch names, dates), keyed encodings, the cohort store, dataset
readers, column detection, the matching engine and reports. Raw values live here only in
memory; what leaves this package is keyed encodings, counts, cohort refs, scores and
locations. Never imports `monitor`.
"""

import sys as _sys


class _NoPandas:
    """A meta-path finder that makes ``import pandas`` fail while it is installed."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"{name} is hidden while matchers loads", name=name)


# sqlite-utils imports pandas when it is installed (the benchmarks' recordlinkage brings
# it), and so does pyarrow at the first array it builds from Python or numpy values (to
# tell pandas objects apart): a third to half a second on every command, for nothing used
# here. Both are imported with pandas hidden; pyarrow then remembers "no pandas" for those
# checks only, and still imports pandas should anything convert to or from it.
if "pandas" not in _sys.modules:
    _sys.meta_path.insert(0, _NoPandas)  # type: ignore[arg-type]
    try:
        import pyarrow as _pa
        import sqlite_utils  # noqa: F401

        _pa.array([0])
    finally:
        _sys.meta_path.remove(_NoPandas)  # type: ignore[arg-type]
