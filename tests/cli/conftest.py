"""tests/cli uses the shared ``run`` / ``cctui`` entry-point fixtures of tests/conftest.py."""
