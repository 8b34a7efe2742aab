"""A leak site for the crawler tests: a real aiohttp server whose listing a test changes
between crawls (posts appear, vanish, come back; the site breaks, blocks, goes down).

Its layout is the common ransomware-blog one: cards of ``div``s with the victim, a
publication date, a countdown, a link to the post's own page, "next page" pagination, and
download links on the post page. Served on 127.0.0.1; the tests reach it through a SOCKS
relay or the private Tor network under an onion name.
"""

from __future__ import annotations

import html
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.sites.model import Extract, HtmlDetailSpec, HtmlParserSpec, Site

PAGE_SIZE = 3

PARSER = HtmlParserSpec(
    post="div.card",
    victim=Extract("h3.victim"),
    link=Extract("a.more"),
    published=Extract("time.published"),
    deadline=Extract("span.timer"),
    description=Extract("p.summary"),
    next=Extract("a.next"),
    detail=HtmlDetailSpec(description=Extract("div.body"), files=Extract("ul.files a")),
)


def site_for(name: str, mirrors: tuple[str, ...], **kw: object) -> Site:
    return Site(name=name, mirrors=mirrors, parser=PARSER, interval=60.0, **kw)


@dataclass
class Post:
    id: int
    victim: str
    published: str = "2025-07-06"
    summary: str = "Company data, contracts, HR files."
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class LeakSite:
    posts: list[Post] = field(default_factory=list)
    mode: str = "ok"  # ok, down (HTTP 503), captcha, broken (layout changed), slow
    requests: list[str] = field(default_factory=list)
    server: TestServer | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.listing)
        app.router.add_get("/post/{id}", self.detail)
        app.router.add_get("/files/{name}", self.file)
        return app

    async def start(self, port: int = 0) -> LeakSite:
        self.server = TestServer(self.app(), host="127.0.0.1", port=port)
        await self.server.start_server()
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.port or 0)

    def _gate(self) -> web.Response | None:
        if self.mode == "down":
            return web.Response(status=503, text="Service Unavailable")
        if self.mode == "captcha":
            return web.Response(content_type="text/html", text=(
                "<html><head><title>Verification</title></head><body><form>"
                "<p>Please solve the captcha to continue</p><img src='/captcha.png'>"
                "<input name='captcha'></form></body></html>"))
        return None

    async def listing(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        gate = self._gate()
        if gate is not None:
            return gate
        page = int(request.query.get("page", "1"))
        shown = self.posts[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        cards = []
        for p in shown:
            cls = "entry" if self.mode == "broken" else "card"
            cards.append(
                f'<div class="{cls}"><h3 class="victim">{html.escape(p.victim)}</h3>'
                f'<time class="published" datetime="{p.published}">{p.published}</time>'
                f'<span class="timer">3D 04h 10m</span>'
                f'<p class="summary">{html.escape(p.summary)}</p>'
                f'<a class="more" href="/post/{p.id}">Read more</a></div>')
        nxt = (f'<a class="next" href="/?page={page + 1}">Next</a>'
               if len(self.posts) > page * PAGE_SIZE else "")
        return web.Response(content_type="text/html", text=(
            "<html><head><title>LEAKS</title></head><body><h1>Our victims</h1>"
            f"<div class='grid'>{''.join(cards)}</div>{nxt}</body></html>"))

    async def detail(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        gate = self._gate()
        if gate is not None:
            return gate
        pid = int(request.match_info["id"])
        post = next((p for p in self.posts if p.id == pid), None)
        if post is None:
            raise web.HTTPNotFound()
        links = "".join(f'<li><a href="/files/{n}">{n}</a></li>' for n in post.files)
        return web.Response(content_type="text/html", text=(
            f"<html><body><h1>{html.escape(post.victim)}</h1>"
            f"<div class='body'>{html.escape(post.summary)} Full dump below.</div>"
            f"<ul class='files'>{links}</ul></body></html>"))

    async def file(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        name = request.match_info["name"]
        for p in self.posts:
            if name in p.files:
                return web.Response(body=p.files[name],
                                    content_type="application/octet-stream")
        raise web.HTTPNotFound()


def cohort_state(base: Path) -> tuple[Path, bytes, bytes]:
    """A state dir with 40 enrolled synthetic members; a zip posting 10 of them among 30
    others; a harmless zip. Only the state dir stays on disk."""
    from conftest import fixed_key, run

    from matchers.synthetic import make_people, write_people_csv

    people = make_people(80, seed=21)
    write_people_csv(base / "cohort.csv", people[:40])
    state = base / "state"
    fixed_key(state / "secret.key")
    assert run("init", state=state).returncode == 0
    r = run("cohort", "enroll", base / "cohort.csv", "--name", "screening", state=state)
    assert r.returncode == 0, r
    write_people_csv(base / "leak.csv", [*people[:10], *people[50:80]])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(base / "leak.csv", "export/patients.csv")
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "nothing personal here")
    (base / "cohort.csv").unlink()
    (base / "leak.csv").unlink()
    return state, buf.getvalue(), other.getvalue()
