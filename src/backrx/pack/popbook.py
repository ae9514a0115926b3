"""The populations of a pack as the loader keeps them (see `backrx.pack.populations`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from backrx.lang.condition import Condition


@dataclass(frozen=True)
class Requirement:
    """One element a population needs: in which phases, on how many days, tried in which order."""

    rule_id: str
    element: str
    phases: tuple[str, ...]
    days_per_week: int
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Population:
    id: str
    name: str
    when: Condition
    avoid: tuple[str, ...]  # the rule ids of its exclusions (exclusions layer)
    requires: tuple[Requirement, ...]
    aerobic: tuple[str, ...]  # preferred aerobic exercises, first that fits wins
    sources: tuple[str, ...]
    hazard: str | None = None  # the population the hazard log (safety.yaml) covers it under


@dataclass(frozen=True)
class PopulationBook:
    populations: tuple[Population, ...] = ()
    messages: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (code, message)

    def requirement(self, rule_id: str) -> tuple[Population, Requirement] | None:
        """The population and requirement a components rule stands for, if it is one."""
        for population in self.populations:
            for req in population.requires:
                if req.rule_id == rule_id:
                    return population, req
        return None

    def hazard_groups(self) -> tuple[str, ...]:
        """The populations the hazard log must cover, as the populations name them (``hazard``)."""
        return tuple(dict.fromkeys(p.hazard for p in self.populations if p.hazard))

    def owner(self, rule_id: str) -> Population | None:
        """The population whose exclusion rule this is, if any."""
        return next((p for p in self.populations if rule_id in p.avoid), None)
