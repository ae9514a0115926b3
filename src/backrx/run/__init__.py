"""One run of the pack: facts, decide, plan and assemble."""
