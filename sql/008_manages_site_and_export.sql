-- Site management belongs to the manager role (issue 11). A demotion ends the member's
-- site_managers rows in its own transaction (members_http.c); manages_site() is the check every
-- "does this member manage that site?" goes through, and it asks for the role too, so a row
-- that outlived a demotion can never grant anything.
CREATE FUNCTION manages_site(member uuid, site uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT EXISTS (SELECT 1 FROM site_managers sm JOIN members m ON m.id = sm.member_id
                 WHERE sm.member_id = member AND sm.site_id = site AND m.role = 'manager')
$$;

-- Rows left behind by demotions before this migration end now, each with its audit row.
WITH ended AS (
  DELETE FROM site_managers sm USING members m
  WHERE m.id = sm.member_id AND m.role <> 'manager'
  RETURNING sm.site_id, sm.member_id)
INSERT INTO audit_log (actor_id, actor_kind, action, resource_type, resource_id, details)
SELECT NULL, 'system', 'site.manager_removed', 'site', site_id::text,
       jsonb_build_object('member_id', member_id, 'reason', 'role_changed')
FROM ended;

-- GET /v1/me/export reads the audit rows that name the member in details.member_id (invitations,
-- approvals, site management of them): an index, so an export stays an index lookup.
CREATE INDEX audit_log_details_member ON audit_log ((details->>'member_id'), id);
