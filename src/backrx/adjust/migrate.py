"""Plans that survive upgrades: re-plan a stored recommendation on a newer rule pack.

This module is the home of the public `migrate`; it is made in `backrx.adjust.apply`,
next to the adjustment rounds it replays (one module, so that neither imports the other).

`migrate` makes the recommendation again from its stored profile on the given pack, then
replays the stored feedback round by round, and lists what came out differently. Responses that
no longer fit (an exercise the new plan does not hold at that point) are left out of the replay
and listed; rounds written before dates existed (format 1) replay without a date, so they cannot
count towards a phase's minimum time. Clinician overrides are made again where they were made
(before the first round, or after the round they followed), with their author, reason and time;
one the new plan refuses is left out and listed, never forced.
"""

from __future__ import annotations

from backrx.adjust.apply import migrate

__all__ = ["migrate"]
