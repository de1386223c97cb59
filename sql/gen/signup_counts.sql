-- gen-data, fast path, after signups.sql: the events' counters that trigger signups_count keeps
-- (the trigger path leaves them to the trigger).
UPDATE events e SET confirmed_count = s.c, waitlisted_count = s.w
  FROM (SELECT event_id, count(*) FILTER (WHERE status = 'confirmed')::int AS c,
               count(*) FILTER (WHERE status = 'waitlisted')::int AS w
          FROM signups GROUP BY event_id) s
 WHERE e.id = s.event_id;
