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
-- Same trigger names and messages as the PostgreSQL set.

-- SQLite cannot change a foreign key's ON DELETE: rebuild access_log with RESTRICT (so
-- deleting a tenant that has entries is refused), then recreate its index and triggers.
CREATE TABLE access_log_rebuilt (
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    ip          TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
INSERT INTO access_log_rebuilt
    (tenant_id, seq, at, actor, ip, action, target, detail, prev_hash, hash)
    SELECT tenant_id, seq, at, actor, ip, action, target, detail, prev_hash, hash FROM access_log;
-- Dropping the table drops its index and triggers with it (and fires no delete triggers).
DROP TABLE access_log;
ALTER TABLE access_log_rebuilt RENAME TO access_log;
CREATE INDEX access_log_at ON access_log (tenant_id, at);

-- As in 0001: entries never change once written.
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only');
END;

-- As in 0001: entries are removed only by retention, which first moves the anchor past them.
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
WHEN OLD.seq > (SELECT purged_through_seq FROM access_log_head WHERE tenant_id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'access_log entries are removed only by retention');
END;

-- The head moves only as appends and retention move it:
-- * tenant_id never changes;
-- * last_seq/last_hash/last_at either stay, or advance by exactly one onto the entry just
--   appended (its hash, its instant, linked to the old head, not earlier than it);
-- * the retention mark either stays, or moves forward onto an existing entry (its hash) that
--   is at least 365 days older than the chain's newest entry.
CREATE TRIGGER access_log_head_guard BEFORE UPDATE ON access_log_head
BEGIN
    SELECT RAISE(ABORT, 'access_log_head.tenant_id never changes')
    WHERE NEW.tenant_id IS NOT OLD.tenant_id;
    SELECT RAISE(ABORT, 'access_log_head moves only onto the next appended entry')
    WHERE (NEW.last_seq IS NOT OLD.last_seq
           OR NEW.last_hash IS NOT OLD.last_hash
           OR NEW.last_at IS NOT OLD.last_at)
      AND NOT (NEW.last_seq = OLD.last_seq + 1
               AND NEW.last_at >= OLD.last_at
               AND EXISTS (SELECT 1 FROM access_log e
                           WHERE e.tenant_id = NEW.tenant_id AND e.seq = NEW.last_seq
                             AND e.hash = NEW.last_hash AND e.prev_hash = OLD.last_hash
                             AND e.at = NEW.last_at));
    SELECT RAISE(ABORT, 'access_log_head retention mark moves only forward, onto an entry a year older than the newest')
    WHERE (NEW.purged_through_seq IS NOT OLD.purged_through_seq
           OR NEW.purged_hash IS NOT OLD.purged_hash)
      AND NOT (NEW.purged_through_seq > OLD.purged_through_seq
               AND EXISTS (SELECT 1 FROM access_log e
                           WHERE e.tenant_id = NEW.tenant_id AND e.seq = NEW.purged_through_seq
                             AND e.hash = NEW.purged_hash
                             AND e.at <= NEW.last_at - 31536000000));
END;

-- A head goes only with a log that has no entries (a tenant that never logged anything);
-- otherwise removing it would orphan the entries and disarm access_log_no_delete.
CREATE TRIGGER access_log_head_no_delete BEFORE DELETE ON access_log_head
WHEN EXISTS (SELECT 1 FROM access_log WHERE tenant_id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'access_log_head stays while its tenant has entries');
END;
