"""Helpers shared by the tests: generated painting collections and running the real CLI."""
