"""Helpers shared by the tests: plain functions and classes. Fixtures live in conftest.py files,
the fake internet services in tests/fakes/."""
