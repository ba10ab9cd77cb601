from hypothesis import settings

# No per-example time limit: timings belong in benchmarks, and a loaded machine would make it flaky.
settings.register_profile("unit", deadline=None)
settings.load_profile("unit")
