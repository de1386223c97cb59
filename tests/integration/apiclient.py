"""A small client of /api/v1 for the integration tests: log in once, then call with the Bearer
token.  Every call has a timeout.  `ok()` asserts the status and returns the parsed body."""
import requests

TIMEOUT = 10


class Api:
    def __init__(self, server, login=None, password=None, tls=False):
        self.server = server
        self.tls = tls
        self.base = server.url("/api/v1", tls)
        self.token = None
        self.account = None
        if login is not None:
            self.login(login, password)

    def login(self, login, password):
        r = requests.post(self.base + "/session", json={"login": login, "password": password},
                          timeout=TIMEOUT, verify=False)
        assert r.status_code == 201, f"log-in as {login}: {r.status_code} {r.text[:200]}"
        body = r.json()
        self.token, self.account = body["token"], body["account"]
        return self

    def req(self, method, path, body=None, headers=None, timeout=TIMEOUT, **kw):
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        return requests.request(method, self.base + path, json=body, headers=h, timeout=timeout,
                                verify=False, **kw)

    def ok(self, method, path, body=None, want=(200, 201), headers=None):
        r = self.req(method, path, body, headers)
        want = (want,) if isinstance(want, int) else want
        assert r.status_code in want, f"{method} {path} -> {r.status_code}, want {want}: {r.text[:300]}"
        return r.json() if r.content and "json" in r.headers.get("Content-Type", "") else None

    def status(self, method, path, body=None, headers=None):
        return self.req(method, path, body, headers).status_code


def anonymous(server, tls=False):
    return Api(server, tls=tls)


def make_unit(admin, parent, kind, code, name):
    """An org unit made by `admin` through the API; its id."""
    return admin.ok("POST", "/org-units", {"parent_id": parent, "kind": kind, "code": code, "name": name},
                    want=201)["id"]


def make_staff(admin, login, password, grant):
    """A staff account with one role grant, made by `admin`; an Api logged in as it."""
    acc = admin.ok("POST", "/accounts", {"login": login, "password": password}, want=201)
    admin.ok("POST", f"/accounts/{acc['id']}/roles", grant, want=201)
    return Api(admin.server, login, password)


def expect(r, status, field=None):
    """Assert r's status; for an error also the problem+json type and, given field, that its
    `errors` name it.  The parsed body, or None."""
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code}, want {status}: {r.text[:400]}"
    if status >= 400:
        assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
        if field:
            fields = [e.get("field") for e in r.json().get("errors", [])]
            assert field in fields, r.json()
    return r.json() if r.content else None
