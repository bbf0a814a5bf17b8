"""MDP terms of the embedded simulator: small pure functions, one file per family."""
