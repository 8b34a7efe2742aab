"""The privacy core: everything that touches personal values.

Owns normalisation (BSN, Dutch names, dates), keyed encodings, the cohort store, dataset
readers, column detection, the matching engine and reports. Raw values live here only in
memory; what leaves this package is keyed encodings, counts, cohort refs, scores and
locations. Never imports `monitor`.
"""
