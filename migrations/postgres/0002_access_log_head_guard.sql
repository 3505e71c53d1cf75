-- The access log could be emptied without touching its triggers (issue 6, item 3): the head
-- row was unprotected, so moving its retention mark forward let access_log_no_delete remove
-- every entry, deleting the head made that trigger's subquery NULL (so it let every delete
-- through), and deleting a tenant cascaded its log away. From here on the head moves only
-- as appends and retention move it, and a tenant with entries cannot be deleted.
--
-- Retention is checked against the chain's own time (the head's last_at, the newest entry's
-- instant), not the database's clock: the engine's clock is a port (instances and tests run
-- on theirs), and retention first appends an `access_log.purge` entry stamped with its
-- now, so last_at is the purge's instant. Moving the mark early therefore needs a forged,
-- future-dated entry, which `verify` reports (and the keyed chain hash will make unforgeable).
-- Same trigger names and messages as the SQLite set.

-- Deleting a tenant that has entries is refused instead of cascading its log away
-- (ALTER CONSTRAINT cannot change ON DELETE, so the constraint is replaced).
ALTER TABLE access_log DROP CONSTRAINT access_log_tenant_id_fkey;
ALTER TABLE access_log ADD CONSTRAINT access_log_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE RESTRICT;

-- The head moves only as appends and retention move it:
-- * tenant_id never changes;
-- * last_seq/last_hash/last_at either stay, or advance by exactly one onto the entry just
--   appended (its hash, its instant, linked to the old head, not earlier than it);
-- * the retention mark either stays, or moves forward onto an existing entry (its hash) that
--   is at least 365 days older than the chain's newest entry.
CREATE FUNCTION access_log_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        RAISE EXCEPTION 'access_log_head.tenant_id never changes';
    END IF;
    IF (NEW.last_seq, NEW.last_hash, NEW.last_at)
           IS DISTINCT FROM (OLD.last_seq, OLD.last_hash, OLD.last_at)
       AND NOT (NEW.last_seq = OLD.last_seq + 1
                AND NEW.last_at >= OLD.last_at
                AND EXISTS (SELECT 1 FROM access_log e
                            WHERE e.tenant_id = NEW.tenant_id AND e.seq = NEW.last_seq
                              AND e.hash = NEW.last_hash AND e.prev_hash = OLD.last_hash
                              AND e.at = NEW.last_at)) THEN
        RAISE EXCEPTION 'access_log_head moves only onto the next appended entry';
    END IF;
    IF (NEW.purged_through_seq, NEW.purged_hash)
           IS DISTINCT FROM (OLD.purged_through_seq, OLD.purged_hash)
       AND NOT (NEW.purged_through_seq > OLD.purged_through_seq
                AND EXISTS (SELECT 1 FROM access_log e
                            WHERE e.tenant_id = NEW.tenant_id AND e.seq = NEW.purged_through_seq
                              AND e.hash = NEW.purged_hash
                              AND e.at <= NEW.last_at - 31536000000)) THEN
        RAISE EXCEPTION 'access_log_head retention mark moves only forward, onto an entry a year older than the newest';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER access_log_head_guard BEFORE UPDATE ON access_log_head
    FOR EACH ROW EXECUTE FUNCTION access_log_head_guard();

-- A head goes only with a log that has no entries (a tenant that never logged anything);
-- otherwise removing it would orphan the entries and disarm access_log_no_delete.
CREATE FUNCTION access_log_head_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM access_log WHERE tenant_id = OLD.tenant_id) THEN
        RAISE EXCEPTION 'access_log_head stays while its tenant has entries';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER access_log_head_no_delete BEFORE DELETE ON access_log_head
    FOR EACH ROW EXECUTE FUNCTION access_log_head_refuse_delete();
