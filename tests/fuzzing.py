"""Hypothesis profiles for the fuzzing suites (``test_fuzz_*.py``), chosen by ``GOKART_FUZZ``:

- ``short`` (the default, what ``make test`` and CI run): ten examples per property, enough to
  keep every shape exercised on each run (about two minutes in all), derandomized so that a
  run's outcome depends on the code alone and CI does not turn red on a new draw;
- ``long`` (``GOKART_FUZZ=long``): a thousand random examples per property, for a search at
  leisure (what it finds becomes a fixed ``@example``).

Each example of the file suites runs the real validation against PostgreSQL (and the XLSX/XLS
reader children), so the examples are few but whole. No deadline: a child process start-up is
slower than Hypothesis expects of a function.
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,  # the database is rolled back once per test
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    "print_blob": True,
}
settings.register_profile("short", max_examples=10, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("GOKART_FUZZ", "short"))
