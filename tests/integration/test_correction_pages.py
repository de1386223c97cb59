"""The console's side of corrections (sql/0020, server/pages/p_console.c), over plain HTTP with
forms as a browser without JavaScript posts them: /console lists the open correction requests of
the coordinator's events (escaped) and resolves them; /console/entries/{id} rejects an entry with
a reason and corrects its attendance's times through the API's own SQL functions (the same
rules, ledger and audit); /me shows the volunteer the outcome and the note.  Scope as the API:
another community's coordinator gets 404, the volunteer 403, an anonymous visitor the log-in."""
import datetime as dt
import re
import secrets

import pytest

import conftest
from apiclient import Api
from test_staff_pages import ESCAPED, EVIL, Browser, check_page

TZ = dt.timezone(dt.timedelta(hours=8))
PW = "Corr-page-" + secrets.token_hex(3)


def form_with(html, *pairs):
    """The fields of the one form that holds every (name, value) hidden pair given."""
    for form in re.findall(r"<form\b.*?</form>", html, re.S):
        if all(f'name="{n}" value="{v}"' in form for n, v in pairs):
            return {"_t": re.search(r'name="_t" value="([^"]+)"', form).group(1),
                    **{n: v for n, v in pairs},
                    "_action": re.search(r'action="([^"]+)"', form).group(1)}
    raise AssertionError(f"no form with {pairs}")


def post_form(b, html, *pairs, **fields):
    f = form_with(html, *pairs)
    action = f.pop("_action")
    return b.post(action, {**f, **fields})


@pytest.fixture(scope="module")
def pw_(server):
    tag = secrets.token_hex(3)
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    d = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district", "code": f"PD-{tag}",
                                        "name": "页面区"}, want=201)
    now = dt.datetime.now(TZ).replace(second=0, microsecond=0)
    out = {"admin": admin, "now": now, "tag": tag}
    for s in ("A", "B"):
        unit = admin.ok("POST", "/org-units", {"parent_id": d["id"], "kind": "community",
                                               "code": f"P{s}-{tag}", "name": f"社区{s}"}, want=201)
        team = admin.ok("POST", "/teams", {"name": f"队{s}", "org_unit_id": unit["id"]}, want=201)
        login = f"cp{s}-{tag}"
        acc = admin.ok("POST", "/accounts", {"login": login, "password": PW}, want=201)
        admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "org_unit_id": unit["id"]},
                 want=201)
        co = Api(server, login, PW)
        act = co.ok("POST", "/activities", {
            "team_id": team["id"], "org_unit_id": unit["id"], "title": f"{EVIL}岗{s}", "capacity": 100,
            "starts_at": (now - dt.timedelta(hours=3)).isoformat(),
            "ends_at": (now + dt.timedelta(hours=3)).isoformat()}, want=201)
        out[s] = {"unit": unit, "login": login, "co": co,
                  "event": co.ok("GET", f"/activities/{act['id']}/events")["items"][0]}
    phone = f"137{int(tag, 16) % 100000000:08d}"
    out["vol"] = Api(server).ok("POST", "/volunteers", {"name": f"张{EVIL}", "phone": phone,
                                                       "org_unit_id": out["A"]["unit"]["id"], "password": PW},
                                want=201)
    out["vol_login"] = phone
    out["vol_api"] = Api(server, phone, PW)
    out["k"] = iter(range(1, 100))
    return out


def finished(w):
    """A finished roster attendance of the volunteer at A's event, checked in k*3 minutes after
    its start and out a minute later (as an auto check-out would leave it for correcting)."""
    co, ev, vid = w["A"]["co"], w["A"]["event"], w["vol"]["id"]
    co.ok("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": vid}, want=201)
    att = co.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": vid}, want=200)
    k = next(w["k"])
    start = w["now"] - dt.timedelta(hours=3) + dt.timedelta(minutes=3 * k)
    return co.ok("PATCH", f"/attendance/{att['id']}", {
        "check_in_at": start.isoformat(), "check_out_at": (start + dt.timedelta(minutes=1)).isoformat(),
        "reason": "测试准备"})


def local(iso):
    return dt.datetime.fromisoformat(iso).astimezone(TZ).strftime("%Y-%m-%dT%H:%M")


def entry_of(w, entry_id):
    hours = w["A"]["co"].ok("GET", f"/volunteers/{w['vol']['id']}/hours")["entries"]
    return [e for e in hours if e["id"] == entry_id][0]


def test_the_console_lists_open_requests_escaped_and_resolves_one_declined_with_a_note(server, pw_):
    att = finished(pw_)
    req = pw_["vol_api"].ok("POST", "/correction-requests",
                            {"entry_id": att["entry"]["id"], "message": f"我{EVIL}没迟到"}, want=201)
    b = Browser(server, pw_["A"]["login"], PW)
    html = check_page(b.get("/console"))
    assert 'id="requests"' in html and f'data-request="{req["id"]}"' in html
    assert ESCAPED in html and f'href="/console/entries/{att["entry"]["id"]}"' in html
    # another community's coordinator does not see it
    other = check_page(Browser(server, pw_["B"]["login"], PW).get("/console"))
    assert f'data-request="{req["id"]}"' not in other
    # declined without a note: the form again, the error at the field, nothing changed
    r = post_form(b, html, ("action", "resolve"), ("request_id", req["id"]), resolution="declined", note="")
    page = check_page(r, status=422)
    assert 'aria-invalid="true"' in page and "不予更正时请写明理由" in page
    assert f'id="e-note-{req["id"]}"' in page and "<details open>" in page
    assert pw_["vol_api"].ok("GET", "/correction-requests?status=open&limit=500")["items"][-1]["id"] == req["id"]
    # a form without its token is refused
    r = b.post("/console", {"action": "resolve", "request_id": req["id"], "resolution": "declined", "note": "x"})
    assert r.status_code == 403
    # declined with a note: 303 back, the request resolved
    html = check_page(b.get("/console"))
    r = post_form(b, html, ("action", "resolve"), ("request_id", req["id"]),
                  resolution="declined", note=f"现场登记{EVIL}一致")
    assert r.status_code == 303 and r.headers["Location"] == "/console?done=resolved#requests", r.text[:300]
    done = check_page(b.get("/console?done=resolved"))
    assert "更正申请已处理" in done and f'data-request="{req["id"]}"' not in done
    item = [i for i in pw_["vol_api"].ok("GET", "/correction-requests?limit=500")["items"] if i["id"] == req["id"]][0]
    assert item["resolution"] == "declined" and item["note"] == f"现场登记{EVIL}一致"
    # the volunteer's page shows the outcome and the note (escaped)
    me = check_page(Browser(server, pw_["vol_login"], PW).get("/me"))
    li = re.search(rf'<li data-request="{req["id"]}">(.*?)</li>', me, re.S).group(1)
    assert "未采纳" in li and "组织者说明" in li and f"现场登记{ESCAPED}一致" in li
    en = check_page(Browser(server, pw_["vol_login"], PW).get("/me?lang=en"))
    assert "declined" in en and "note:" in en


def test_the_entry_page_scope(server, pw_):
    att = finished(pw_)
    eid = att["entry"]["id"]
    assert Browser(server).get(f"/console/entries/{eid}").status_code == 303
    assert Browser(server, pw_["B"]["login"], PW).get(f"/console/entries/{eid}").status_code == 404
    assert Browser(server, pw_["vol_login"], PW).get(f"/console/entries/{eid}").status_code == 403
    b = Browser(server, pw_["A"]["login"], PW)
    assert b.get("/console/entries/999999999").status_code == 404
    assert b.get("/console/entries/abc").status_code == 404
    html = check_page(b.get(f"/console/entries/{eid}"))
    assert ESCAPED in html and 'id="correct"' in html and 'id="decide"' in html
    assert f'value="{local(att["check_in_at"])}"' in html and f'value="{local(att["check_out_at"])}"' in html
    # the roster links a done attendance to its entry
    roster = check_page(b.get(f"/console/events/{pw_['A']['event']['id']}"))
    assert f'href="/console/entries/{eid}"' in roster


def test_reject_with_a_reason_from_the_entry_page(server, pw_):
    att = finished(pw_)
    eid = att["entry"]["id"]
    b = Browser(server, pw_["A"]["login"], PW)
    html = check_page(b.get(f"/console/entries/{eid}"))
    r = post_form(b, html, ("action", "reject"), reason="  ")
    page = check_page(r, status=422)
    assert 'id="e-reason"' in page and entry_of(pw_, eid)["status"] == "pending"
    r = post_form(b, page, ("action", "reject"), reason="长" * 1001)
    assert check_page(r, status=422) and entry_of(pw_, eid)["status"] == "pending"
    html = check_page(b.get(f"/console/entries/{eid}"))
    r = post_form(b, html, ("action", "reject"), reason=f"不在岗{EVIL}")
    assert r.status_code == 303 and r.headers["Location"] == f"/console/entries/{eid}?done=rejected"
    after = check_page(b.get(r.headers["Location"]))
    assert "记录已驳回" in after and f"不在岗{ESCAPED}" in after and 'id="decide"' not in after
    e = entry_of(pw_, eid)
    assert e["status"] == "rejected"
    audit = pw_["admin"].ok("GET", f"/audit?entity=hour_entry&entity_id={eid}")["items"]
    assert audit[0]["action"] == "reject" and audit[0]["new"]["reason"] == f"不在岗{EVIL}"
    # the same token again is answered from the stored result, not done twice
    r2 = post_form(b, html, ("action", "reject"), reason=f"不在岗{EVIL}")
    assert r2.status_code == 303


def test_correct_the_times_from_the_entry_page_then_resolve_as_corrected(server, pw_):
    att = finished(pw_)
    eid = att["entry"]["id"]
    req = pw_["vol_api"].ok("POST", "/correction-requests", {"entry_id": eid, "message": "我多干了一分钟"},
                            want=201)
    b = Browser(server, pw_["A"]["login"], PW)
    html = check_page(b.get(f"/console/entries/{eid}"))
    assert f'data-request="{req["id"]}"' in html
    cin, cout = local(att["check_in_at"]), local(att["check_out_at"])
    # nothing changed: 422, the form again
    r = post_form(b, html, ("action", "correct"), check_in=cin, check_out=cout, reason="核对")
    assert "两个时间都没有改动" in check_page(r, status=422)
    # a check-out before the check-in, a reason missing, a time that is not one
    r = post_form(b, html, ("action", "correct"), check_in=cin, check_out="2020-01-01T08:00", reason="核对")
    page = check_page(r, status=422)
    assert 'id="e-check_out"' in page and "签退时间不能早于签到时间" in page
    r = post_form(b, html, ("action", "correct"), check_in=cin, check_out=cout, reason="")
    assert 'id="e-creason"' in check_page(r, status=422)
    r = post_form(b, html, ("action", "correct"), check_in="soon", check_out=cout, reason="核对")
    assert 'id="e-check_in"' in check_page(r, status=422)
    # one more minute of service
    later = (dt.datetime.fromisoformat(att["check_out_at"]).astimezone(TZ) + dt.timedelta(minutes=1))
    r = post_form(b, html, ("action", "correct"), check_in=cin, check_out=later.strftime("%Y-%m-%dT%H:%M"),
                  reason="志愿者反映晚走一分钟")
    assert r.status_code == 303, r.text[:500]
    m = re.fullmatch(r"/console/entries/(\d+)\?done=corrected", r.headers["Location"])
    new_id = int(m.group(1))
    assert new_id != eid
    assert entry_of(pw_, eid)["status"] == "void"
    new = entry_of(pw_, new_id)
    assert new["corrects"] == eid and "correction" in new["flags"] and new["minutes"] == 2
    audit = pw_["admin"].ok("GET", f"/audit?entity=attendance&entity_id={att['id']}")["items"]
    assert audit[0]["action"] == "correct"
    assert dt.datetime.fromisoformat(audit[0]["new"]["check_out_at"]) == later.replace(second=0)
    # the old entry's page links to the new one and offers no correction any more
    old_page = check_page(b.get(f"/console/entries/{eid}"))
    assert f'href="/console/entries/{new_id}"' in old_page and 'id="correct"' not in old_page
    # the request is about the old entry: resolve it there as corrected
    r = post_form(b, old_page, ("action", "resolve"), ("request_id", req["id"]), resolution="corrected", note="")
    assert r.status_code == 303 and r.headers["Location"] == f"/console/entries/{eid}?done=resolved#requests"
    item = [i for i in pw_["vol_api"].ok("GET", "/correction-requests?limit=500")["items"] if i["id"] == req["id"]][0]
    assert item["resolution"] == "corrected" and item["resolved_entry_id"] == new_id
    me = check_page(Browser(server, pw_["vol_login"], PW).get("/me"))
    assert "已更正" in re.search(rf'<li data-request="{req["id"]}">(.*?)</li>', me, re.S).group(1)
    # resolving it again from a stale form: 409 with the page's words
    r = post_form(b, old_page, ("action", "resolve"), ("request_id", req["id"]), resolution="corrected", note="")
    assert r.status_code in (303, 409)  # the same token is the stored answer
    html = check_page(b.get(f"/console/entries/{eid}"))
    assert f'data-request="{req["id"]}"' not in html


def test_the_console_shows_the_oldest_five_and_the_count(server, pw_):
    co, ev = pw_["B"]["co"], pw_["B"]["event"]
    made = []
    for j in range(6):
        start = pw_["now"] - dt.timedelta(hours=1) + dt.timedelta(minutes=2 * j)
        e = co.ok("POST", "/hours", {"volunteer_id": pw_["vol"]["id"], "event_id": ev["id"],
                                     "started_at": start.isoformat(),
                                     "ended_at": (start + dt.timedelta(minutes=1)).isoformat(), "reason": "补录"},
                  want=201)
        made.append(pw_["vol_api"].ok("POST", "/correction-requests", {"entry_id": e["id"], "message": f"第{j}条"},
                                      want=201)["id"])
    html = check_page(Browser(server, pw_["B"]["login"], PW).get("/console"))
    assert re.search(r'id="h-requests">更正申请 \(6\)</h2>', html)
    shown = [int(x) for x in re.findall(r'<li data-request="(\d+)"', html)]
    assert shown == made[:5] and "条待处理，此处显示最早的 5 条。" in html
