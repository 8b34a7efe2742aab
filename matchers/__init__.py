"""The privacy core: everything that touches personal values.

Owns normalisation (BSN, Dutch names, dates), keyed encodings, the cohort store, dataset
readers, column detection, the matching engine and reports. Raw values live here only in
memory; what leaves this package is keyed encodings, counts, cohort refs, scores and
locations. Never imports `monitor`.
"""

import sys as _sys

# sqlite-utils imports pandas when it is installed (the benchmarks' recordlinkage brings
# it), which costs a third of a second on every command and is never used here. Import it
# with pandas hidden, then let pyarrow find pandas later should anything ask for it.
if "sqlite_utils" not in _sys.modules and "pandas" not in _sys.modules:
    _sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del _sys.modules["pandas"]
