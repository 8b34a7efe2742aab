"""Is this page a gate rather than the listing? (login wall, CAPTCHA, DDoS guard, error page)

Asked only when the ``post`` selector found nothing: then the answer decides between
``"empty"`` (a real listing without posts) and ``"blocked"``, which the crawler must never
read as "every post was removed". Structure is the strongest evidence (a password field, a
CAPTCHA image or input); phrases count in the title always, and in the body of short pages
only, because a real listing may mention "login" or "captcha" somewhere in its chrome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

__all__ = ["SHORT_PAGE_CHARS", "gate_reason", "text_gate_reason"]

SHORT_PAGE_CHARS = 4000  # gates are short; longer pages are judged by title and structure

# (kind, phrases): the first kind with a phrase in the text names the reason.
_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("DDoS-protection interstitial", (
        "ddos-guard", "ddos guard", "ddos protection", "anti-ddos", "checking your browser",
        "check your browser", "browser verification", "just a moment", "please wait while",
        "verifying you are human", "you are in the queue", "you are in queue",
        "please enable javascript and cookies", "cf-browser-verification", "endgame",
    )),
    ("CAPTCHA", (
        "captcha", "i am not a robot", "i'm not a robot", "are you human", "are you a human",
        "prove you are human", "verify you are human", "solve the puzzle", "enter the code",
        "enter the characters", "security check",
    )),
    ("login wall", (
        "please log in", "please login", "please sign in", "login required",
        "sign in to continue", "log in to continue", "authorization required",
        "enter password", "enter the password",
    )),
    ("access denied", (
        "access denied", "access forbidden", "403 forbidden", "401 unauthorized",
        "you have been banned", "you are banned", "not authorized", "permission denied",
    )),
    ("error page", (
        "502 bad gateway", "503 service", "504 gateway", "service unavailable",
        "404 not found", "page not found", "onion site not found", "onionsite not found",
        "temporarily unavailable", "under maintenance", "site is down", "internal server error",
        "rate limit", "too many requests",
    )),
)
_CAPTCHA_CSS = (
    "img[src*=captcha i], img[alt*=captcha i], img[id*=captcha i], img[class*=captcha i], "
    "input[name*=captcha i], input[id*=captcha i], [class*=captcha i], [id*=captcha i], "
    "iframe[src*=captcha i], div.g-recaptcha, div.h-captcha, [data-sitekey]"
)


def text_gate_reason(title: str, text: str, extra: tuple[str, ...] = ()) -> str | None:
    """The gate a page's title and visible text look like, or None.

    ``extra`` are the site's own ``blocked_text`` phrases, matched anywhere in the text.
    """
    return _phrase_reason(title.lower(), text.lower()) or _extra_reason(title, text, extra)


def _phrase_reason(title_l: str, text_l: str) -> str | None:
    short = len(text_l) <= SHORT_PAGE_CHARS
    for kind, phrases in _PHRASES:
        for phrase in phrases:
            if phrase in title_l:
                return f"{kind}: the page title says {phrase!r}"
            if short and phrase in text_l:
                return f"{kind}: the page says {phrase!r}"
    return None


def _extra_reason(title: str, text: str, extra: tuple[str, ...]) -> str | None:
    title_l, text_l = title.lower(), text.lower()
    for phrase in extra:
        if phrase.lower() in title_l or phrase.lower() in text_l:
            return f"page contains the site's blocked text {phrase!r}"
    return None


def gate_reason(soup: BeautifulSoup, text: str, extra: tuple[str, ...] = ()) -> str | None:
    """The gate a parsed HTML page looks like, or None. ``text`` is its visible text."""
    import soupsieve

    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True)[:500] if title_tag else ""
    reason = _phrase_reason(title.lower(), text.lower())
    if reason and not reason.startswith(("login", "error")):
        return reason
    if soupsieve.select_one(_CAPTCHA_CSS, soup) is not None:
        return "CAPTCHA: the page has a captcha form"
    if soupsieve.select_one("input[type=password i]", soup) is not None:
        return "login wall: the page asks for a password"
    reason = reason or _extra_reason(title, text, extra)
    if reason:
        return reason
    if soup.find("meta", attrs={"http-equiv": lambda v: bool(v) and v.lower() == "refresh"}):
        return "interstitial: the page only redirects (meta refresh)"
    if not text.strip():
        return "the page has no visible text (a script-only interstitial?)"
    return None
