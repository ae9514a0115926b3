"""Test and measure over time: feedback rounds, replay, migrate and clinician overrides."""
