-- Meetings asked for in chat (`book @bob kenji@globex.example 30m next week`): the answer
-- offers common free slots as buttons, and a button's action id holds at most 100
-- characters, so what was asked is kept here and the buttons carry only this row's public id
-- and a slot's start. Pressing one books a meeting without a link (`bookings.link_id` NULL),
-- whose holds keep every colleague from being double-booked, like any booking.
CREATE TABLE booking_proposals (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- 32 hex digits, in the buttons' action ids.
    public_id         TEXT NOT NULL UNIQUE,
    -- Who asked: the only one who may press the buttons.
    requester_id      BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    -- The colleagues to hold (the requester included): a JSON array of employee ids.
    colleagues        TEXT NOT NULL,
    -- Outside guests' emails (a JSON array), sealed with the tenant's key; NULL for none.
    guests_sealed     TEXT,
    duration_minutes  BIGINT NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    -- The span asked for (epoch ms): fresh slots are looked for in it when one is taken.
    search_from       BIGINT NOT NULL,
    search_until      BIGINT NOT NULL,
    -- The meeting booked from it: one per proposal.
    booking_id        BIGINT REFERENCES bookings(id) ON DELETE SET NULL,
    created_at        BIGINT NOT NULL,
    -- After this the buttons answer that the offer has expired (and the row may go).
    expires_at        BIGINT NOT NULL,
    CHECK (search_from < search_until)
);
CREATE INDEX booking_proposals_expiry ON booking_proposals (expires_at);
