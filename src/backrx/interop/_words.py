"""The pack's words for the interop outputs (questionnaire, CDS cards), in the caller's locale.

Every label these outputs show is a text of the rule pack (``text.yaml``, translated in
``locales/<lang>.yaml``); this module only picks the pack and the language. A key the pack
lacks falls back to the bundled pack's English (`backrx.pack.texts.Texts`), and
``backrx check`` names it (`backrx.interop.text_keys`).
"""

from __future__ import annotations

import functools

from backrx.pack.texts import Texts
from backrx.ruleset import RuleSet, load_rules

SOURCE_LOCALE = "en"


@functools.lru_cache(maxsize=1)
def _bundled() -> RuleSet:
    return load_rules()


def words(rules: RuleSet | None = None, locale: str | None = None) -> Texts:
    """The texts of ``rules`` (the bundled pack by default) in ``locale`` (English by default).

    Raises `backrx.RuleError` (``unknown-locale``) when the pack has no such locale.
    """
    lang = locale or SOURCE_LOCALE
    if rules is None:
        if lang == SOURCE_LOCALE:
            return Texts()
        rules = _bundled()
    return Texts(rules.for_locale(lang).pack.texts)
