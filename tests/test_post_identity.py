"""Post identity survives entities, whitespace, truncation, renames and mirrors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.crawl.identity import KnownPost, assign_posts, post_key, url_key


@dataclass
class P:
    victim: str | None
    title: str | None = None
    url: str | None = None
    published: datetime | None = None


def known(i: int, victim: str, url: str | None = None, published: str | None = None,
          truncated: bool = False) -> KnownPost:
    return KnownPost(i, post_key(victim, None), url_key(url), published, truncated)


def test_url_key_ignores_mirror_host() -> None:
    a = url_key("http://aaaa.onion/post/clinical-diagnostics")
    assert a == url_key("http://bbbb.onion/post/clinical-diagnostics/")
    assert url_key("http://aaaa.onion/") is None and url_key(None) is None
    assert url_key("http://a.onion/?id=12") == "/?id=12"


def test_entities_case_and_whitespace() -> None:
    stored = [known(1, "Eurofins & Co"), known(2, "Zoë Labs")]
    now = [P("EUROFINS &amp;amp; co "), P("Zoe  Labs")]
    assert assign_posts(now, stored) == [1, 2]


def test_truncated_listing_and_full_name() -> None:
    stored = [known(1, "Clinical Diagnostics Nederland Medisch…", truncated=True)]
    assert assign_posts([P("Clinical Diagnostics Nederland Medisch Diagnostisch Lab")],
                        stored) == [1]
    # and the other way round
    stored = [known(1, "Clinical Diagnostics Nederland Medisch Diagnostisch Lab")]
    assert assign_posts([P("Clinical Diagnostics Ned...")], stored) == [1]


def test_rename_keeps_url() -> None:
    stored = [known(7, "Clinical Diagnostics", "http://a.onion/leak/nmdl")]
    assert assign_posts([P("Clinical Diagnostics NMDL (Rijswijk)",
                           url="http://b.onion/leak/nmdl")], stored) == [7]


def test_small_fix_fuzzy() -> None:
    stored = [known(3, "Clinical Diagnostlcs NMDL")]
    assert assign_posts([P("Clinical Diagnostics NMDL")], stored) == [3]


def test_different_victims_stay_apart() -> None:
    stored = [known(1, "Acme Holding"), known(2, "Eurofins")]
    ids = assign_posts([P("Acme Trading"), P("Eurofinance"), P("Nova Lab")], stored)
    assert ids == [None, None, None]


def test_each_stored_post_used_once() -> None:
    stored = [known(1, "Acme Holding BV")]
    assert assign_posts([P("Acme Holding BV"), P("Acme Holding B.V")], stored) == [1, None]


def test_publication_dates_must_agree_for_fuzzy() -> None:
    stored = [known(1, "Stichting Zorg Noord", published="2025-07-06")]
    later = P("Stichting Zorg Noord.", published=datetime(2025, 9, 1, tzinfo=UTC))
    same = P("Stichting Zorg Noord.", published=datetime(2025, 7, 6, 12, tzinfo=UTC))
    # Same folded key: identity holds whatever the date; fuzzy needs agreeing dates.
    assert assign_posts([later], stored) == [1]
    stored = [known(1, "Stichting Zorg Noord Oost", published="2025-07-06")]
    assert assign_posts([P("Stichting Zorg Noord West", published=later.published)],
                        stored) == [None]
    assert assign_posts([P("Stichting Zorg Noord 0ost", published=same.published)],
                        stored) == [1]
