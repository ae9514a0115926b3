"""Clinician overrides: changes made on the record, replayed, and shown in the views that list them."""
