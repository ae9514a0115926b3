"""The rule language: conditions and the operator table."""
