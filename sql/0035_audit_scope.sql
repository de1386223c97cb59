-- 0035_audit_scope.sql: an administrator with a scoped grant reads the audit rows of hour
-- policies, certificates and month closes in that scope.
--
-- GET /audit shows an administrator the rows about objects in their scope (0002), through
-- audit_entity_level, which finds an object's org unit or team by its entity.  Three entities
-- audited since were not among those it knew, so their rows were a system administrator's
-- only, though a scoped administrator makes them:
--   * hour_policy (0022): the owner unit's (a global policy's: a system administrator's, as
--     only one may change it);
--   * certificate (0017): the volunteer's, as issuing and revoking one are;
--   * month_close (0007): the closed unit's.
-- An object that is gone counts as out of scope (0), as for the other entities.

CREATE OR REPLACE FUNCTION audit_entity_level(actor bigint, entity text, entity_id bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT coalesce(CASE entity
        WHEN 'correction_request' THEN
            (SELECT correction_request_level(actor, c) FROM correction_requests c WHERE c.id = entity_id)
        WHEN 'hour_policy' THEN
            (SELECT authz_level(actor, p.org_unit_id, NULL) FROM hour_policies p WHERE p.id = entity_id)
        WHEN 'certificate' THEN
            (SELECT authz_volunteer_level(actor, c.volunteer_id) FROM certificates c WHERE c.id = entity_id)
        WHEN 'month_close' THEN
            (SELECT authz_level(actor, m.org_unit_id, NULL) FROM month_closes m WHERE m.id = entity_id)
        ELSE audit_entity_level_before_requests(actor, entity, entity_id) END, 0)
$$;
