-- rolecall schema for PostgreSQL, version 1 (the same as SQLite's 0001-0003).
--
-- Revisions follow commit order with no gaps, however many rolecall processes
-- share the database: every write transaction first locks the one `revision`
-- row (SELECT ... FOR UPDATE), so writers take turns like SQLite's BEGIN
-- IMMEDIATE, then bumps it by one and appends to `change_log` before it
-- commits. The next writer waits for that commit, so revision N+1 can never
-- become visible before revision N.
--
-- Identifiers are TEXT compared byte for byte (COLLATE "C", as SQLite does);
-- case-insensitive keys (userName, displayName) are kept folded by rolecall
-- in columns of their own, with the UNIQUE constraint on the folded column.
-- Times are Unix milliseconds (BIGINT).

CREATE TABLE organizations (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

CREATE TABLE accounts (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL,
    -- NULL for a standalone account.
    organization_id TEXT COLLATE "C" REFERENCES organizations (id),
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL
);

CREATE INDEX accounts_by_organization ON accounts (organization_id)
    WHERE organization_id IS NOT NULL;

-- One directory per organization or standalone account: exactly one owner
-- column is set, and each is UNIQUE.
CREATE TABLE directories (
    id                     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    owner_organization_id  TEXT COLLATE "C" UNIQUE REFERENCES organizations (id),
    owner_account_id       TEXT COLLATE "C" UNIQUE REFERENCES accounts (id),
    mode                   TEXT COLLATE "C" NOT NULL DEFAULT 'dashboard'
                                   CHECK (mode IN ('dashboard', 'saml')),
    -- FALSE for a directory that accepts users of any email domain.
    enforce_domains        BOOLEAN NOT NULL DEFAULT TRUE,
    created_ms             BIGINT NOT NULL,
    updated_ms             BIGINT NOT NULL,
    CHECK ((owner_organization_id IS NULL) <> (owner_account_id IS NULL))
);

-- Verified email domains of a directory, lowercase.
CREATE TABLE directory_domains (
    directory_id TEXT COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    domain       TEXT COLLATE "C" NOT NULL CHECK (domain = lower(domain) AND domain <> ''),
    PRIMARY KEY (directory_id, domain)
);

-- SCIM bearer tokens of a directory, stored hashed (SHA-256); several may be
-- live at once so that they can be rotated. `seq` keeps creation order.
CREATE TABLE scim_tokens (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    seq          BIGINT GENERATED ALWAYS AS IDENTITY,
    directory_id TEXT COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    token_hash   BYTEA  NOT NULL UNIQUE,
    -- The first characters of the secret after `rcs_`, to tell tokens apart.
    prefix       TEXT COLLATE "C",
    created_ms   BIGINT NOT NULL,
    last_used_ms BIGINT,
    revoked_ms   BIGINT
);

CREATE INDEX scim_tokens_by_directory ON scim_tokens (directory_id, created_ms, seq);

CREATE TABLE roles (
    name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    description TEXT COLLATE "C" NOT NULL DEFAULT '',
    -- TRUE for a role of the default catalog that nobody has changed.
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

-- Permission patterns a role grants: `resource.action`, `resource.*`, `*`.
CREATE TABLE role_permissions (
    role_name  TEXT COLLATE "C" NOT NULL REFERENCES roles (name) ON DELETE CASCADE ON UPDATE CASCADE,
    permission TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (role_name, permission)
);

-- SCIM users. `id` is the SCIM id, unique across directories.
CREATE TABLE users (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    directory_id     TEXT COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    user_name        TEXT COLLATE "C" NOT NULL,
    user_name_folded TEXT COLLATE "C" NOT NULL,
    external_id      TEXT COLLATE "C",
    display_name     TEXT COLLATE "C",
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    -- JSON array of {"value", "type"?, "primary"?}, as rolecall wrote it.
    emails           TEXT NOT NULL DEFAULT '[]',
    -- The SCIM document as last written over SCIM, when it was.
    scim_document    TEXT,
    -- SCIM meta.version: bumped on every change.
    version          BIGINT NOT NULL DEFAULT 1,
    created_ms       BIGINT NOT NULL,
    updated_ms       BIGINT NOT NULL,
    UNIQUE (directory_id, user_name_folded)
);

CREATE TABLE groups (
    id                  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    directory_id        TEXT COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    display_name        TEXT COLLATE "C" NOT NULL,
    display_name_folded TEXT COLLATE "C" NOT NULL,
    external_id         TEXT COLLATE "C",
    scim_document       TEXT,
    version             BIGINT NOT NULL DEFAULT 1,
    created_ms          BIGINT NOT NULL,
    updated_ms          BIGINT NOT NULL,
    UNIQUE (directory_id, display_name_folded)
);

-- A member is a user or a nested group (exactly one column is set), of the
-- same directory as the group.
CREATE TABLE group_members (
    group_id        TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_user_id  TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    member_group_id TEXT COLLATE "C" REFERENCES groups (id) ON DELETE CASCADE,
    CHECK ((member_user_id IS NULL) <> (member_group_id IS NULL))
);

CREATE UNIQUE INDEX group_members_user ON group_members (group_id, member_user_id)
    WHERE member_user_id IS NOT NULL;
CREATE UNIQUE INDEX group_members_group ON group_members (group_id, member_group_id)
    WHERE member_group_id IS NOT NULL;
CREATE INDEX group_members_by_user ON group_members (member_user_id)
    WHERE member_user_id IS NOT NULL;
CREATE INDEX group_members_by_group ON group_members (member_group_id)
    WHERE member_group_id IS NOT NULL;
CREATE INDEX group_members_by_group_id ON group_members (group_id);

-- (group or user) -> role at a scope. `scope_key` is the canonical form of
-- the scope ('' for a single account or a whole organization; the JSON array
-- of the sorted account ids for chosen accounts) so that the same assignment
-- is never stored twice.
CREATE TABLE role_assignments (
    id                    BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    directory_id          TEXT COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    subject_group_id      TEXT COLLATE "C" REFERENCES groups (id) ON DELETE CASCADE,
    subject_user_id       TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    role_name             TEXT COLLATE "C" NOT NULL REFERENCES roles (name) ON UPDATE CASCADE,
    scope_kind            TEXT COLLATE "C" NOT NULL
                          CHECK (scope_kind IN ('account', 'organization', 'organization_accounts')),
    scope_account_id      TEXT COLLATE "C" REFERENCES accounts (id),
    scope_organization_id TEXT COLLATE "C" REFERENCES organizations (id),
    scope_key             TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_ms            BIGINT NOT NULL,
    CHECK ((subject_group_id IS NULL) <> (subject_user_id IS NULL)),
    CHECK (
        (scope_kind = 'account'
            AND scope_account_id IS NOT NULL AND scope_organization_id IS NULL AND scope_key = '')
        OR (scope_kind = 'organization'
            AND scope_account_id IS NULL AND scope_organization_id IS NOT NULL AND scope_key = '')
        OR (scope_kind = 'organization_accounts'
            AND scope_account_id IS NULL AND scope_organization_id IS NOT NULL AND scope_key <> '')
    )
);

CREATE UNIQUE INDEX role_assignments_unique ON role_assignments (
    directory_id,
    coalesce(subject_group_id, ''),
    coalesce(subject_user_id, ''),
    role_name,
    scope_kind,
    coalesce(scope_account_id, ''),
    coalesce(scope_organization_id, ''),
    scope_key
);
CREATE INDEX role_assignments_by_group ON role_assignments (subject_group_id)
    WHERE subject_group_id IS NOT NULL;
CREATE INDEX role_assignments_by_user ON role_assignments (subject_user_id)
    WHERE subject_user_id IS NOT NULL;
CREATE INDEX role_assignments_by_role ON role_assignments (role_name);

-- The chosen accounts of an `organization_accounts` scope.
CREATE TABLE role_assignment_accounts (
    assignment_id BIGINT NOT NULL REFERENCES role_assignments (id) ON DELETE CASCADE,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (assignment_id, account_id)
);

CREATE INDEX role_assignment_accounts_by_account ON role_assignment_accounts (account_id);

-- The global revision: one row, bumped by one on every acknowledged write,
-- and the lock every write transaction takes first.
CREATE TABLE revision (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL CHECK (value >= 0)
);

INSERT INTO revision (id, value) VALUES (1, 0);

-- One row per revision: what the write did, for sidecars and operators.
CREATE TABLE change_log (
    revision BIGINT NOT NULL PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    kind     TEXT   NOT NULL,
    -- JSON
    detail   TEXT   NOT NULL
);

-- Each user's email addresses, folded, for `emails eq "..."` filters. Kept in
-- step with `users.emails` by every write of a user (SCIM and data files).
CREATE TABLE user_emails (
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    directory_id TEXT COLLATE "C" NOT NULL,
    value_folded TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, value_folded)
);

CREATE INDEX user_emails_by_value ON user_emails (directory_id, value_folded);

-- SCIM lookups and listings: by externalId, and in creation order.
CREATE INDEX users_by_external_id ON users (directory_id, external_id, created_ms, id)
    WHERE external_id IS NOT NULL;
CREATE INDEX groups_by_external_id ON groups (directory_id, external_id, created_ms, id)
    WHERE external_id IS NOT NULL;
CREATE INDEX users_by_creation ON users (directory_id, created_ms, id);
CREATE INDEX groups_by_creation ON groups (directory_id, created_ms, id);

-- Recent SCIM requests and their outcome, for operators. Not part of the
-- decision: no revision, no foreign keys (an entry outlives what it names).
-- Bounded by rolecall: the oldest entries of a directory go first.
CREATE TABLE sync_log (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at_ms        BIGINT  NOT NULL,
    -- NULL when the request could not be tied to a directory (bad token).
    directory_id TEXT COLLATE "C",
    token_id     TEXT COLLATE "C",
    method       TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    scim_type    TEXT,
    detail       TEXT,
    latency_us   BIGINT  NOT NULL,
    user_agent   TEXT,
    -- JSON
    changes      TEXT,
    revision     BIGINT
);

CREATE INDEX sync_log_by_directory ON sync_log (directory_id, id);

-- Every admin write, in the transaction of the write: who (the admin
-- credential's id, never its secret), what, on which resource, the resource
-- before and after (JSON; NULL for a creation or a deletion), and the
-- revision the write made. No foreign keys (an entry outlives what it names).
CREATE TABLE audit_log (
    id       BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    actor    TEXT   NOT NULL,
    action   TEXT COLLATE "C" NOT NULL,
    target   TEXT COLLATE "C" NOT NULL,
    before   TEXT,
    after    TEXT,
    revision BIGINT
);

CREATE INDEX audit_log_by_action ON audit_log (action, id);
CREATE INDEX audit_log_by_target ON audit_log (target, id);
