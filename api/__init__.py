"""The Management API (issue 22, DESIGN flow 10): API keys and the routes under ``/api/v1/``."""
