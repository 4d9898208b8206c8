"""Schemathesis hooks for scripts/spec-check (loaded through SCHEMATHESIS_HOOKS).

The order import takes NDJSON (`application/x-ndjson`), which schemathesis cannot serialise
by itself: a generated body is sent as one JSON line (a string as it is).
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8", "surrogatepass")}
    return {"data": json.dumps(value).encode("utf-8", "surrogatepass")}
