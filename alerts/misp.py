"""A MISP event for a leaked dataset: fingerprints and counts, never personal data.

So that other CERTs can recognise the same dump (MISP's ``sha256`` and ``tlsh``
attributes), see its size and how many members of a monitored cohort it holds, and find
where it was posted (``link`` for the post, ``url`` for the posted file). Never in it: cohort
refs, cohort names, members' data, file paths inside the dump (a member may be named after a
person), or text from the post other than its URL; the victim is named only as the
operator's own watchlist entry the post matched.

UUIDs are derived from the dataset's SHA-256, so exporting the same dataset again yields the
same event and attributes, which MISP then updates instead of duplicating.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from alerts.errors import AlertError

__all__ = ["TLP_LEVELS", "misp_event"]

TLP_LEVELS = ("clear", "white", "green", "amber", "amber+strict", "red")
_NAMESPACE = uuid.UUID("0d6b0c9e-5f55-4a53-9f5c-63a1d6b7e7a4")  # cohortwatch's own
_METHODS = ("bsn", "bsn_corrected", "name_dob")


def _date(text: str | None) -> str:
    if not text:
        return datetime.now(UTC).date().isoformat()
    return datetime.fromisoformat(text).astimezone(UTC).date().isoformat()


def misp_event(dataset: Mapping[str, Any], sightings: Sequence[Mapping[str, Any]] = (), *,
               by_method: Mapping[str, int] | None = None, tlp: str = "amber",
               tags: Iterable[str] = ()) -> dict[str, Any]:
    """``{"Event": {...}}`` for one dataset as :func:`matchers.history.dataset_row` gives it.

    ``sightings`` are where it was posted: dicts with ``site`` (the configured site name),
    ``post_url``, ``file_url``, ``watch_entry`` (the watchlist entry the post matched, or
    None) and ``first_seen``. ``by_method`` holds the match counts per method, when known.

    :raises AlertError: ``tlp`` is not a TLP level.
    """
    if tlp not in TLP_LEVELS:
        raise AlertError(f"unknown TLP level {tlp!r} (use one of {', '.join(TLP_LEVELS)})")
    sha = str(dataset["sha256"])
    event_uuid = uuid.uuid5(_NAMESPACE, f"dataset:{sha}")
    attributes: list[dict[str, Any]] = []

    def add(type_: str, category: str, value: Any, comment: str) -> None:
        if value is None or value == "":
            return
        attributes.append({
            "uuid": str(uuid.uuid5(event_uuid, f"{type_}:{value}:{comment}")),
            "type": type_, "category": category, "value": str(value), "to_ids": False,
            "distribution": "5", "comment": comment,
        })

    fingerprint = dataset.get("fingerprint") or {}
    add("sha256", "Payload delivery", sha, "the posted file (SHA-256 of every byte)")
    for inner in fingerprint.get("sha256_files") or []:
        if inner != sha:
            add("sha256", "Payload delivery", inner, "a file inside the posted dataset")
    for tlsh in fingerprint.get("tlsh_files") or []:
        add("tlsh", "Payload delivery", tlsh, "TLSH of a file (first 16 MiB)")
    add("size-in-bytes", "Other", dataset.get("bytes"), "size of the posted file")
    add("counter", "Other", dataset.get("files"), "tables and documents read in the dataset")
    add("counter", "Other", dataset.get("records"), "records read")
    records = fingerprint.get("records") or {}
    add("counter", "Other", records.get("distinct"), "distinct people-identifying records "
        "(estimated)" if not records.get("distinct_exact") else "distinct records")
    add("counter", "Other", dataset.get("members_matched"),
        "members of a monitored cohort found in the dataset")
    for method in _METHODS:
        if by_method and method in by_method:
            add("counter", "Other", int(by_method[method]), f"members matched by {method}")
    for s in sightings:
        site = s.get("site") or "a leak site"
        add("link", "External analysis", s.get("post_url"), f"leak post on {site}")
        add("url", "Payload delivery", s.get("file_url"), f"posted file on {site}")
        add("text", "Other", s.get("watch_entry"), f"watched organisation named in the "
            f"post on {site}")
    first_seen = dataset.get("first_seen")
    members = int(dataset.get("members_matched") or 0)
    info = (f"Leaked dataset posted on a leak site: {int(dataset.get('records') or 0):,} "
            f"records, {members:,} members of a monitored cohort")
    return {"Event": {
        "uuid": str(event_uuid),
        "info": info,
        "date": _date(first_seen),
        "threat_level_id": "1" if members else "2",
        "analysis": "2",
        "distribution": "0",
        "published": False,
        "Tag": [{"name": f"tlp:{tlp}"}, {"name": "cohortwatch:leaked-dataset"},
                *({"name": t} for t in tags)],
        "Attribute": attributes,
    }}
