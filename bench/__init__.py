"""Side-by-side benchmarks: Veritas against what a user would otherwise pick, on one machine."""
