"""The rule pack: reading, checking, schema and golden cases."""
