"""Adapters for NHS partner systems over httpx, returning domain values and raising typed errors."""
