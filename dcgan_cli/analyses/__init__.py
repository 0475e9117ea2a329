"""The paper's analyses of what the networks learned: probe, ablate, explain."""
