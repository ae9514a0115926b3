"""Limits that keep a hostile or oversized pack from hanging the loader or the engine."""

from __future__ import annotations

MAX_FILE_BYTES = 2_000_000
#: Bytes read from all the files of a pack together (the bundled pack holds about 0.2 MB).
MAX_PACK_BYTES = 4_000_000
#: YAML items (counted as what opens one: "," newline ":" "[" "{" "- ") in all the files of a
#: pack. Parsing time follows the number of items, not bytes (a 2 MB file of "[1,1,1,...]" is a
#: million of them), so this is what bounds the time to load or refuse a pack. The bundled pack
#: holds about 13,000.
MAX_YAML_ITEMS = 150_000
MAX_FILES = 200
MAX_RULES = 5_000  # MAX_PATTERNS bounds a pack to as many rules anyway
MAX_CONDITION_NODES = 64
MAX_CONDITION_DEPTH = 10
MAX_ALTERNATIVES = 256  # patterns one condition may expand to (see condition.alternatives)
#: Alternatives (durable patterns) summed over every rule of a pack. Memory and load time grow
#: with them (measured on durable_rules: about 27 KB and 0.3 ms each), so the sum is bounded:
#: at this limit a pack loads in about 2 s and takes about 150 MB (docs/rule-pack.md).
MAX_PATTERNS = 5_000
MAX_AT_LEAST_ITEMS = 8
MAX_IN_VALUES = 50
MAX_DERIVED = 100
MAX_TEXT = 4000
MAX_NUMBER = 1e12
