"""The OpenAPI document stays in step with the route table: every route the server answers is
documented with its method, and nothing documented is missing from the server."""
import json
import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
METHODS = {"M_GET": "get", "M_POST": "post", "M_PUT": "put", "M_DELETE": "delete", "M_PATCH": "patch"}


def routes():
    with open(os.path.join(ROOT, "server", "router.c")) as f:
        text = f.read()
    found = {(METHODS[m], p) for m, p in re.findall(r'\{(M_[A-Z]+),\s*"([^"]+)"', text)}
    assert len(found) > 20, "the route table was not found"
    return found


def documented(doc):
    ops = set()
    for path, item in doc["paths"].items():
        for method in item:
            if method in METHODS.values():
                ops.add((method, path))
    return ops


def test_every_route_is_documented_and_nothing_else(server):
    r = server.get("/api/v1/openapi.json")
    assert r.status_code == 200 and "application/json" in r.headers["Content-Type"]
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    # Path parameters are named differently in places ({id} vs {month}); compare shapes.
    shape = lambda p: re.sub(r"\{[^}]+\}", "{}", p)
    served = {(m, shape(p)) for m, p in routes()}
    docs = {(m, shape(p)) for m, p in documented(doc)}
    assert served - docs == set(), f"routes missing from openapi.json: {sorted(served - docs)}"
    assert docs - served == set(), f"documented but not served: {sorted(docs - served)}"


def test_the_served_document_is_the_file(server):
    with open(os.path.join(ROOT, "server", "openapi.json")) as f:
        assert server.get("/api/v1/openapi.json").json() == json.load(f)
