"""Running a RuleSet in other processes: the worker pool, the RuleSet's transport by content, and
the pause of Python's cyclic collector during a batch."""
