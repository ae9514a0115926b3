"""The other-engine comparison: the same pack on durable_rules and on the reference engine.

The ``engine.agreement`` invariant runs each audited profile on the engine the audit did not load
and compares the JSON; a difference is reported as the rules one engine fired and the other did not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from backrx.audit.checks import first_difference
from backrx.engine import durable_available
from backrx.model.recommendation import Recommendation
from backrx.ruleset import RuleSet, load_rules


def _words(values: Iterable[str]) -> str:
    return ", ".join(values)


class OtherEngine:
    """The same pack on the other engine, loaded once per pack folder and content."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], RuleSet] = {}
        self._lock = threading.Lock()

    @staticmethod
    def name_for(rules: RuleSet) -> str:
        return "reference" if rules.engine == "durable" else "durable"

    def skip(self, rules: RuleSet) -> str | None:
        if self.name_for(rules) == "durable" and not durable_available():
            return "durable_rules does not import here, so only the reference engine can run"
        return None

    def get(self, rules: RuleSet) -> RuleSet:
        other = self.name_for(rules)
        key = (rules.path, rules.digest, other)
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                found = load_rules(rules.path, engine="durable" if other == "durable" else "reference")
                while len(self._cache) >= 4:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = found
        return found

    def check(self, rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
        other = self.get(rules)
        if other.digest != rules.digest:
            return "the pack folder changed on disk after it was loaded, so the engines cannot be compared"
        theirs = other.recommend(profile)
        mine_json, theirs_json = rec.model_dump_json(), theirs.model_dump_json()
        if mine_json == theirs_json:
            return None
        mine_fired = [f.rule_id for f in rec.trace]
        theirs_fired = [f.rule_id for f in theirs.trace]
        if mine_fired != theirs_fired:
            only_mine = [r for r in mine_fired if r not in theirs_fired]
            only_theirs = [r for r in theirs_fired if r not in mine_fired]
            return (f"the {rules.engine} engine fired {_words(only_mine) or 'nothing more'} and the "
                    f"{other.engine} engine fired {_words(only_theirs) or 'nothing more'}"
                    if only_mine or only_theirs else "the engines fired the same rules in a different order")
        return f"the {rules.engine} and {other.engine} engines give different JSON, " \
               f"{first_difference(mine_json, theirs_json)}"


#: The comparison the ``engine.agreement`` invariant runs.
other_engine = OtherEngine()


__all__ = ["OtherEngine", "other_engine"]
