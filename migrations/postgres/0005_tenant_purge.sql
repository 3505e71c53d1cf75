-- Deletion at contract end (whitepaper 2-3-3). `frontdesk tenant purge` deletes every row of
-- a tenant, its access log included, and records the purge in the system log, which belongs
-- to no tenant and so outlives it. The system log is append-only like the access log.
--
-- The access log's triggers refuse deletes other than retention's; a purge recorded in the
-- system log is the one other sanctioned way. Someone who can write the database could
-- record a fake purge to wipe a tenant's log — but that record stays, and
-- `frontdesk access-log verify` names every purged tenant, so the wipe is never silent.
CREATE TABLE system_log (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    -- e.g. 'tenant:42'
    target TEXT NOT NULL,
    -- JSON: the slug, and how many rows of each kind were deleted.
    detail TEXT NOT NULL
);
CREATE INDEX system_log_action_target ON system_log (action, target);

CREATE FUNCTION system_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'system_log is append-only';
END;
$$;
CREATE TRIGGER system_log_no_update BEFORE UPDATE ON system_log
    FOR EACH ROW EXECUTE FUNCTION system_log_refuse_change();
CREATE TRIGGER system_log_no_delete BEFORE DELETE ON system_log
    FOR EACH ROW EXECUTE FUNCTION system_log_refuse_change();

-- As in 0001, and a recorded purge of the entry's tenant also lets it go.
CREATE OR REPLACE FUNCTION access_log_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.seq > (SELECT purged_through_seq FROM access_log_head WHERE tenant_id = OLD.tenant_id)
       AND NOT EXISTS (SELECT 1 FROM system_log
                       WHERE action = 'tenant.purge' AND target = 'tenant:' || OLD.tenant_id) THEN
        RAISE EXCEPTION 'access_log entries are removed only by retention';
    END IF;
    RETURN OLD;
END;
$$;
