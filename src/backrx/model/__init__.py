"""The data models: profile, feedback, recommendation and their shared vocabulary."""
