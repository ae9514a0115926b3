"""Interoperability: FHIR R4 (R4B models), questionnaires and CDS Hooks."""
