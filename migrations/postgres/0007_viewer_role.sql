-- A fourth role, `viewer`: sees the directory and changes nothing.
ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('owner', 'admin', 'receptionist', 'viewer'));
