"""``aiops bench``: the benchmark suite. Speed targets live here, never in timed tests."""
