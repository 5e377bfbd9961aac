"""Statistics engine."""
