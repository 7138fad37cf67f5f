-- rolecall schema, version 3: what the admin API needs.
--
-- Same conventions as versions 1 and 2: STRICT tables, TEXT ids, Unix
-- milliseconds.

-- Every admin write, in the transaction of the write: who (the admin
-- credential's id, never its secret), what, on which resource, the resource
-- before and after (JSON; NULL for a creation or a deletion), and the
-- revision the write made. Not part of the decision; no foreign keys (an
-- entry outlives what it names).
CREATE TABLE audit_log (
    id       INTEGER NOT NULL PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    -- `organization.create`, `group.role_assignments.set`, ...
    action   TEXT    NOT NULL,
    -- `organizations/org_acme`, `directories/dir_acme/groups/<id>`, ...
    target   TEXT    NOT NULL,
    before   TEXT,
    after    TEXT,
    revision INTEGER
) STRICT;

-- Filters by action or target prefix, newest first.
CREATE INDEX audit_log_by_action ON audit_log (action, id);
CREATE INDEX audit_log_by_target ON audit_log (target, id);
