"""The live roster a page at a time (sql/0025_roster_pages.sql): GET /events/{id}/attendance
takes `limit` (default 50, max 500), `cursor` and `state`, in the order (name, volunteer_id),
with the counts of the whole event on every page; the console's roster (/console/events/{id})
shows a page of it with a "next page" link and the counts as links to their lists, all plain
links and forms that work without JavaScript, within the 30 KB page budget.

Each test that changes who is where builds its own event in its own small district; volunteers
are inserted with SQL (names from a small pool, so that many share a name and the id decides),
sign-ups and check-ins go through the API."""
import datetime as dt
import html as htmllib
import re
import secrets

import pytest

import conftest
from apiclient import Api
from test_attendance import expect, q
from test_staff_pages import Browser, check_page

SH = dt.timezone(dt.timedelta(hours=8))
PW = "Roster-pass-123"
NAMES = ["王芳", "李强", "张伟", "陈静", "刘洋"]
ROSTER_ROWS = 25  # p_console.c


class World:
    pass


@pytest.fixture(scope="module")
def w(server, pg):
    x = World()
    x.server, x.pg = server, pg
    x.sfx = sfx = secrets.token_hex(4)
    x.admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, code):
        return x.admin.ok("POST", "/org-units", {"parent_id": parent, "kind": kind, "code": f"{code}-{sfx}",
                                                 "name": code}, want=201)["id"]

    x.d = unit(None, "district", "ros-d")
    x.a = unit(x.d, "community", "ros-a")
    x.b = unit(x.d, "community", "ros-b")
    x.t = x.admin.ok("POST", "/teams", {"name": "花名册队", "org_unit_id": x.a}, want=201)["id"]
    for login, u in ((f"ros-co-{sfx}", x.a), (f"ros-cob-{sfx}", x.b)):
        acc = x.admin.ok("POST", "/accounts", {"login": login, "password": PW}, want=201)
        x.admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "org_unit_id": u}, want=201)
    x.login = f"ros-co-{sfx}"
    x.co, x.co_b = Api(server, x.login, PW), Api(server, f"ros-cob-{sfx}", PW)
    vid = volunteers(x, ["自己"])[0]
    x.admin.ok("POST", "/accounts", {"login": f"ros-v-{sfx}", "password": PW, "volunteer_id": vid}, want=201)
    x.vol = Api(server, f"ros-v-{sfx}", PW)
    x.big = roster_event(x, confirmed=55, on_post=15, done=8, walkins=3, cancelled=2)
    return x


def volunteers(w, names):
    """Volunteers of community A with these names (SQL); their ids, in order."""
    rows = ", ".join(f"({q(n)}, '139{secrets.randbelow(10 ** 8):08d}', {w.a})" for n in names)
    out = w.pg.sql(f"INSERT INTO volunteers (name, phone, org_unit_id) VALUES {rows} RETURNING id")
    return [int(s) for s in out.split() if s.isdigit()][:len(names)]


def event(w, start, end, capacity=200):
    a = w.co.ok("POST", "/activities", {
        "team_id": w.t, "org_unit_id": w.a, "title": "文明引导", "location": "东门", "capacity": capacity,
        "starts_at": start.isoformat(), "ends_at": end.isoformat()}, want=201)
    return w.co.ok("GET", f"/activities/{a['id']}/events")["items"][0]


def checkin(w, ev, vid):
    w.co.ok("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": vid}, want=201)


def checkout(w, ev, vid):
    w.co.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": vid}, want=200)


def roster_event(w, confirmed, on_post=0, done=0, walkins=0, cancelled=0, names=None, future=False):
    """An event under way (or starting in three hours) with `confirmed` sign-ups, of whom the
    first `on_post` are checked in and the next `done` in and out; `walkins` more checked in
    without a sign-up (the first of them in, out and in again: two attendances, one person);
    `cancelled` sign-ups cancelled.  A dict with the event and the ids by what they did."""
    t = dt.datetime.now(SH).replace(microsecond=0)
    start = t + dt.timedelta(hours=3) if future else t - dt.timedelta(hours=1)
    ev = event(w, start, start + dt.timedelta(hours=3))
    pool = names or NAMES
    ids = volunteers(w, [pool[i % len(pool)] for i in range(confirmed + walkins + cancelled)])
    people, walk, gone = ids[:confirmed], ids[confirmed:confirmed + walkins], ids[confirmed + walkins:]
    for v in people + gone:
        w.co.ok("POST", f"/events/{ev['id']}/signups", {"volunteer_id": v}, want=(200, 201))
    for v in gone:
        w.co.ok("DELETE", f"/events/{ev['id']}/signups/{v}", want=204)
    for v in people[:on_post + done]:
        checkin(w, ev, v)
    for v in people[on_post:on_post + done]:
        checkout(w, ev, v)
    for i, v in enumerate(walk):
        checkin(w, ev, v)
        if i == 0:
            checkout(w, ev, v)
            checkin(w, ev, v)
    return {"ev": ev, "people": people, "walkins": walk, "cancelled": gone,
            "on_post": people[:on_post] + walk, "done": people[on_post:on_post + done],
            "missing": [] if future else people[on_post + done:],
            "signed_up": people[on_post + done:] if future else []}


def roster(api, ev, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return api.ok("GET", f"/events/{ev['id']}/attendance" + ("?" + qs if qs else ""), want=200)


def walk_pages(api, ev, limit, between=None, **query):
    """Every page in turn (bounded); between(page) runs after each page but the last.  The
    pages."""
    pages, cursor = [], None
    for _ in range(1000):
        extra = {"cursor": cursor} if cursor else {}
        page = roster(api, ev, limit=limit, **query, **extra)
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert isinstance(cursor, str) and len(page["items"]) == limit, page
        if between:
            between(page)
    raise AssertionError("more than 1000 pages")


def ids_of(pages):
    return [i["volunteer_id"] for p in pages for i in p["items"]]


def problem_field(r, status, field):
    body = expect(r, status, field)
    assert [e["field"] for e in body["errors"]] == [field], body


# --- the API ------------------------------------------------------------------------------------

def test_pages_cover_the_roster_once_in_name_order(w):
    big = w.big
    whole = roster(w.co, big["ev"], limit=500)
    everyone = big["people"] + big["walkins"]
    assert sorted(i["volunteer_id"] for i in whole["items"]) == sorted(everyone)
    assert whole["next_cursor"] is None
    for top in ("event_id", "starts_at", "ends_at", "status", "capacity", "counts"):
        assert top in whole, top
    assert whole["event_id"] == big["ev"]["id"] and whole["capacity"] == 200
    pages = walk_pages(w.co, big["ev"], 7)
    assert [len(p["items"]) for p in pages] == [7] * 8 + [2]
    got = ids_of(pages)
    assert len(got) == len(set(got)) == len(everyone)  # nobody repeated, nobody missing
    assert got == [i["volunteer_id"] for i in whole["items"]]
    keys = [(i["name"], i["volunteer_id"]) for p in pages for i in p["items"]]
    assert keys == sorted(keys)  # the order (name, volunteer_id); many share a name
    assert len({k[0] for k in keys}) < len(keys) / 5
    assert all(p["counts"] == whole["counts"] for p in pages)
    # the default page is 50, and the cursor is the last volunteer id of the page
    first = roster(w.co, big["ev"])
    assert [i["volunteer_id"] for i in first["items"]] == got[:50]
    assert first["next_cursor"] == str(got[49])
    assert [i["volunteer_id"] for i in roster(w.co, big["ev"], cursor=got[49])["items"]] == got[50:]


def test_counts_cover_the_whole_event_and_states_partition_it(w):
    big = w.big
    want = {"signed_up": 55, "on_post": 15 + 3, "done": 8, "missing": 55 - 15 - 8}
    assert roster(w.co, big["ev"])["counts"] == want
    seen = []
    for state in ("signed_up", "on_post", "done", "missing"):
        pages = walk_pages(w.co, big["ev"], 4, state=state)
        items = [i for p in pages for i in p["items"]]
        assert {i["state"] for i in items} <= {state}
        assert sorted(i["volunteer_id"] for i in items) == sorted(big.get(state, [])), state
        assert all(p["counts"] == want for p in pages), state
        if state != "signed_up":
            assert len(items) == want[state]
        seen += [i["volunteer_id"] for i in items]
    assert sorted(seen) == sorted(big["people"] + big["walkins"])
    # the walk-in with two attendances is one person, on post with the later one
    twice = [i for i in roster(w.co, big["ev"], limit=500, state="on_post")["items"]
             if i["volunteer_id"] == big["walkins"][0]]
    assert len(twice) == 1 and twice[0]["signup"] is None and twice[0]["attendance"]["check_out_at"] is None
    # before the start: signed up, nobody missing
    soon = roster_event(w, confirmed=3, future=True)
    r = roster(w.co, soon["ev"], state="signed_up")
    assert sorted(i["volunteer_id"] for i in r["items"]) == sorted(soon["people"])
    assert r["counts"] == {"signed_up": 3, "on_post": 0, "done": 0, "missing": 0}
    assert roster(w.co, soon["ev"], state="missing")["items"] == []


def test_cursor_stays_put_while_people_check_in(w):
    """Check-ins and check-outs between two pages move nobody in the (name, id) order: the pages
    still give everyone once.  Paging through who is missing while checking them in (the last
    one of the page too, whose id is the cursor) skips none of those still missing."""
    e = roster_event(w, confirmed=30, on_post=5, done=5)
    ev, people = e["ev"], e["people"]
    reached, arrived, left = set(), [], []

    def move(page):  # who is on post on this page leaves; someone not reached yet arrives
        reached.update(i["volunteer_id"] for i in page["items"])
        for i in page["items"]:
            if i["state"] == "on_post":
                checkout(w, ev, i["volunteer_id"])
                left.append(i["volunteer_id"])
        later = [v for v in e["missing"] if v not in reached and v not in arrived]
        checkin(w, ev, later[0])
        arrived.append(later[0])

    got = ids_of(walk_pages(w.co, ev, 8, between=move))
    assert len(got) == len(set(got)) == 30 and set(got) == set(people)
    assert len(arrived) == 3 and left
    assert roster(w.co, ev)["counts"] == {"signed_up": 30, "on_post": 5 - len(left) + 3,
                                          "done": 5 + len(left), "missing": 20 - 3}

    missing = {i["volunteer_id"] for i in roster(w.co, ev, limit=500, state="missing")["items"]}
    taken = []

    def take(page):  # the first and the last (the cursor) of the page just seen arrive
        for i in (page["items"][0], page["items"][-1]):
            checkin(w, ev, i["volunteer_id"])
            taken.append(i["volunteer_id"])

    pages = walk_pages(w.co, ev, 4, between=take, state="missing")
    seen = ids_of(pages)
    assert {i["state"] for p in pages for i in p["items"]} == {"missing"}
    assert len(seen) == len(set(seen)) and set(seen) == missing  # nobody skipped
    still = {i["volunteer_id"] for i in roster(w.co, ev, limit=500, state="missing")["items"]}
    assert still == missing - set(taken) and len(taken) == 8
    assert roster(w.co, ev)["counts"]["missing"] == len(still) == 17 - 8


def test_bad_parameters_are_422_naming_the_field(w):
    ev = w.big["ev"]
    base = f"/events/{ev['id']}/attendance"
    for qs, field in [("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"), ("limit=-1", "limit"),
                      ("cursor=abc", "cursor"), ("cursor=-5", "cursor"), ("cursor=999999999999999", "cursor"),
                      ("state=gone", "state"), ("state=ON_POST", "state"), ("limit=500&state=x", "state")]:
        problem_field(w.co.req("GET", f"{base}?{qs}"), 422, field)
    assert roster(w.co, ev, limit=500, state="")["counts"] == roster(w.co, ev)["counts"]  # empty: no filter


def test_scope_is_as_before(w):
    ev = w.big["ev"]
    for qs in ("", "?limit=5", "?state=missing&limit=2"):
        path = f"/events/{ev['id']}/attendance{qs}"
        expect(w.co_b.req("GET", path), 404)
        expect(w.vol.req("GET", path), 403)
        expect(Api(w.server).req("GET", path), 401)
    expect(w.co.req("GET", "/events/999999999/attendance?limit=5"), 404)


# --- the console's roster page ------------------------------------------------------------------

def links(page_html, rel=None):
    """The hrefs of the page's <a> (rel="next" only, when asked), unescaped."""
    tags = re.findall(r"<a\b[^>]*>", page_html)
    if rel:
        tags = [t for t in tags if f'rel="{rel}"' in t]
    return [htmllib.unescape(re.search(r'href="([^"]*)"', t).group(1)) for t in tags]


def rows(page_html):
    return [int(v) for v in re.findall(r'<tr data-volunteer="(\d+)">', page_html)]


def test_console_pages_by_next_links_without_javascript(w):
    big = w.big
    b = Browser(w.server, w.login, PW)
    path = f"/console/events/{big['ev']['id']}"
    html = check_page(b.get(path))
    counts = roster(w.co, big["ev"])["counts"]
    for k, n in counts.items():  # the whole event's counts, on every page
        assert f'id="n-{k}">{n}<' in html
    seen, pages, url = [], 0, path
    for _ in range(10):
        html = check_page(b.get(url))
        pages += 1
        seen += rows(html)
        for k, n in counts.items():
            assert f'id="n-{k}">{n}<' in html
        nxt = links(html, "next")
        if not nxt:
            break
        assert len(rows(html)) == ROSTER_ROWS and len(nxt) == 1
        url = nxt[0]
        assert url.startswith(path + "?cursor=")
    assert pages == 3 and len(seen) == len(set(seen)) == 58
    assert seen == [i["volunteer_id"] for i in roster(w.co, big["ev"], limit=500)["items"]]
    assert path in links(html)  # a later page links back to the first
    assert "下一页" not in html and "第一页" in html


def test_console_counts_link_to_their_lists(w):
    big = w.big
    b = Browser(w.server, w.login, PW)
    path = f"/console/events/{big['ev']['id']}"
    html = check_page(b.get(path))
    for state in ("on_post", "done", "missing"):
        assert path + f"?state={state}" in links(html)
    assert re.search(r'<a href="%s" aria-current="page"><span class="num" id="n-signed_up">' % path, html)
    html = check_page(b.get(path + "?state=missing"))
    assert set(rows(html)) < set(big["missing"]) and len(rows(html)) == ROSTER_ROWS
    assert 'class="tag missing"' in html and 'class="tag on_post"' not in html
    assert re.search(r'aria-current="page"><span class="num" id="n-missing">%d<' % len(big["missing"]), html)
    assert path in links(html) and "全部名单" in html  # the way back to everyone
    assert links(html, "next") == [path + f"?state=missing&cursor={rows(html)[-1]}"]
    html = check_page(b.get(path + "?state=on_post"))
    assert sorted(rows(html)) == sorted(big["on_post"]) and 'value="out"' in html
    # a filter with nobody in it says so
    html = check_page(b.get(path + "?state=signed_up"))
    assert rows(html) == [] and "此列表中没有人" in html
    # a bad filter or cursor is the API's 422, on a page
    check_page(b.get(path + "?state=gone"), status=422)
    check_page(b.get(path + "?cursor=abc"), status=422)


def test_console_check_in_from_a_later_filtered_page_comes_back_to_it(w):
    e = roster_event(w, confirmed=30)
    b = Browser(w.server, w.login, PW)
    path = f"/console/events/{e['ev']['id']}"
    html = check_page(b.get(path + "?state=missing"))
    nxt = links(html, "next")[0]
    assert nxt.startswith(path + "?state=missing&cursor=")
    html = check_page(b.get(nxt))
    vid = rows(html)[0]
    row = re.search(r'<tr data-volunteer="%d">.*?</tr>' % vid, html).group(0)
    action = htmllib.unescape(re.search(r'<form method="post" action="([^"]+)"', row).group(1))
    assert action == nxt
    tok = re.search(r'name="_t" value="([^"]+)"', row).group(1)
    r = b.post(action, {"_t": tok, "action": "in", "volunteer_id": str(vid)})
    assert r.status_code == 303
    assert r.headers["Location"] == path + "?done=in&" + nxt.split("?", 1)[1]
    html = check_page(b.get(r.headers["Location"]))
    assert vid not in rows(html) and 'id="n-missing">29<' in html and 'id="n-on_post">1<' in html
    # a refusal (already on post) shows the same page again, with the error
    r = b.post(action, {"_t": re.findall(r'name="_t" value="([^"]+)"', html)[0], "action": "in",
                        "volunteer_id": str(vid)})
    html = check_page(r, status=409)
    assert 'role="alert"' in html and 'aria-current="page"><span class="num" id="n-missing">' in html
    assert f'action="{action.replace("&", "&amp;")}"' in html


def test_a_full_roster_page_stays_under_30_kb(w):
    """The largest roster page: ROSTER_ROWS people with 50-character names that escape to 300
    bytes, every one with a button (on post) or a link to the entry (checked out), a next link
    and the walk-in form; in both languages."""
    name = '"' * 50  # the dearest to escape: 6 bytes a character, twice a row
    e = roster_event(w, confirmed=ROSTER_ROWS + 5, on_post=15, done=ROSTER_ROWS + 5 - 15,
                     names=[name, name[:-1] + "'"])
    b = Browser(w.server, w.login, PW)
    r = b.get(f"/console/events/{e['ev']['id']}")
    html = check_page(r)  # asserts < 30 KB
    en = b.get(f"/console/events/{e['ev']['id']}?lang=en")
    check_page(en)
    print(f"full roster page: {len(r.content)} bytes, in English {len(en.content)}")
    assert len(rows(html)) == ROSTER_ROWS and links(html, "next")
    assert "&quot;" * 50 in html and html.count("/console/entries/") >= 10
