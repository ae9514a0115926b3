"""Reading untrusted input: regular files with a byte cap and strict JSON, and safe YAML with line
numbers."""
