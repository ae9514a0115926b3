"""The follow-up: feedback rounds, replay, migration to a newer pack and the episode over time."""
