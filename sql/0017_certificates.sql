-- 0017_certificates.sql: certificates of a volunteer's service record (志愿服务记录证明,
-- 民发〔2015〕149号; DESIGN §5: "/me: my hours, my events, my certificate").
--
-- A certificate is drawn from the record at the moment it is issued and kept as issued: its
-- number, the volunteer's identity (name, ID number masked as everywhere, volunteer number),
-- the service (approved hours in the period, and what they were: activity, team, days,
-- sessions, hours), the issuing body and the date.  Anyone holding its link (number and a
-- random code, printed with a QR code) can check it against this server; the number alone
-- tells nothing.  The volunteer issues their own from /me; a coordinator or administrator
-- over the volunteer issues one for them.  The issuer is the area at the root of the
-- volunteer's home unit, the body that keeps this record ("谁记录谁证明"); the printed form
-- leaves room for its seal, the person in charge and the handling officer, as the 2015
-- guidance has volunteers print the form and take it to be sealed.

CREATE SEQUENCE certificate_no_seq;

CREATE TABLE certificates (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number       text NOT NULL CONSTRAINT certificates_number_check CHECK (number ~ '^VC[0-9]{11,}$'),
    code         text NOT NULL CONSTRAINT certificates_code_check CHECK (code ~ '^[0-9a-f]{32}$'),
    volunteer_id bigint NOT NULL CONSTRAINT certificates_volunteer_id_fkey REFERENCES volunteers (id),
    issuer_id    bigint NOT NULL CONSTRAINT certificates_issuer_id_fkey REFERENCES org_units (id),
    period_from  date,
    period_to    date,
    approved_minutes int NOT NULL CONSTRAINT certificates_minutes_check CHECK (approved_minutes > 0),
    content      jsonb NOT NULL,  -- what the certificate says, as issued
    issued_by    bigint CONSTRAINT certificates_issued_by_fkey REFERENCES accounts (id),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    revoked_by   bigint CONSTRAINT certificates_revoked_by_fkey REFERENCES accounts (id),
    revoke_reason text CONSTRAINT certificates_revoke_reason_check CHECK (char_length(revoke_reason) <= 500),
    CONSTRAINT certificates_number_key UNIQUE (number),
    CONSTRAINT certificates_period_check CHECK (period_from <= period_to)
);
CREATE INDEX certificates_volunteer_id_idx ON certificates (volunteer_id, id);

-- A date of the period from args (YYYY-MM-DD), or NULL; 422 naming the key otherwise.
CREATE FUNCTION certificate_date(args jsonb, key text) RETURNS date
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v text := args ->> key;
BEGIN
    IF v IS NULL OR v = '' THEN
        RETURN NULL;
    END IF;
    IF v !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        PERFORM problem(422, key, key || ' must be a date, YYYY-MM-DD');
    END IF;
    RETURN v::date;
EXCEPTION WHEN data_exception THEN
    PERFORM problem(422, key, key || ' must be a date, YYYY-MM-DD');
    RETURN NULL;
END
$$;

-- What a certificate shows, and where to check it (the code is the caller's to put in a URL).
CREATE FUNCTION certificate_json(c certificates) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT c.content || jsonb_build_object(
        'id', c.id, 'code', c.code, 'volunteer_id', c.volunteer_id, 'issued_at', c.issued_at,
        'status', CASE WHEN c.revoked_at IS NULL THEN 'valid' ELSE 'revoked' END,
        'revoked_at', c.revoked_at, 'revoke_reason', c.revoke_reason)
$$;

-- Issue a certificate of volunteer vid's approved service on the local days [d0, d1] (either
-- end open), by actor.  The total is the approved hours of GET /volunteers/{id}/hours for
-- the same days; the lines split it by activity and team (the 30 latest, the rest summed).
CREATE FUNCTION certificate_issue(vid bigint, d0 date, d1 date, actor bigint) RETURNS certificates
LANGUAGE plpgsql AS $$
DECLARE
    v volunteers;
    issuer org_units;
    total int;
    lines jsonb;
    rest jsonb;
    num text;
    c certificates;
BEGIN
    IF d0 > d1 THEN
        PERFORM problem(422, 'to', 'to must not be before from');
    END IF;
    SELECT * INTO v FROM volunteers WHERE id = vid;
    IF v.status = 'erased' THEN
        PERFORM problem(409, NULL, 'this volunteer''s personal data has been erased; no certificate can name them');
    END IF;
    SELECT u.* INTO issuer
      FROM org_units home JOIN org_units u ON u.id = split_part(home.path, '/', 2)::bigint
     WHERE home.id = v.org_unit_id;
    total := (volunteer_hours_json(vid, d0::timestamp AT TIME ZONE app_time_zone(),
                                   (d1 + 1)::timestamp AT TIME ZONE app_time_zone())
              -> 'totals' ->> 'approved_minutes')::int;
    IF total = 0 THEN
        PERFORM problem(409, NULL, 'there are no approved service hours in this period to certify');
    END IF;
    WITH per AS (
        SELECT h.activity_id, h.team_id, min(d.day) AS first_day, max(d.day) AS last_day,
               count(DISTINCT h.event_id) AS sessions, sum(d.minutes)::int AS minutes
          FROM hour_entries h JOIN hour_entry_days d ON d.entry_id = h.id
         WHERE h.volunteer_id = vid AND h.status = 'approved'
           AND (d0 IS NULL OR d.day >= d0) AND (d1 IS NULL OR d.day <= d1)
         GROUP BY h.activity_id, h.team_id
        HAVING sum(d.minutes) > 0
    ), ranked AS (
        SELECT per.*, row_number() OVER (ORDER BY last_day DESC, activity_id, team_id) AS n FROM per
    )
    SELECT jsonb_agg(jsonb_build_object(
               'activity', a.title, 'team', t.name, 'first_day', r.first_day, 'last_day', r.last_day,
               'sessions', r.sessions, 'minutes', r.minutes,
               'hours', to_char(r.minutes / 60.0, 'FM999999990.00')) ORDER BY r.n)
               FILTER (WHERE r.n <= 30),
           CASE WHEN count(*) > 30 THEN jsonb_build_object(
               'activities', count(*) - 30,
               'minutes', sum(r.minutes) FILTER (WHERE r.n > 30),
               'hours', to_char(sum(r.minutes) FILTER (WHERE r.n > 30) / 60.0, 'FM999999990.00')) END
      INTO lines, rest
      FROM ranked r JOIN activities a ON a.id = r.activity_id JOIN teams t ON t.id = r.team_id;

    -- numbered only once it is certain to be issued, so that refusals leave no gaps
    num := 'VC' || to_char(now() AT TIME ZONE app_time_zone(), 'YYYY')
                || lpad(nextval('certificate_no_seq')::text, 7, '0');
    INSERT INTO certificates (number, code, volunteer_id, issuer_id, period_from, period_to,
                              approved_minutes, content, issued_by)
    VALUES (num, replace(gen_random_uuid()::text, '-', ''), vid, issuer.id, d0, d1, total,
            jsonb_build_object(
                'number', num, 'issued_on', (now() AT TIME ZONE app_time_zone())::date,
                'volunteer', jsonb_build_object('name', v.name, 'volunteer_no', v.volunteer_no,
                                                'id_number', v.id_number_masked),
                'period', jsonb_build_object('from', d0, 'to', d1),
                'service', jsonb_build_object(
                    'approved_minutes', total,
                    'approved_hours', to_char(total / 60.0, 'FM999999990.00'),
                    'lines', coalesce(lines, '[]'::jsonb), 'more', rest),
                'issuer', jsonb_build_object('org_unit_id', issuer.id, 'name', issuer.name)),
            nullif(actor, 0))
    RETURNING * INTO c;
    PERFORM audit('issue', 'certificate', c.id, NULL,
                  jsonb_build_object('number', c.number, 'volunteer_id', vid, 'period_from', d0,
                                     'period_to', d1, 'approved_minutes', total));
    RETURN c;
END
$$;

-- POST /api/v1/me/certificates {from?, to?}: the caller's own certificate.
CREATE FUNCTION api.me_certificate_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    vid bigint := actor_volunteer(actor);
    d0 date := certificate_date(args, 'from');
    d1 date := certificate_date(args, 'to');
BEGIN
    IF vid IS NULL THEN
        PERFORM problem(409, NULL, 'this account has no volunteer record to certify');
    END IF;
    RETURN certificate_json(certificate_issue(vid, d0, d1, actor));
END
$$;

-- POST /api/v1/volunteers/{id}/certificates {from?, to?}: a coordinator or administrator over
-- the volunteer issues one for them (for a volunteer without a phone of their own, say).
CREATE FUNCTION api.volunteer_certificate_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    vid bigint := arg_id(args, 'volunteer_id');
BEGIN
    PERFORM authz_require(authz_volunteer_level(actor, vid), 'coordinator', 'volunteer');
    RETURN certificate_json(certificate_issue(vid, certificate_date(args, 'from'),
                                              certificate_date(args, 'to'), actor));
END
$$;

-- POST /api/v1/certificates/{id}/revoke {reason}: an administrator over the volunteer
-- withdraws a certificate that should not stand (the record it states was wrong, say: the
-- issuer answers for it).  Its check then says revoked, with the reason.  Revoking a revoked
-- certificate changes nothing.
CREATE FUNCTION api.certificate_revoke(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c certificates;
BEGIN
    SELECT * INTO c FROM certificates WHERE id = arg_id(args, 'id') FOR UPDATE;
    PERFORM authz_require(CASE WHEN c.id IS NULL THEN 0 ELSE authz_volunteer_level(actor, c.volunteer_id) END,
                          'admin', 'certificate');
    IF c.revoked_at IS NULL THEN
        UPDATE certificates SET revoked_at = now(), revoked_by = actor, revoke_reason = arg_text(args, 'reason')
         WHERE id = c.id
        RETURNING * INTO c;
        PERFORM audit('revoke', 'certificate', c.id, NULL,
                      jsonb_build_object('number', c.number, 'reason', c.revoke_reason));
    END IF;
    RETURN certificate_json(c);
END
$$;

-- GET /api/v1/me/certificates: the caller's certificates, newest first.
CREATE FUNCTION api.me_certificates(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(certificate_json(c) ORDER BY c.id DESC), '[]'::jsonb))
      FROM certificates c WHERE c.volunteer_id = actor_volunteer(actor)
$$;

-- GET /certificates/{number}?c=code, for anyone holding the link: the certificate as issued,
-- with its status; NULL (404) for a wrong number or code, which are told apart by no one.
CREATE FUNCTION certificate_verify(number text, code text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT certificate_json(c) FROM certificates c
     WHERE c.number = certificate_verify.number AND c.code = certificate_verify.code
$$;

-- The page of GET /certificates/{number}?c=code (no log-in needed): 404 for a wrong number or
-- code, which are told apart by no one.
CREATE FUNCTION api.page_certificate(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    found_cert jsonb := certificate_verify(args ->> 'number', args ->> 'code');
BEGIN
    IF found_cert IS NULL THEN
        PERFORM problem(404, NULL, 'certificate not found');
    END IF;
    RETURN found_cert;
END
$$;

-- GET /api/v1/me/data (0016) holds everything kept about the caller: the certificates too.
-- 0016's function stays as it is, out of the api schema, and this one adds them.
ALTER FUNCTION api.me_data(bigint, jsonb) SET SCHEMA public;
ALTER FUNCTION public.me_data(bigint, jsonb) RENAME TO me_data_before_certificates;
CREATE FUNCTION api.me_data(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT me_data_before_certificates(actor, args) || jsonb_build_object(
        'certificates', coalesce((SELECT jsonb_agg(certificate_json(c) ORDER BY c.id)
                                    FROM certificates c WHERE c.volunteer_id = actor_volunteer(actor)),
                                 '[]'::jsonb))
$$;
