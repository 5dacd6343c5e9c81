"""Shared test helpers (import as `helpers.<module>`; pytest puts tests/ on sys.path)."""
