"""Site definitions and their parsers, on synthetic saved pages with real leak-site layouts.

Every example site in ``config/sites`` is checked against its saved page in
``tests/data/sites``; gates (login wall, CAPTCHA, DDoS guard, queue) must come out
``"blocked"``, never as a listing without posts; hostile input raises nothing but our errors.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchers.errors import CohortwatchError, ConfigError
from monitor.cli import main
from monitor.config import load_config
from monitor.errors import SiteConfigError
from monitor.sites import (
    Detail,
    Extract,
    HtmlParserSpec,
    JsonField,
    JsonParserSpec,
    Listing,
    ParsedPost,
    Site,
    SiteParseError,
    check_onion_host,
    listing_url,
    load_site,
    load_sites_file,
    onion_address,
    parse_detail,
    parse_listing,
)
from monitor.sites.dates import parse_when
from monitor.sites.text import absolute_url, clean_text

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "sites"
EXAMPLES = REPO / "config" / "sites"
NOW = datetime(2025, 7, 6, 12, 0, tzinfo=UTC)
ONION = "vanvaegh6dlmvrsixfnjrqqp2fetqk4vsh3gpnsqc5pxvj2vwsu74sqd.onion"


def example(name: str) -> Site:
    (site,) = load_sites_file(EXAMPLES / f"{name}.toml")
    return site


def listing(site: Site, page: str, url: str | None = None) -> Listing:
    return parse_listing(site, (DATA / page).read_bytes(), url or listing_url(site), None,
                         now=NOW)


def html_site(**parser: object) -> Site:
    spec = HtmlParserSpec(**{"post": "div.post", "victim": Extract("h3"), **parser})
    return Site("t", (f"http://{ONION}/",), spec)


# --- onion addresses --------------------------------------------------------------------------


def test_generated_onion_addresses_are_valid_and_typos_are_caught() -> None:
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    host = onion_address(key)
    assert len(host) == 56 + len(".onion")
    assert check_onion_host(host) is None
    assert check_onion_host("www." + host) is None
    typo = host[:10] + ("a" if host[10] != "a" else "b") + host[11:]
    assert "checksum" in (check_onion_host(typo) or "")
    assert "v2" in (check_onion_host("expyuzz4wqqyqhjn.onion") or "")
    assert "56 characters" in (check_onion_host("abc.onion") or "")
    assert "a-z" in (check_onion_host(host[:5] + "1" + host[6:]) or "")
    raw = bytearray(__import__("base64").b32decode(host[:56].upper()))
    raw[-1] = 2  # version byte
    v2 = __import__("base64").b32encode(bytes(raw)).decode().lower() + ".onion"
    assert "version" in (check_onion_host(v2) or "")


def test_every_example_uses_valid_onion_mirrors() -> None:
    for path in EXAMPLES.glob("*.toml"):
        for site in load_sites_file(path):
            for mirror in site.mirrors:
                host = mirror.split("/")[2]
                assert check_onion_host(host) is None, (path, mirror)


# --- loading ----------------------------------------------------------------------------------

MINIMAL = f"""
[sites.demo]
mirrors = ["http://{ONION}/"]
[sites.demo.parser]
type = "html"
post = "div.post"
victim = "h3"
"""


def _config(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> str:
    path = tmp_path / "cohortwatch.toml"
    path.write_text(text, encoding="utf-8")
    if files:
        (tmp_path / "sites").mkdir()
        for name, body in files.items():
            (tmp_path / "sites" / name).write_text(body, encoding="utf-8")
    return str(path)


def test_example_config_loads_every_example_site() -> None:
    cfg = load_config(str(REPO / "config" / "cohortwatch.example.toml"))
    assert {s.name for s in cfg.sites} >= {"blackcomet", "quietleaks", "harbor", "ledger"}
    assert cfg.sites_dir == REPO / "config" / "sites"
    types = {s.parser.type for s in cfg.sites}
    assert types == {"html", "json"}, "every example ships as configuration, not plugin"


def test_sites_from_main_config_and_sites_dir(tmp_path: Path) -> None:
    other = MINIMAL.replace("demo", "other")
    cfg = load_config(_config(tmp_path, MINIMAL, {"b.toml": other}))
    assert [s.name for s in cfg.sites] == ["demo", "other"]
    site = cfg.sites[0]
    assert site.interval == 3600 and site.timeout.read == 60 and site.download == "watchlist"
    assert site.mirrors == (f"http://{ONION}/",)
    assert cfg.sites[1].source.endswith("b.toml")


def test_explicit_sites_dir_and_no_sites(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "x.toml").write_text(MINIMAL, encoding="utf-8")
    cfg = load_config(_config(tmp_path, 'sites_dir = "defs"\n'))
    assert [s.name for s in cfg.sites] == ["demo"]
    assert load_config(_config(tmp_path, "")).sites == ()


def test_values_timeouts_and_loopback_with_allow_direct(tmp_path: Path) -> None:
    text = """
[sites.local]
mirrors = "http://127.0.0.1:8080/blog"
allow_direct = true
interval = 5
timeout = 10
max_pages = 2
download = "all"
max_download_bytes = 1000
blocked_text = ["Go away"]
[sites.local.parser]
type = "html"
post = "li"
title = "a"
link = "a@href"
page_url = "?page={n}"
"""
    (site,) = load_config(_config(tmp_path, text)).sites
    assert site.mirrors == ("http://127.0.0.1:8080/blog",)
    assert site.allow_direct and site.interval == 5 and site.max_pages == 2
    assert site.timeout.connect == site.timeout.read == 10
    assert site.download == "all" and site.blocked_text == ("Go away",)
    assert site.parser.link == Extract("a", "href")


@pytest.mark.parametrize(
    ("edit", "where", "says"),
    [
        ("colour = 1", "sites.demo.colour", "unknown key"),
        ('mirrors = ["http://example.com/"]', "sites.demo.mirrors[0]", "not an onion"),
        ('mirrors = ["http://127.0.0.1:80/"]', "sites.demo.mirrors[0]", "allow_direct"),
        (f'mirrors = ["http://{ONION[:20]}x{ONION[21:]}/"]', "sites.demo.mirrors[0]",
         "checksum"),
        ('mirrors = ["http://expyuzz4wqqyqhjn.onion/"]', "sites.demo.mirrors[0]", "v2"),
        (f'mirrors = ["http://{ONION}/?a=1"]', "sites.demo.mirrors[0]", "no query"),
        (f'mirrors = ["http://u:p@{ONION}/"]', "sites.demo.mirrors[0]", "credentials"),
        ("mirrors = []", "sites.demo.mirrors", "non-empty"),
        ("interval = 10", "sites.demo.interval", "between 60"),
        ("max_pages = 1.5", "sites.demo.max_pages", "whole number"),
        ('download = "some"', "sites.demo.download", "'watchlist'"),
        ("timeout = { connect = 5, write = 3 }", "sites.demo.timeout.write", "unknown key"),
        ("allow_direct = 1", "sites.demo.allow_direct", "true or false"),
        ("parser.post = 'div[class='", "sites.demo.parser.post", "invalid CSS selector"),
        ("parser.victim = 'h3:nosuchpseudo'", "sites.demo.parser.victim", "invalid CSS"),
        ("parser.deadline = { selector = 'b', regex = '(' }",
         "sites.demo.parser.deadline.regex", "invalid regular expression"),
        ("parser.deadline = { selector = 'b', atr = 'x' }", "sites.demo.parser.deadline.atr",
         "unknown key"),
        ("parser.sellector = 'x'", "sites.demo.parser.sellector", "unknown key"),
        ("parser.page_url = '/page/'", "sites.demo.parser.page_url", "{n}"),
        ("parser.type = 'xml'", "sites.demo.parser.type", "one of"),
        ("parser.start = 'http://x.onion/'", "sites.demo.parser.start", "path on the mirror"),
        ("parser.detail = {}", "sites.demo.parser.detail", "empty detail"),
        ("parser.detail.files = 'a[href'", "sites.demo.parser.detail.files", "invalid CSS"),
    ],
)
def test_errors_name_file_and_key_path(tmp_path: Path, edit: str, where: str, says: str) -> None:
    key, _, value = edit.partition(" = ")
    lines = MINIMAL.strip().splitlines()
    if key.startswith("parser."):
        lines = [ln for ln in lines if not ln.startswith(key.removeprefix("parser.") + " ")]
        lines.append(f"{key.removeprefix('parser.')} = {value}")
    else:
        lines = [ln for ln in lines if not ln.startswith(key + " ")]
        lines.insert(1, edit)
    path = _config(tmp_path, "", {"demo.toml": "\n".join(lines) + "\n"})
    with pytest.raises(SiteConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "demo.toml" in message and f"at '{where}'" in message and says in message, message


@pytest.mark.parametrize(
    ("parser", "where", "says"),
    [
        ('type = "json"\napi = "/api"\nvictim = "a..b"', "parser.victim", "malformed path"),
        ('type = "json"\napi = "/api"\nvictim = "a[x]"', "parser.victim", "malformed path"),
        ('type = "json"\nvictim = "a"', "parser.api", "required"),
        ('type = "json"\napi = "/api"\nlink = { path = "id", template = "/p/" }',
         "parser.link.template", "{}"),
        ('type = "plugin"\nlisting = "no_such_module_xyz:parse"', "parser.listing",
         "cannot import"),
        ('type = "plugin"\nlisting = "json:no_such_function"', "parser.listing", "has no"),
        ('type = "plugin"\nlisting = "not a name"', "parser.listing", "package.module"),
        ('type = "html"\npost = "div"', "parser.victim", "'victim' or 'title'"),
        ('type = "html"\npost = "div"\ntitle = "a"\nnext = "a"\npage_url = "/{n}"',
         "parser.page_url", "not both"),
        ('post = "div"', "parser.type", "required"),
    ],
)
def test_parser_errors(tmp_path: Path, parser: str, where: str, says: str) -> None:
    text = f'[sites.demo]\nmirrors = "http://{ONION}/"\n[sites.demo.parser]\n{parser}\n'
    with pytest.raises(SiteConfigError) as err:
        load_config(_config(tmp_path, text))
    message = str(err.value)
    assert "cohortwatch.toml" in message and f"at 'sites.demo.{where}'" in message, message
    assert says in message, message


def test_site_defined_twice_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match=r"defined twice \(also in .*cohortwatch.toml"):
        load_config(_config(tmp_path, MINIMAL, {"again.toml": MINIMAL}))
    with pytest.raises(SiteConfigError, match=r"at 'sites\.Bad Name'"):
        load_site("Bad Name", {}, source="x.toml")
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(SiteConfigError, match="at 'sites_dir'"):
        load_config(_config(other, 'sites_dir = "missing"\n'))
    with pytest.raises(SiteConfigError, match=r"a\.toml: at 'extra'"):
        load_config(_config(other, "", {"a.toml": "extra = 1\n"}))


def test_site_errors_are_config_errors(tmp_path: Path) -> None:
    """One exception tree: the CLI maps SiteConfigError (a ConfigError) to exit status 2."""
    assert issubclass(SiteConfigError, ConfigError)
    assert issubclass(SiteParseError, CohortwatchError)


# --- layouts ----------------------------------------------------------------------------------


def test_card_layout_with_countdowns() -> None:
    site = example("blackcomet")
    result = listing(site, "blackcomet.html")
    assert result.status == "ok" and result.reason is None
    assert len(result.posts) == 12, "the card written by a script is not a post"
    first, second, third = result.posts[:3]
    assert first.victim == "Nordlab Diagnostics B.V."
    assert second.victim == "Van der Berg & Zonen Laboratoria", "entities decoded"
    assert third.victim == "Kliniek Zuidrand", "zero-width space removed"
    assert first.url == f"http://{ONION}/post/nordlab-diagnostics"
    assert first.published == datetime(2025, 7, 6, tzinfo=UTC)
    assert first.published_raw == "06/07/2025"
    assert first.deadline_raw == "13D 23h 59m 12s"
    assert first.deadline == NOW + timedelta(days=13, hours=23, minutes=59, seconds=12)
    assert third.deadline is None and third.deadline_raw == "PUBLISHED"
    assert third.files == (f"http://{ONION}/files/kliniek-zuidrand/part1.7z",
                           f"http://{ONION}/files/kliniek-zuidrand/part2.7z"), "de-duplicated"
    assert "Total 412 GB" in first.description and "\n" not in first.description
    assert result.next_url == f"http://{ONION}/?page=2"
    assert any("'deadline' text could not be read as a date in 6 of 12" in w
               for w in result.warnings)


def test_card_detail_page_and_merge() -> None:
    site = example("blackcomet")
    assert site.has_detail
    post = listing(site, "blackcomet.html").posts[2]
    detail = parse_detail(site, (DATA / "blackcomet-post.html").read_bytes(), post.url or "",
                          now=NOW)
    assert detail.status == "ok"
    assert detail.description.startswith("Kliniek Zuidrand is a private clinic network")
    assert "BSN numbers" in detail.description
    assert detail.published == datetime(2025, 7, 3, 14, 0, tzinfo=UTC)
    assert detail.deadline == datetime(2025, 7, 17, tzinfo=UTC)
    assert len(detail.files) == 3
    assert f"http://{ONION}/files/kliniek-zuidrand/part3.7z" in detail.files
    merged = post.with_detail(detail)
    assert merged.victim == post.victim and merged.description == detail.description
    assert merged.files == (*post.files, f"http://{ONION}/files/kliniek-zuidrand/part3.7z")
    assert merged.deadline == detail.deadline
    blocked = Detail("blocked", description="x")
    assert post.with_detail(blocked) is post


def test_article_list_with_numbered_pages() -> None:
    site = example("quietleaks")
    result = listing(site, "quietleaks.html")
    assert result.status == "ok" and not result.warnings
    assert [p.title for p in result.posts][:2] == ["ACME Logistics & Co", "Rivierstad Gemeente"]
    acme = result.posts[0]
    assert acme.name == "ACME Logistics & Co" and acme.victim == ""
    assert acme.published == datetime(2025, 7, 6, 6, 14, tzinfo=UTC), "+03:00 to UTC"
    assert acme.url and acme.url.endswith("/leaks/acme-logistics/")
    assert "Continue reading" not in acme.description
    base = listing_url(site)
    assert result.next_url == base + "page/2/"
    page3 = listing(site, "quietleaks.html", url=base + "page/2/")
    assert page3.next_url == base + "page/3/"


def test_table_layout() -> None:
    site = example("ledger")
    result = listing(site, "ledger.html")
    assert [p.victim for p in result.posts] == [
        "Ironbridge Construction", "St. Elmo Care Homes", "Lakeside Water Board",
        "Greenfield Seeds Coop"]
    assert result.posts[0].published == datetime(2025, 7, 5, tzinfo=UTC)
    assert result.posts[2].files == ()
    assert result.posts[3].files[0].endswith("/dl/greenfield.rar")
    assert result.next_url and result.next_url.endswith("/archive?p=2")


def test_json_api_listing_and_detail() -> None:
    site = example("harbor")
    url = listing_url(site)
    assert url.endswith(".onion/api/v1/posts?page=1")
    result = listing(site, "harbor.json")
    assert result.status == "ok" and len(result.posts) == 3
    polder, dune, eastport = result.posts
    assert polder.victim == "Polder Health Insurance"
    assert polder.title == "Polder Health Insurance – 2.1M policyholders"
    assert polder.description == "Insurer. Policyholder records with BSN & medical claims."
    assert polder.published == datetime(2025, 7, 6, 10, tzinfo=UTC), "epoch seconds"
    assert polder.deadline == datetime(2025, 7, 20, tzinfo=UTC)
    assert polder.url and polder.url.endswith("/api/v1/posts/81")
    assert eastport.published == datetime(2025, 6, 28, 10, tzinfo=UTC), "epoch milliseconds"
    assert [f.rsplit("/", 1)[1] for f in dune.files] == ["dune-1.zip", "dune-2.zip"]
    assert eastport.files[0].endswith("/download/79/all.tar.gz")
    assert result.next_url and result.next_url.endswith("/api/v1/posts?page=2")
    detail = parse_detail(site, (DATA / "harbor-post.json").read_bytes(), dune.url or "",
                          "application/json", now=NOW)
    assert detail.status == "ok" and len(detail.files) == 3
    assert detail.description.startswith("Dune Analytics Lab runs 3 labs. We publish"), "tags out"
    assert detail.published == datetime(2025, 7, 2, 10, tzinfo=UTC)


def _json_site(**fields: object) -> Site:
    spec = JsonParserSpec(**{"api": "/api?p={n}", "posts": JsonField("items"),
                             "victim": JsonField("name"), **fields})
    return Site("j", (f"http://{ONION}/",), spec)


def test_json_paths_expansion_indexes_templates_and_regex() -> None:
    doc = {"items": {"a1": {"name": "Acme", "tags": ["x", "y"], "parts": [{"u": "/1"}, {"u": "/2"}],
                            "meta": {"left": "Deadline: 3 days"}, "id": "a 1"},
                     "b2": {"name": "Beta", "parts": [], "id": 7}}}
    site = _json_site(title=JsonField("tags[1]"), files=JsonField("parts[].u"),
                      deadline=JsonField("meta.left", regex=r"Deadline: (.*)"),
                      link=JsonField("id", template="/post/{}"))
    result = parse_listing(site, json.dumps(doc).encode(), f"http://{ONION}/api?p=1", now=NOW)
    acme, beta = result.posts
    assert acme.title == "y" and acme.files == (f"http://{ONION}/1", f"http://{ONION}/2")
    assert acme.deadline == NOW + timedelta(days=3)
    assert acme.url == f"http://{ONION}/post/a%201" and beta.url == f"http://{ONION}/post/7"
    assert result.next_url == f"http://{ONION}/api?p=2"
    empty = parse_listing(site, b'{"items": []}', f"http://{ONION}/api?p=4", now=NOW)
    assert empty.status == "empty" and empty.posts == ()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><title>DDoS-Guard</title><body>Checking your browser</body></html>", "DDoS"),
        (b"<html><body><form><input type=password></form></body></html>", "login wall"),
        (b"<html><body><h1>Bad gateway</h1></body></html>", "HTML page where JSON"),
        (b"Too many requests, slow down", "error page"),
        (b"{not json", "not JSON"),
        (b"", "empty response"),
        (b'{"error": "captcha required"}', "CAPTCHA"),
        (b'{"data": {"other": []}}', "it has: data"),
        (b'{"items": 5}', "not a list"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_json_api_gates_are_blocked(body: bytes, says: str) -> None:
    result = parse_listing(_json_site(), body, f"http://{ONION}/api?p=1", now=NOW)
    assert result.status == "blocked" and says in (result.reason or ""), result


# --- gates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "says"),
    [
        ("gate-login.html", "login wall"),
        ("gate-captcha.html", "CAPTCHA"),
        ("gate-ddos.html", "DDoS"),
        ("gate-queue.html", "queue"),
    ],
)
def test_gates_are_blocked_not_zero_posts(page: str, says: str) -> None:
    for name in ("blackcomet", "quietleaks", "ledger"):
        result = listing(example(name), page)
        assert result.status == "blocked", (name, result)
        assert says in (result.reason or ""), result.reason
        assert result.posts == () and result.next_url is None


def test_site_blocked_text_and_genuinely_empty_listing() -> None:
    site = example("blackcomet")
    captcha = b"<html><title>Hi</title><p>Prove you are not a bot: 3 + 4 = ?</p></html>"
    result = parse_listing(site, captcha, listing_url(site), now=NOW)
    assert "the site's blocked text 'Prove you are not a bot'" in (result.reason or "")
    empty = listing(site, "empty-listing.html")
    assert empty.status == "empty", "a 'Partner login' link in the menu is not a login wall"
    assert any("matched no post" in w for w in empty.warnings)


def test_blocked_detail_page() -> None:
    site = example("blackcomet")
    detail = parse_detail(site, (DATA / "gate-ddos.html").read_bytes(), f"http://{ONION}/p",
                          now=NOW)
    assert detail.status == "blocked" and "DDoS" in (detail.reason or "")
    with pytest.raises(SiteConfigError, match="no detail-page parser"):
        parse_detail(example("ledger"), b"<html></html>", f"http://{ONION}/p")


# --- extraction details -----------------------------------------------------------------------


def test_attribute_forms_regex_and_the_element_itself() -> None:
    page = b"""<div class=post data-id=7 data-href="/p/7"><h3> A&amp;B\n  Corp </h3>
      <span class=t data-ts="1751796000">x</span><a class=dl href="/f/1">1</a>
      <a class=dl href="/f/1#again">1</a><a class=dl href="javascript:void(0)">js</a>
      <p>Deadline in 2 days 3 hours</p><p>Size 1 GB</p></div>"""
    site = html_site(link=Extract("", "data-href"), published=Extract("span.t", "data-ts"),
                     deadline=Extract("p", regex=r"Deadline (.*)"), files=Extract("a.dl"),
                     description=Extract("p"))
    (post,) = parse_listing(site, page, f"http://{ONION}/blog/", now=NOW).posts
    assert post.victim == "A&B Corp"
    assert post.url == f"http://{ONION}/p/7"
    assert post.published == datetime(2025, 7, 6, 10, tzinfo=UTC)
    assert post.deadline == NOW + timedelta(days=2, hours=3)
    assert post.files == (f"http://{ONION}/f/1",), "fragment dropped, javascript: ignored"
    assert post.description == "Deadline in 2 days 3 hours\nSize 1 GB"


def test_string_form_attribute_split() -> None:
    from monitor.sites.load import _split_attr

    assert _split_attr("a.title@href") == ("a.title", "href")
    assert _split_attr("@data-url") == ("", "data-url")
    assert _split_attr('a[href*="@"]') == ('a[href*="@"]', None)
    assert _split_attr("a[title=x@y]") == ("a[title=x@y]", None)


def test_containers_without_content_are_skipped_with_a_warning() -> None:
    page = b"<div class=post><h3>Acme</h3></div><div class=post>  </div>"
    result = parse_listing(html_site(), page, f"http://{ONION}/", now=NOW)
    assert [p.victim for p in result.posts] == ["Acme"]
    assert any("1 element(s) matched by 'post'" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-07-06", datetime(2025, 7, 6, tzinfo=UTC)),
        ("2025-07-06T10:30:00Z", datetime(2025, 7, 6, 10, 30, tzinfo=UTC)),
        ("2025-07-06 10:30:00 +02:00", datetime(2025, 7, 6, 8, 30, tzinfo=UTC)),
        ("06/07/2025", datetime(2025, 7, 6, tzinfo=UTC)),
        ("06.07.2025 14:00", datetime(2025, 7, 6, 14, tzinfo=UTC)),
        ("13/07/2025", datetime(2025, 7, 13, tzinfo=UTC)),
        ("07/13/2025", datetime(2025, 7, 13, tzinfo=UTC)),
        ("Jul 6, 2025", datetime(2025, 7, 6, tzinfo=UTC)),
        ("July 6th, 2025 2:15 pm", datetime(2025, 7, 6, 14, 15, tzinfo=UTC)),
        ("6 July 2025", datetime(2025, 7, 6, tzinfo=UTC)),
        ("Sun, 06 Jul 2025 09:00:00 GMT", datetime(2025, 7, 6, 9, tzinfo=UTC)),
        ("Published: 2025/07/06", datetime(2025, 7, 6, tzinfo=UTC)),
        ("1751796000", datetime(2025, 7, 6, 10, tzinfo=UTC)),
        ("1751796000000", datetime(2025, 7, 6, 10, tzinfo=UTC)),
        ("13D 23h 59m", NOW + timedelta(days=13, hours=23, minutes=59)),
        ("13 days 23:59:59", NOW + timedelta(days=13, hours=23, minutes=59, seconds=59)),
        ("13:23:59:59", NOW + timedelta(days=13, hours=23, minutes=59, seconds=59)),
        ("3 hours ago", NOW - timedelta(hours=3)),
        ("2 weeks left", NOW + timedelta(weeks=2)),
        ("PUBLISHED", None),
        ("soon", None),
        ("", None),
        ("31/02/2025", None),
        ("0001-01-01", None),
        ("99999999999999999999", None),
        ("Room 12 d", None),
    ],
)
def test_dates(text: str, expected: datetime | None) -> None:
    assert parse_when(text, NOW, future=True) == expected


def test_date_order_mdy_and_published_countdown_direction() -> None:
    assert parse_when("06/07/2025", NOW, order="mdy") == datetime(2025, 6, 7, tzinfo=UTC)
    assert parse_when("2 days", NOW, future=False) == NOW - timedelta(days=2)
    assert parse_when("in 2 days", NOW, future=False) == NOW + timedelta(days=2)


def test_text_and_urls() -> None:
    assert clean_text("  a\u200b b\t\n c\x00 ") == "a b c"
    assert clean_text("<b>A</b>&amp;B", markup=True) == "A &B"
    assert clean_text("x" * 5000) == "x" * 1000
    base = f"http://{ONION}/a/b"
    assert absolute_url(base, "c d") == f"http://{ONION}/a/cd"
    assert absolute_url(base, "../x?q=1#frag") == f"http://{ONION}/x?q=1"
    for bad in ("", "#top", "javascript:alert(1)", "mailto:x@y", "data:,x", "ftp://h/x",
                "http://[::1", "http://h:99999/", "/" + "a" * 5000):
        assert absolute_url(base, bad) is None, bad


# --- hostile pages ----------------------------------------------------------------------------


def test_deep_nesting_is_flattened_and_fast() -> None:
    site = html_site(victim=Extract("div h3"))
    post = b"<div class=post><h3>Deep</h3></div>"
    started = time.monotonic()
    hostile = parse_listing(site, b"<div>" * 30_000 + post * 1000 + b"</div>" * 30_000,
                            f"http://{ONION}/", now=NOW)
    assert time.monotonic() - started < 15
    assert any("nested deeper" in w for w in hostile.warnings)
    real = parse_listing(site, b"<div>" * 60 + post + b"</div>" * 60, f"http://{ONION}/",
                         now=NOW)
    assert [p.victim for p in real.posts] == ["Deep"] and not real.warnings


def test_huge_pages_and_attributes_are_cut() -> None:
    site = html_site(link=Extract("h3", "data-x"))
    big = (b"<div class=post><h3 data-x='" + b"a" * 3_000_000 + b"'>" + b"V" * 50_000
           + b"</h3></div>")
    (post,) = parse_listing(site, big, f"http://{ONION}/", now=NOW).posts
    assert len(post.victim) == 1000 and post.url is None
    many = b"<div class=post><h3>x</h3></div>" * 50_000
    result = parse_listing(html_site(), many, f"http://{ONION}/", now=NOW)
    assert len(result.posts) == 1000
    assert any("page cut" in w for w in result.warnings)
    tiny = Site("t", (f"http://{ONION}/",), html_site().parser, max_page_bytes=2048)
    result = parse_listing(tiny, many, f"http://{ONION}/", now=NOW)
    assert any("max_page_bytes" in w for w in result.warnings)


def test_broken_markup_and_odd_encodings() -> None:
    site = html_site()
    for page in (
        b"<div class=post><h3>Unclosed <b>bold",
        b"<div class=post><h3>Caf\xe9</h3>",
        b"\xef\xbb\xbf<div class=post><h3>BOM</h3></div>",
        '<meta charset="windows-1252"><div class=post><h3>Caf\xe9</h3></div>'.encode("cp1252"),
        b"<div class=post><h3>x</h3></div><!-- <div class=post><h3>comment</h3></div> -->",
        b"<<<>>><div class=post><h3>ok</h3><a href='http://[bad'>x</a></div></</",
    ):
        result = parse_listing(site, page, f"http://{ONION}/", None, now=NOW)
        assert result.status == "ok" and len(result.posts) == 1, page
    result = parse_listing(site, "<div class=post><h3>Café</h3></div>".encode("utf-16"),
                           f"http://{ONION}/", None, now=NOW)
    assert result.posts[0].victim == "Café"


_FUZZ_SITES = (
    html_site(title=Extract("a"), link=Extract("a"), published=Extract("time"),
              deadline=Extract("b", regex=r"(\d+D.*)"), files=Extract("a.f"),
              next=Extract("a.next"), detail=None),
    _json_site(title=JsonField("t[]"), files=JsonField("f[].u"), published=JsonField("p"),
               next=JsonField("n")),
)
_TAGS = st.sampled_from(["<div class=post>", "</div>", "<h3>", "</h3>", "<a href='", "'>",
                         "</a>", "<time datetime='", "<b>", "<script>", "</script>", "<!--",
                         "&amp;", "&#x0;", "&#99999999;", "<a class=next href=x>", "\u200b",
                         "13D 2h", "2025-07-06", "<table><tr><td>", "<![CDATA[", "<?xml?>",
                         '{"items": [', '{"name": ', '"x"', "]}", ",", "null", "1e999"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(st.binary(max_size=3000),
                      st.lists(st.one_of(_TAGS, st.text(max_size=20)), max_size=80).map(
                          lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))))
def test_fuzz_parse_listing_raises_only_our_errors(body: bytes) -> None:
    for site in _FUZZ_SITES:
        for content_type in (None, "text/html; charset=koi8-r", "text/html; charset=bogus"):
            try:
                result = parse_listing(site, body, f"http://{ONION}/x", content_type, now=NOW)
            except CohortwatchError:
                continue
            assert result.status in ("ok", "empty", "blocked")
            for post in result.posts:
                assert post.name or post.url
                assert all(f.startswith("http") for f in post.files)


# --- plugins ----------------------------------------------------------------------------------


def plugin_listing(site: Site, body: bytes, url: str, content_type: str | None,
                   now: datetime) -> Listing:
    """A parser plugin, as an operator would write one (used by the tests below)."""
    if body == b"boom":
        raise RuntimeError("plugin bug")
    if body == b"wrong":
        return "not a listing"  # type: ignore[return-value]
    names = body.decode().split(",")
    return Listing("ok", tuple(ParsedPost(victim=n, url=f"{url}#{n}") for n in names), url=url)


def test_plugin_parser(tmp_path: Path) -> None:
    text = f"""[sites.odd]
mirrors = "http://{ONION}/"
[sites.odd.parser]
type = "plugin"
listing = "test_sites:plugin_listing"
options = {{ key = "value" }}
"""
    (site,) = load_config(_config(tmp_path, text)).sites
    assert site.parser.options == {"key": "value"} and not site.has_detail
    result = parse_listing(site, b"Acme,Beta", f"http://{ONION}/")
    assert [p.victim for p in result.posts] == ["Acme", "Beta"]
    with pytest.raises(SiteParseError, match="site odd: parser plugin listing function failed"):
        parse_listing(site, b"boom", f"http://{ONION}/")
    with pytest.raises(SiteParseError, match="returned str"):
        parse_listing(site, b"wrong", f"http://{ONION}/")


# --- the CLI ----------------------------------------------------------------------------------

Runner = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Runner]:
    """Run ``cohortwatch --config config/cohortwatch.example.toml ...`` in-process."""
    for name in ("STATE_DIRECTORY", "CREDENTIALS_DIRECTORY", "COHORTWATCH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    handlers = logging.getLogger().handlers[:]
    config = str(REPO / "config" / "cohortwatch.example.toml")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--state-dir", str(tmp_path / "state"), "--config", config, *args])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    logging.getLogger().handlers[:] = handlers


def test_cli_sites_list(cli: Runner) -> None:
    code, out, err = cli("sites", "list")
    assert code == 0 and err == ""
    assert "blackcomet" in out and "json" in out and "config/sites/harbor.toml" in out
    code, out, _ = cli("sites", "list", "--json")
    rows = json.loads(out)
    assert {r["name"] for r in rows} >= {"blackcomet", "harbor", "ledger", "quietleaks"}


def test_cli_sites_check_listing(cli: Runner) -> None:
    code, out, err = cli("sites", "check", "blackcomet", "--file",
                         str(DATA / "blackcomet.html"), "--now", "2025-07-06T12:00:00")
    assert code == 0, err
    assert "status:   ok (12 posts)" in out
    assert "victim:      Van der Berg & Zonen Laboratoria" in out
    assert "deadline:    2025-07-20 11:59 UTC  ('13D 23h 59m 12s')" in out
    assert f"next:     http://{ONION}/?page=2" in out
    assert "title:       (no selector)" in out
    assert "- 'deadline' text could not be read as a date in 6 of 12 posts" in out


def test_cli_sites_check_detail_json_and_url(cli: Runner) -> None:
    code, out, _ = cli("sites", "check", "blackcomet", "--detail", "--json", "--file",
                       str(DATA / "blackcomet-post.html"), "--url", f"http://{ONION}/post/x/")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "cohortwatch.sites-check/1"
    assert data["page"] == "detail" and data["status"] == "ok"
    assert f"http://{ONION}/post/files/kliniek-zuidrand/part3.7z" in data["detail"]["files"]
    code, out, _ = cli("sites", "check", "harbor", "--json", "--file",
                       str(DATA / "harbor.json"))
    data = json.loads(out)
    assert len(data["posts"]) == 3 and data["posts"][0]["deadline"] == "2025-07-20T00:00:00+00:00"


def test_cli_sites_check_blocked_and_errors(cli: Runner) -> None:
    code, out, _ = cli("sites", "check", "quietleaks", "--file", str(DATA / "gate-login.html"))
    assert code == 1 and "status:   blocked: login wall" in out
    code, _, err = cli("sites", "check", "nosuch", "--file", str(DATA / "ledger.html"))
    assert code == 2 and "no site named 'nosuch'; configured sites: blackcomet" in err
    code, _, err = cli("sites", "check", "ledger", "--file", str(DATA / "missing.html"))
    assert code == 2 and "cannot read the saved page" in err and "Traceback" not in err
    code, _, err = cli("sites", "check", "ledger", "--detail", "--file",
                       str(DATA / "ledger.html"))
    assert code == 2 and "no detail-page parser" in err
    code, _, err = cli("sites", "check", "ledger", "--now", "yesterday", "--file",
                       str(DATA / "ledger.html"))
    assert code == 2 and "ISO 8601" in err


def test_cli_bad_site_definition_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, MINIMAL.replace('post = "div.post"', 'post = "div["'))
    handlers = logging.getLogger().handlers[:]
    try:
        code = main(["--config", path, "sites", "list"])
    finally:
        logging.getLogger().handlers[:] = handlers
    err = capsys.readouterr().err
    assert code == 2 and "at 'sites.demo.parser.post': invalid CSS selector" in err

