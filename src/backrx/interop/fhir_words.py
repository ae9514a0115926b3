"""The words backrx writes into a FHIR Bundle, in one language.

Every label the Bundle carries that backrx itself writes (the CarePlan and Goal wording, the
referral's code text, the Provenance narrative, the outcome titles, the ``fhir.*`` texts) is a
text of the rule pack's ``text.yaml``, translated in ``locales/<lang>.yaml``; doses and tiers are
worded by `backrx.model.words` from the same texts. The display strings of LOINC, SNOMED CT and
HL7 codings stay as their code systems write them, and so do the displays of backrx's own code
systems (``urn:backrx:outcome``): a display names a code, whatever the reader's language.

The language is the caller's (``locale``), else the recommendation's own, else English. A key a
clinic's pack lacks falls back to the bundled English (`backrx.pack.texts.Texts`); ``backrx check``
names it (`backrx.interop.text_keys`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from backrx.errors import Problem, RuleError
from backrx.pack.locale import read_locales
from backrx.pack.read import bundled_path
from backrx.pack.texts import bundled_texts

if TYPE_CHECKING:
    from backrx.model.recommendation import Recommendation
    from backrx.ruleset import RuleSet

__all__ = ["SOURCE_LOCALE", "fhir_texts", "language"]

SOURCE_LOCALE = "en"


def language(rec: Recommendation, locale: str | None = None) -> str:
    """The language of the Bundle's words: ``locale``, else the recommendation's, else English."""
    return locale or getattr(rec, "locale", None) or SOURCE_LOCALE


def _merged(texts: Mapping[str, str], locales: Mapping[str, Mapping[str, str]],
            lang: str) -> Mapping[str, str]:
    """``texts`` with the ``text.*`` translations of ``locales[lang]`` in their place."""
    if lang != SOURCE_LOCALE and lang not in locales:
        raise RuleError([Problem(f"locales/{lang}.yaml", None, None, "unknown-locale",
                                 "the pack has no such locale; it has: "
                                 + ", ".join(sorted({SOURCE_LOCALE, *locales})))])
    own = dict(texts)
    own.update({k.removeprefix("text."): v for k, v in locales.get(lang, {}).items()
                if k.startswith("text.")})
    return MappingProxyType(own)


@functools.lru_cache(maxsize=8)
def _bundled(lang: str) -> Mapping[str, str]:
    """The bundled pack's texts in ``lang``, read from its text.yaml and locale files only."""
    problems: list[Problem] = []
    locales = read_locales(bundled_path(), problems)
    if problems:  # pragma: no cover - the bundled pack is checked by its tests
        raise RuleError(problems)
    return _merged(bundled_texts(), locales, lang)


def fhir_texts(rec: Recommendation, locale: str | None = None,
               rules: RuleSet | None = None) -> Mapping[str, str]:
    """The texts of ``rules``' pack (the bundled pack by default) in the Bundle's language.

    Raises `backrx.RuleError` (``unknown-locale``) for a language the pack does not ship.
    """
    lang = language(rec, locale)
    if rules is None:
        return _bundled(lang)
    return _merged(rules.pack.texts, rules.pack.locales, lang)
