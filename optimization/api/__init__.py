"""Thin DRF views for the token-saving services, one module per service: optimize (prompt, context,
chunks, data request), cache, templates, preferences."""
