"""Processing provider and algorithms: thin shells over the engine pipeline."""
