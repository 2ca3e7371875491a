"""Token-saving services: compression, context fitting, chunking, data requests, cache, templates.

Pure logic lives in compression.py, context.py, chunking.py and
data_request.py (no Django imports at module level); services that write
(savings ledger, cache, templates) live in savings.py, cache.py and
services.py.
"""
