"""Rules for text that comes from outside backrx: what a person types, and web addresses.

Free text a person types (an override's ``by`` and ``reason``, a PSFS activity, an exercise id in
feedback) reaches ``explain()``, the handouts, FHIR Provenance and terminals. A control character
in it can rewrite a terminal line (ESC), ring or hang a terminal (BEL), or reorder what a reader
sees (bidirectional overrides). Such text is refused, not cleaned: the text is a record of what
someone said, and a record that backrx silently altered would no longer be what they said; a
refusal names the field and the character's code point, never the text.

A web address a pack or a record carries is shown as a link; only ``https:``, ``http:`` and
``mailto:`` addresses are links (`url_problem`), so a ``javascript:`` or ``data:`` address
never becomes one.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

#: Characters free text may not hold: control characters but tab and newline (NUL, ESC, BEL and
#: DEL included), C1 controls, bidirectional overrides and isolates, zero-width and other
#: invisible format characters, and the Unicode line and paragraph separators. The same set the
#: pack loader refuses in a pack's texts (``backrx.pack.read.HIDDEN``).
HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0001\U000e0020-\U000e007f]"
)

#: The schemes a link may have.
URL_SCHEMES = ("https", "http", "mailto")
MAX_URL = 2000
#: Characters a URL never holds unescaped (RFC 3986), and that would end an HTML attribute or a
#: Markdown autolink.
_URL_BREAKERS = re.compile(r"[\s<>\"'`\\{}|^]")


def hidden_character(text: str) -> str | None:
    """The code point (``U+001B``) of the first character of ``text`` that free text may not hold."""
    found = HIDDEN.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _plain(text: str) -> str:
    point = hidden_character(text)
    if point is not None:
        raise PydanticCustomError(
            "control-character",
            "the text holds the control or invisible character {point}; remove it",
            {"point": point})
    return text


#: Text a person typed: refused when it holds a control or invisible character (``HIDDEN``).
PlainText = Annotated[str, AfterValidator(_plain)]


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be a link (None: it may).

    A link is an absolute ``https:``, ``http:`` (with a host, without a user name) or ``mailto:``
    (with an address) URL, at most MAX_URL characters, holding no space, control character, quote
    or angle bracket.
    """
    if len(url) > MAX_URL:
        return f"is longer than {MAX_URL} characters"
    if hidden_character(url) is not None or _URL_BREAKERS.search(url) is not None:
        return "holds a space, a control character, a quote, a backslash or an angle bracket"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a well-formed URL"
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        return f"must start with {', '.join(s + ':' for s in URL_SCHEMES)}"
    if scheme == "mailto":
        return None if "@" in parts.path else "a mailto: link needs an address"
    if not parts.hostname or "@" in parts.netloc or not url.lower().startswith(f"{scheme}://"):
        return f"an {scheme}: link needs a host (and no user name)"
    return None


def is_link(url: object) -> bool:
    """Whether ``url`` may be shown as a link (see `url_problem`)."""
    return isinstance(url, str) and url_problem(url) is None
