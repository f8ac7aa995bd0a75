"""The Parklotse HTTP API (FastAPI)."""
