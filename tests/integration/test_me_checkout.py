"""/me shows the volunteer's open attendance, with a check-out button (sql/0036_me_on_duty.sql,
server/pages/p_me.c).

A volunteer who checked in from the QR poster's page and lost that tab finds, at the top of /me,
an "on duty" section: the event, the check-in time and a plain form whose button checks out
through the API's own path (one's own check-out needs no code, 0033).  The POST answers 303 to
/me?done=out&attendance=ID, which shows the credited time read back from the database; a
second form from a stale tab gets the page's error box (409: "checked out already", sql/0037),
and no second entry.  The form needs its token, as the page's other forms do.  Nothing is shown
to a volunteer who is not on duty, nor to staff without a volunteer record.  While on duty, the
upcoming list marks the event as on duty instead of offering to cancel its sign-up.

Runs on the session's shared server; the event (a fixed code) and the volunteers with their
sessions are made in SQL.
"""
import re
import secrets

import pytest
import requests

import helpers
from test_pages import ESCAPED, EVIL, Browser, check_page, token_of

CODE = "864209"
LATER = "晚班岗"  # a second event everyone has signed up for
TIMEOUT = 10


class World:
    pass


@pytest.fixture(scope="module")
def w(server, pg):
    x = World()
    x.srv, x.pg = server, pg
    tag = secrets.token_hex(4)
    unit, team = helpers.unit_with_team(pg, f"MO-{tag}", f"Me out {tag}", "Me-out team")
    # started 3 hours ago: a check-in moved 150 minutes back is credited from there
    x.event = helpers.open_event(pg, team, f"me-out {tag}", "岗" + EVIL, CODE, started="3 hours")
    x.later = helpers.open_event(pg, team, f"me-out later {tag}", LATER, CODE, started="1 minute")
    x.tokens = ["mo" + secrets.token_hex(21)[:41] for _ in range(10)]
    x.ids, _ = helpers.volunteers_with_sessions(pg, unit, x.tokens, f"mo-{tag}", phone="157",
                                                signup_event=x.event)
    pg.sql(f"""INSERT INTO signups (event_id, volunteer_id, status)
               SELECT {x.later}, v, 'confirmed' FROM unnest(ARRAY{x.ids}::bigint[]) v""")
    x.people = iter(zip(x.tokens, x.ids))
    x.staff = "mo" + secrets.token_hex(21)[:41]
    x.staff_id = helpers.coordinator_with_sessions(pg, unit, f"mo-{tag}-co", [x.staff])
    return x


def browser(w, token):
    """A Browser holding `token`'s session cookie (the server runs plain HTTP)."""
    b = Browser(w.srv)
    b.s.cookies.set("vd_session", token)
    return b


def on_duty(w, token, ago="150 minutes 5 seconds"):
    """Checks in through the API with the code, then moves the check-in `ago` back; the
    attendance's id."""
    r = requests.post(w.srv.url(f"/api/v1/events/{w.event}/check-ins"), json={"code": CODE},
                      headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    w.pg.sql(f"UPDATE attendances SET check_in_at = now() - interval '{ago}' WHERE id = {aid}")
    return aid


def section(html):
    m = re.search(r'<section class="card" aria-labelledby="h-on-duty" id="on-duty">.*?</section>', html)
    return m.group(0) if m else None


def upcoming(html, title):
    """The upcoming list's item of the event titled `title` (as the page writes it)."""
    m = re.search(r'<ul class="events">(.*?)</ul>', html)
    assert m, html
    [item] = [i for i in re.findall(r"<li[^>]*>.*?</li>", m.group(1)) if title in i]
    return item


def text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def entries(w, aid):
    """The attendance's ledger entries: (minutes, status) of each, live or not."""
    rows = w.pg.sql(f"SELECT minutes, status FROM hour_entries WHERE attendance_id = {aid} ORDER BY id")
    return [tuple(r.split("|")) for r in rows.split()]


def test_the_volunteer_on_duty_checks_out_from_me(w):
    token, vid = next(w.people)
    aid = on_duty(w, token)
    b = browser(w, token)
    html = check_page(b.get("/me"))
    s = section(html)
    assert s, html
    # at the top: before the greeting and the totals
    assert html.index('id="on-duty"') < html.index('id="me-name"')
    since = w.pg.sql(f"""SELECT to_char(check_in_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI')
                          FROM attendances WHERE id = {aid}""").strip()
    assert "正在服务" in s and "岗" + ESCAPED in s, s
    assert "签到时间 " + since in text(s), s
    assert f'name="action" value="checkout"><input type="hidden" name="event_id" value="{w.event}">' in s
    assert '<button type="submit" class="big">签退 / Check out</button>' in s
    assert 'name="code"' not in s  # one's own check-out needs no code
    stale = token_of(check_page(b.get("/me")))  # another tab, rendered while on duty

    form = {"_t": token_of(s), "action": "checkout", "event_id": str(w.event)}
    r = b.post("/me", form)
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"] == f"/me?done=out&attendance={aid}"
    closed = w.pg.sql(f"""SELECT method, check_out_at IS NOT NULL,
                                 floor(extract(epoch FROM check_out_at - check_in_at) / 60)
                            FROM attendances WHERE id = {aid}""").split()[0]
    assert closed == "self|t|150", closed
    assert entries(w, aid) == [("150", "approved")]

    html = check_page(b.get(r.headers["Location"]))
    assert "已签退，计入 2.50 小时" in text(html), html
    assert 'class="tag approved">已确认' in html
    assert section(html) is None and 'value="checkout"' not in html

    # the same form again (a double tap, a refresh of the POST): the stored answer, not a
    # second check-out
    r = b.post("/me", form)
    assert r.status_code == 303 and r.headers["Location"] == f"/me?done=out&attendance={aid}"
    # the stale tab's form: the page's error box, which says it is done (not "you have not
    # checked in"), and still one entry
    html = check_page(b.post("/me", {"_t": stale, "action": "checkout", "event_id": str(w.event)}),
                      status=409)
    assert '<div class="error" role="alert"><p>已签退。</p></div>' in html, html
    assert "尚未在此活动签到" not in html
    assert section(html) is None
    assert entries(w, aid) == [("150", "approved")]
    assert w.pg.sql(f"SELECT count(*) FROM attendances WHERE volunteer_id = {vid}").strip() == "1"

    # in English
    html = check_page(b.get(f"/me?done=out&attendance={aid}&lang=en"))
    assert "Checked out, credited 2.50 hours" in text(html), html
    html = check_page(b.post("/me", {"_t": stale, "action": "checkout", "event_id": str(w.event)},
                             headers={"Accept-Language": "en"}), status=409)
    assert '<div class="error" role="alert"><p>Already checked out.</p></div>' in html, html


def test_the_error_tells_never_checked_in_from_checked_out(w):
    """A check-out form for an event the volunteer never checked in at says "you have not
    checked in"; once they have checked in and out there, the same form says "you have checked
    out" (the token of the upcoming item's form names the same event, as the on-duty one)."""
    token, vid = next(w.people)
    b = browser(w, token)

    def check_out_with(form_token):
        return check_page(b.post("/me", {"_t": form_token, "action": "checkout",
                                         "event_id": str(w.event)}), status=409)

    html = check_out_with(token_of(upcoming(check_page(b.get("/me")), "岗" + ESCAPED)))
    assert '<div class="error" role="alert"><p>尚未在此活动签到。</p></div>' in html, html
    assert "已签退。" not in html
    on_duty(w, token, ago="5 minutes")
    stale_tab = token_of(section(check_page(b.get("/me"))))
    r = requests.post(w.srv.url(f"/api/v1/events/{w.event}/check-outs"), json={},
                      headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    html = check_out_with(stale_tab)
    assert '<div class="error" role="alert"><p>已签退。</p></div>' in html, html
    assert "尚未在此活动签到" not in html
    assert w.pg.sql(f"SELECT count(*) FROM attendances WHERE volunteer_id = {vid}").strip() == "1"


def test_the_event_on_duty_offers_no_cancel_in_the_upcoming_list(w):
    """Cancelling the sign-up of the event one is serving at would hand the place to the
    waitlist while one is still there: the upcoming list marks that event as on duty, with no
    button; the other events keep theirs.  After the check-out the event is marked checked
    out, still with no button: a sign-up that was served is kept (0040), and the API says so."""
    token, _ = next(w.people)
    on_duty(w, token, ago="5 minutes")
    b = browser(w, token)
    html = check_page(b.get("/me"))
    here = upcoming(html, "岗" + ESCAPED)
    assert "<form" not in here and "取消报名" not in here, here
    assert here.startswith('<li class="on-duty">') and "已报名" in here, here
    assert '<a class="tag approved" href="#on-duty">正在服务</a>' in here, here
    assert 'value="cancel"' in upcoming(html, LATER)
    here = upcoming(check_page(b.get("/me?lang=en")), "岗" + ESCAPED)
    assert '<a class="tag approved" href="#on-duty">On duty</a>' in here and "Cancel sign-up" not in here, here

    r = requests.post(w.srv.url(f"/api/v1/events/{w.event}/check-outs"), json={},
                      headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    here = upcoming(check_page(b.get("/me?lang=zh")), "岗" + ESCAPED)
    assert "<form" not in here and "取消报名" not in here and "正在服务" not in here, here
    assert '<span class="tag">已签退</span>' in here and "已报名" in here, here
    assert 'value="cancel"' in upcoming(check_page(b.get("/me")), LATER)


def test_on_duty_without_a_sign_up_offers_no_sign_up_either(w):
    """On duty at an event without a live sign-up (a walk-in, or one cancelled since): the item
    is marked on duty, with no sign-up button."""
    token, vid = next(w.people)
    on_duty(w, token, ago="5 minutes")
    w.pg.sql(f"UPDATE signups SET status = 'cancelled' WHERE event_id = {w.event} AND volunteer_id = {vid}")
    here = upcoming(check_page(browser(w, token).get("/me")), "岗" + ESCAPED)
    assert "<form" not in here and "已报名" not in here and "正在服务" in here, here


def test_the_confirmation_shows_only_ones_own_check_out(w):
    """/me?done=out&attendance=ID names another volunteer's check-out: their hours are not
    shown, only a plain "checked out"."""
    (token, _), (other_token, _) = next(w.people), next(w.people)
    aid = on_duty(w, other_token, ago="20 minutes")
    r = requests.post(w.srv.url(f"/api/v1/events/{w.event}/check-outs"), json={},
                      headers={"Authorization": "Bearer " + other_token}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    html = check_page(browser(w, token).get(f"/me?done=out&attendance={aid}"))
    assert "签退成功" in html and "已签退，计入" not in html and "0.33" not in html, html
    html = check_page(browser(w, other_token).get(f"/me?done=out&attendance={aid}"))
    assert "已签退，计入 0.33 小时" in text(html), html


def test_no_section_without_an_open_attendance(w):
    token, _ = next(w.people)
    html = check_page(browser(w, token).get("/me"))
    assert 'id="me-name"' in html  # the volunteer's page, with the event among the upcoming
    assert "岗" + ESCAPED in html
    assert section(html) is None and "正在服务" not in html and 'value="checkout"' not in html


def test_the_check_out_form_needs_its_token(w):
    token, _ = next(w.people)
    aid = on_duty(w, token, ago="5 minutes")
    b = browser(w, token)
    s = section(check_page(b.get("/me")))
    still_open = f"SELECT check_out_at IS NULL FROM attendances WHERE id = {aid}"
    # no token; a token of another form of the page (the log-out's, for no event); a token
    # tampered with
    html = check_page(b.post("/me", {"action": "checkout", "event_id": str(w.event)}), status=403)
    assert "页面已过期" in html
    other = token_of(check_page(b.get("/me")), -1)
    check_page(b.post("/me", {"_t": other, "action": "checkout", "event_id": str(w.event)}), status=403)
    tok = token_of(s)
    bad = tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")
    check_page(b.post("/me", {"_t": bad, "action": "checkout", "event_id": str(w.event)}), status=403)
    # the right token, posted from another site, is refused before the page runs
    r = b.post("/me", {"_t": tok, "action": "checkout", "event_id": str(w.event)},
               headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert w.pg.sql(still_open).strip() == "t"
    r = b.post("/me", {"_t": tok, "action": "checkout", "event_id": str(w.event)})
    assert r.status_code == 303, r.text[:300]
    assert w.pg.sql(still_open).strip() == "f"


def test_staff_without_a_volunteer_record_see_no_section(w):
    html = check_page(browser(w, w.staff).get("/me"))
    assert "此账号没有志愿者档案" in html
    assert section(html) is None and 'value="checkout"' not in html
    assert w.pg.sql(f"SELECT api.page_me({w.staff_id}, '{{}}') ?| ARRAY['on_duty', 'checked_out']"
                    ).strip() == "f"


def test_a_served_sign_up_is_kept(w):
    """DELETE of a sign-up with an attendance at the event is 409 (0040), on duty or after: the
    place is not handed to the waitlist while its holder serves in it, nor freed once served.
    A sign-up not served is cancelled as before."""
    token, vid = next(w.people)
    h = {"Authorization": "Bearer " + token}

    def cancel(event):
        return requests.delete(w.srv.url(f"/api/v1/events/{event}/signups/{vid}"), headers=h, timeout=TIMEOUT)

    def status(event):
        return w.pg.sql(f"SELECT status FROM signups WHERE event_id = {event} AND volunteer_id = {vid}").strip()

    on_duty(w, token, ago="5 minutes")
    r = cancel(w.event)
    assert r.status_code == 409 and "problem+json" in r.headers["Content-Type"], r.text
    assert "already checked in" in r.json()["detail"]
    assert status(w.event) == "confirmed"
    r = requests.post(w.srv.url(f"/api/v1/events/{w.event}/check-outs"), json={}, headers=h, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert cancel(w.event).status_code == 409 and status(w.event) == "confirmed"
    assert cancel(w.later).status_code == 204 and status(w.later) == "cancelled"
