-- rolecall schema, version 1.
--
-- Identifiers are TEXT and compared byte for byte; case-insensitive keys
-- (userName, displayName) are kept folded (lowercase) in their own column,
-- computed by rolecall, with the UNIQUE constraint on the folded column.
-- Times are Unix milliseconds. Every table is STRICT.

CREATE TABLE organizations (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
) STRICT;

CREATE TABLE accounts (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    -- NULL for a standalone account.
    organization_id TEXT    REFERENCES organizations (id),
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
) STRICT;

CREATE INDEX accounts_by_organization ON accounts (organization_id)
    WHERE organization_id IS NOT NULL;

-- One directory per organization or standalone account: exactly one owner
-- column is set, and each is UNIQUE.
CREATE TABLE directories (
    id                     TEXT    NOT NULL PRIMARY KEY,
    owner_organization_id  TEXT    UNIQUE REFERENCES organizations (id),
    owner_account_id       TEXT    UNIQUE REFERENCES accounts (id),
    mode                   TEXT    NOT NULL DEFAULT 'dashboard'
                                   CHECK (mode IN ('dashboard', 'saml')),
    created_ms             INTEGER NOT NULL,
    updated_ms             INTEGER NOT NULL,
    CHECK ((owner_organization_id IS NULL) <> (owner_account_id IS NULL))
) STRICT;

-- Verified email domains of a directory, lowercase.
CREATE TABLE directory_domains (
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    domain       TEXT NOT NULL CHECK (domain = lower(domain) AND domain <> ''),
    PRIMARY KEY (directory_id, domain)
) STRICT, WITHOUT ROWID;

-- SCIM bearer tokens of a directory, stored hashed; several may be live at
-- once so that they can be rotated.
CREATE TABLE scim_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    directory_id TEXT    NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    revoked_ms   INTEGER
) STRICT;

CREATE INDEX scim_tokens_by_directory ON scim_tokens (directory_id);

CREATE TABLE roles (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL DEFAULT '',
    -- 1 for a role of the default catalog that nobody has changed.
    builtin     INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
) STRICT;

-- Permission patterns a role grants: `resource.action`, `resource.*`, `*`.
CREATE TABLE role_permissions (
    role_name  TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE ON UPDATE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_name, permission)
) STRICT, WITHOUT ROWID;

-- SCIM users. `id` is the SCIM id, unique across directories.
CREATE TABLE users (
    id               TEXT    NOT NULL PRIMARY KEY,
    directory_id     TEXT    NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    user_name        TEXT    NOT NULL,
    user_name_folded TEXT    NOT NULL,
    external_id      TEXT,
    display_name     TEXT,
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    -- JSON array of {"value", "type"?, "primary"?}.
    emails           TEXT    NOT NULL DEFAULT '[]',
    -- The SCIM document as last written over SCIM, when it was.
    scim_document    TEXT,
    -- SCIM meta.version: bumped on every change.
    version          INTEGER NOT NULL DEFAULT 1,
    created_ms       INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL,
    UNIQUE (directory_id, user_name_folded)
) STRICT;

CREATE TABLE groups (
    id                  TEXT    NOT NULL PRIMARY KEY,
    directory_id        TEXT    NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    display_name        TEXT    NOT NULL,
    display_name_folded TEXT    NOT NULL,
    external_id         TEXT,
    scim_document       TEXT,
    version             INTEGER NOT NULL DEFAULT 1,
    created_ms          INTEGER NOT NULL,
    updated_ms          INTEGER NOT NULL,
    UNIQUE (directory_id, display_name_folded)
) STRICT;

-- A member is a user or a nested group (exactly one column is set), of the
-- same directory as the group.
CREATE TABLE group_members (
    group_id        TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_user_id  TEXT REFERENCES users (id) ON DELETE CASCADE,
    member_group_id TEXT REFERENCES groups (id) ON DELETE CASCADE,
    CHECK ((member_user_id IS NULL) <> (member_group_id IS NULL))
) STRICT;

CREATE UNIQUE INDEX group_members_user ON group_members (group_id, member_user_id)
    WHERE member_user_id IS NOT NULL;
CREATE UNIQUE INDEX group_members_group ON group_members (group_id, member_group_id)
    WHERE member_group_id IS NOT NULL;
CREATE INDEX group_members_by_user ON group_members (member_user_id)
    WHERE member_user_id IS NOT NULL;
CREATE INDEX group_members_by_group ON group_members (member_group_id)
    WHERE member_group_id IS NOT NULL;

-- (group or user) -> role at a scope. `scope_key` is the canonical form of
-- the scope ('' for a single account or a whole organization; the JSON array
-- of the sorted account ids for chosen accounts) so that the same assignment
-- is never stored twice.
CREATE TABLE role_assignments (
    id                    INTEGER NOT NULL PRIMARY KEY,
    directory_id          TEXT    NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    subject_group_id      TEXT    REFERENCES groups (id) ON DELETE CASCADE,
    subject_user_id       TEXT    REFERENCES users (id) ON DELETE CASCADE,
    role_name             TEXT    NOT NULL REFERENCES roles (name) ON UPDATE CASCADE,
    scope_kind            TEXT    NOT NULL
                                  CHECK (scope_kind IN ('account', 'organization', 'organization_accounts')),
    scope_account_id      TEXT    REFERENCES accounts (id),
    scope_organization_id TEXT    REFERENCES organizations (id),
    scope_key             TEXT    NOT NULL DEFAULT '',
    created_ms            INTEGER NOT NULL,
    CHECK ((subject_group_id IS NULL) <> (subject_user_id IS NULL)),
    CHECK (
        (scope_kind = 'account'
            AND scope_account_id IS NOT NULL AND scope_organization_id IS NULL AND scope_key = '')
        OR (scope_kind = 'organization'
            AND scope_account_id IS NULL AND scope_organization_id IS NOT NULL AND scope_key = '')
        OR (scope_kind = 'organization_accounts'
            AND scope_account_id IS NULL AND scope_organization_id IS NOT NULL AND scope_key <> '')
    )
) STRICT;

CREATE UNIQUE INDEX role_assignments_unique ON role_assignments (
    directory_id,
    ifnull(subject_group_id, ''),
    ifnull(subject_user_id, ''),
    role_name,
    scope_kind,
    ifnull(scope_account_id, ''),
    ifnull(scope_organization_id, ''),
    scope_key
);
CREATE INDEX role_assignments_by_group ON role_assignments (subject_group_id)
    WHERE subject_group_id IS NOT NULL;
CREATE INDEX role_assignments_by_user ON role_assignments (subject_user_id)
    WHERE subject_user_id IS NOT NULL;
CREATE INDEX role_assignments_by_role ON role_assignments (role_name);

-- The chosen accounts of an `organization_accounts` scope.
CREATE TABLE role_assignment_accounts (
    assignment_id INTEGER NOT NULL REFERENCES role_assignments (id) ON DELETE CASCADE,
    account_id    TEXT    NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (assignment_id, account_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX role_assignment_accounts_by_account ON role_assignment_accounts (account_id);

-- The global revision: one row, bumped by one on every acknowledged write.
CREATE TABLE revision (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL CHECK (value >= 0)
) STRICT;

INSERT INTO revision (id, value) VALUES (1, 0);

-- One row per revision: what the write did, for sidecars and operators.
CREATE TABLE change_log (
    revision INTEGER NOT NULL PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    -- JSON
    detail   TEXT    NOT NULL
) STRICT;
