"""The usual check-in batch goes straight to checkin_many; flags_valid is a loop (sql/0015).

checkin_batch(items, idle_minutes) is the statement of a worker's group commit
(server/batch.c).  These tests call it in SQL, each batch in a transaction that is rolled back,
with track_functions on for that transaction, so that the functions it ran can be counted
(pg_stat_get_xact_function_calls):

  * a batch of check-ins without Idempotency-Keys whose sessions are all live runs
    checkin_many once and api_call_batch never, and answers exactly what the way through
    api_call_batch answers for the same batch (the way every batch took before 0015);
  * a batch with a dead session, an Idempotency-Key or a check-out still goes through
    api_call_batch, and its live check-ins get the same answers;
  * a round stuck on a row lock past lock_timeout fails only the check-in that waited;
  * flags_valid gives, for each array tried, what 0001's query gives.
"""
import json
import secrets

import psycopg2
import pytest

import helpers

CODE = "246815"
IDLE_MINUTES = 30


class World:
    pass


@pytest.fixture(scope="module")
def world(pg):
    """An event open now with code CODE, and six volunteers signed up to it, each with a live
    session (w.tokens) and an account (w.accounts)."""
    w = World()
    tag = secrets.token_hex(4)
    unit, team = helpers.unit_with_team(pg, f"CL-{tag}", f"Lean {tag}", "Lean team")
    w.event = helpers.open_event(pg, team, f"lean {tag}", "Lean post", CODE)
    w.tokens = ["cl" + secrets.token_hex(21)[:41] for _ in range(6)]
    w.volunteers, w.accounts = helpers.volunteers_with_sessions(
        pg, unit, w.tokens, f"lean-{tag}", phone="157", signup_event=w.event)
    return w


def session_hash(pg, token):
    return pg.sql(f"SELECT encode(sha256(convert_to({helpers.sql_str(token)}, 'UTF8')), 'hex')").strip()


def item(w, fn="checkin", session=None, actor=None, key=None, args=None):
    """One item as server/batch.c makes it."""
    return {"fn": fn, "session": session, "actor": actor,
            "args": args if args is not None else {"event_id": w.event, "code": CODE},
            "key": key, "hash": ("ab" * 32) if key else None, "ip": "127.0.0.1",
            "rid": "lean-" + secrets.token_hex(4)}


def run(pg, statement, params):
    """Runs statement in a rolled-back transaction with function tracking on; returns its rows
    (as dicts by column) and how many times api_call_batch and checkin_many ran."""
    conn = pg.connect()
    try:
        cur = conn.cursor()
        cur.execute("SET LOCAL track_functions = 'pl'")
        cur.execute(statement, params)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        cur.execute("SELECT coalesce(pg_stat_get_xact_function_calls('api_call_batch(jsonb)'::regprocedure), 0), "
                    "coalesce(pg_stat_get_xact_function_calls('checkin_many(jsonb, bigint[])'::regprocedure), 0)")
        calls = cur.fetchone()
        return rows, {"api_call_batch": calls[0], "checkin_many": calls[1]}
    finally:
        conn.rollback()
        conn.close()


def checkin_batch(pg, items):
    return run(pg, "SELECT * FROM checkin_batch(%s::jsonb, %s) ORDER BY n",
               (json.dumps([{k: v for k, v in i.items() if v is not None or k != "session"} for i in items]),
                IDLE_MINUTES))


def through_api_call_batch(pg, items, accounts):
    """The same items, each session replaced by its account, through api_call_batch."""
    plain = []
    for i, it in enumerate(items):
        it = {k: v for k, v in it.items() if k != "session"}
        if accounts[i] is not None:
            it["actor"] = accounts[i]
        plain.append(it)
    return run(pg, "SELECT * FROM api_call_batch(%s::jsonb) ORDER BY n", (json.dumps(plain),))


def comparable(row):
    """A row's answer without what differs between two transactions: the attendance id and the
    check-in time (each transaction's now())."""
    body = json.loads(row["body"]) if row["body"] else None
    if body:
        body.pop("id", None)
        body.pop("check_in_at", None)
    return (row["n"], row["ok"], body, row["state"], row["message"], row["col"], row["cons"])


def test_plain_batch_of_live_sessions_goes_straight_to_checkin_many(pg, world):
    w = world
    items = [item(w, session=session_hash(pg, t)) for t in w.tokens[:4]]
    # the second volunteer twice: the second check-in is refused as it would be alone
    items.append(item(w, session=session_hash(pg, w.tokens[1])))
    # one item whose actor the worker already knew (a cached session)
    items.append(item(w, actor=w.accounts[4]))
    rows, calls = checkin_batch(pg, items)
    assert calls == {"api_call_batch": 0, "checkin_many": 1}
    assert [r["n"] for r in rows] == [1, 2, 3, 4, 5, 6]
    for r, who in zip(rows[:4], range(4)):
        assert r["ok"], r
        assert json.loads(r["body"])["volunteer_id"] == w.volunteers[who]
        assert (r["account_id"], r["volunteer_id"]) == (w.accounts[who], w.volunteers[who])
        assert r["valid_ms"] > 0
    assert (rows[4]["ok"], rows[4]["state"], rows[4]["message"]) == (False, "VD409", "already checked in at this event")
    assert rows[4]["account_id"] == w.accounts[1]
    assert rows[5]["ok"] and json.loads(rows[5]["body"])["volunteer_id"] == w.volunteers[4]
    assert (rows[5]["account_id"], rows[5]["volunteer_id"], rows[5]["valid_ms"]) == (None, None, None)

    before, calls = through_api_call_batch(pg, items, [w.accounts[0], w.accounts[1], w.accounts[2],
                                                       w.accounts[3], w.accounts[1], None])
    assert calls["api_call_batch"] == 1
    assert [comparable(r) for r in rows] == [comparable(r) for r in before]


def test_plain_batch_writes_each_attendance_and_audit_row_as_its_account(pg, world):
    w = world
    conn = pg.connect()
    try:
        cur = conn.cursor()
        items = [item(w, session=session_hash(pg, t)) for t in w.tokens[:3]]
        cur.execute("SELECT n, ok, body FROM checkin_batch(%s::jsonb, %s) ORDER BY n",
                    (json.dumps(items), IDLE_MINUTES))
        answers = cur.fetchall()
        assert all(ok for _, ok, _ in answers), answers
        for (n, _, body), it in zip(answers, items):
            a = json.loads(body)
            cur.execute("""SELECT t.volunteer_id, t.created_by, t.method, l.account_id, l.request_id
                             FROM attendances t JOIN audit_log l ON l.entity = 'attendance' AND l.entity_id = t.id
                            WHERE t.id = %s AND l.action = 'check_in'""", (a["id"],))
            assert cur.fetchall() == [(w.volunteers[n - 1], w.accounts[n - 1], "self",
                                       w.accounts[n - 1], it["rid"])]
    finally:
        conn.rollback()
        conn.close()


@pytest.mark.parametrize("odd_one", ["dead session", "idempotency key", "check-out"])
def test_other_batches_take_the_general_way_with_the_same_answers(pg, world, odd_one):
    w = world
    items = [item(w, session=session_hash(pg, t)) for t in w.tokens[:3]]
    if odd_one == "dead session":
        items.append(item(w, session=secrets.token_hex(32)))
    elif odd_one == "idempotency key":
        items.append(item(w, session=session_hash(pg, w.tokens[3]), key="lean-" + secrets.token_hex(8)))
    else:
        items.append(item(w, fn="checkout", session=session_hash(pg, w.tokens[3])))
    rows, calls = checkin_batch(pg, items)
    assert calls["api_call_batch"] == 1
    assert [r["n"] for r in rows] == [1, 2, 3, 4]
    for r, who in zip(rows[:3], range(3)):
        assert r["ok"], r
        assert (r["account_id"], r["volunteer_id"]) == (w.accounts[who], w.volunteers[who])
    last = rows[3]
    if odd_one == "dead session":
        assert (last["ok"], last["state"], last["account_id"]) == (False, "VD401", None)
    elif odd_one == "idempotency key":
        assert last["ok"] and last["account_id"] == w.accounts[3]
    else:  # nobody checked in volunteer 3
        assert (last["ok"], last["state"], last["account_id"]) == (False, "VD409", w.accounts[3])

    before, _ = through_api_call_batch(pg, items[:3], w.accounts[:3])
    assert [comparable(r) for r in rows[:3]] == [comparable(r) for r in before]


@pytest.mark.parametrize("limit", ["lock_timeout", "statement_timeout"])
def test_a_check_in_stuck_on_a_lock_fails_alone_only_under_lock_timeout(pg, world, limit):
    """The server sets lock_timeout below statement_timeout (server/db.c, R38) for this: a
    batch whose round waits past lock_timeout on one volunteer's row (held FOR UPDATE
    elsewhere) runs its check-ins again one by one, and only that one fails (55P03).  A
    statement_timeout cancels the whole statement, which no EXCEPTION clause catches, so the
    whole batch fails."""
    w = world
    items = [item(w, session=session_hash(pg, t)) for t in w.tokens[:3]]
    holder, conn = pg.connect(), pg.connect()
    try:
        holder.cursor().execute(f"SELECT 1 FROM volunteers WHERE id = {w.volunteers[1]} FOR UPDATE")
        cur = conn.cursor()
        cur.execute(f"SET LOCAL {limit} = '300ms'")
        batch = ("SELECT n, ok, state FROM checkin_batch(%s::jsonb, %s) ORDER BY n",
                 (json.dumps(items), IDLE_MINUTES))
        if limit == "statement_timeout":
            with pytest.raises(psycopg2.errors.QueryCanceled):
                cur.execute(*batch)
            return
        cur.execute(*batch)
        assert cur.fetchall() == [(1, True, None), (2, False, "55P03"), (3, True, None)]
    finally:
        conn.rollback()
        holder.rollback()
        conn.close()
        holder.close()


# What 0001 defined, as a query to compare with.
RULE_OF_0001 = """coalesce(array_ndims(f), 1) = 1 AND cardinality(f) <= 16
                  AND NOT EXISTS (SELECT 1 FROM unnest(f) x WHERE x IS NULL OR x !~ '^[a-z][a-z0-9_]{0,31}$')"""

FLAG_ARRAYS = [
    "NULL", "'{}'", "'{walk_in}'", "'{walk_in,auto_checkout}'", "'{a}'", "'{a1_}'", "'{z9}'",
    "ARRAY['a' || repeat('b', 31)]", "ARRAY['a' || repeat('b', 32)]", "ARRAY['_a']", "'{1a}'",
    "'{Walk_in}'", "'{walk-in}'", "ARRAY['walk in']", "ARRAY['']", "ARRAY[NULL]::text[]",
    "ARRAY['a', NULL]", "'{{a},{b}}'", "array_fill('a'::text, ARRAY[1, 1])", "'{{{a}}}'",
    "ARRAY['é']", "ARRAY['aé']", "ARRAY['a' || chr(10) || 'b']", "ARRAY['a ']", "'[0:1]={a,b}'",
    "'[5:5]={A}'",
    "(SELECT array_agg('f' || i) FROM generate_series(1, 16) i)",
    "(SELECT array_agg('f' || i) FROM generate_series(1, 17) i)",
    "(SELECT array_agg('f' || i) FROM generate_series(1, 15) i) || ARRAY['F']",
]


def test_flags_valid_keeps_the_rule_of_0001(pg):
    cases = ",\n".join(f"({i}, {a}::text[])" for i, a in enumerate(FLAG_ARRAYS))
    out = pg.sql(f"""SELECT i, flags_valid(f) IS NOT DISTINCT FROM ({RULE_OF_0001}), flags_valid(f)
                       FROM (VALUES {cases}) AS t(i, f) ORDER BY i""")
    rows = [line.split("|") for line in out.split()]
    assert len(rows) == len(FLAG_ARRAYS)
    assert [FLAG_ARRAYS[int(i)] for i, same, _ in rows if same != "t"] == []
    # both answers occur, so the comparison could fail
    assert {v for _, _, v in rows} == {"t", "f", ""}
