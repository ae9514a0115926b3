"""Audits of a rule pack: invariants, exploration, conflicts and the safety case."""
