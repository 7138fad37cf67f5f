-- rolecall schema, version 2: what the SCIM service provider needs.
--
-- Same conventions as version 1: STRICT tables, TEXT ids, Unix milliseconds,
-- case-insensitive keys kept folded (by rolecall) in columns of their own.

-- 0 for a directory that accepts users of any email domain (test tenants).
ALTER TABLE directories ADD COLUMN enforce_domains INTEGER NOT NULL DEFAULT 1
    CHECK (enforce_domains IN (0, 1));

-- The first characters of the secret after `rcs_`, to tell tokens apart, and
-- when the token was last used (to the minute).
ALTER TABLE scim_tokens ADD COLUMN prefix TEXT;
ALTER TABLE scim_tokens ADD COLUMN last_used_ms INTEGER;

-- Each user's email addresses, folded, for `emails eq "..."` filters. Kept in
-- step with `users.emails` by every write of a user (SCIM and data files);
-- rows of users that existed before this version are filled in by rolecall
-- right after the migration.
CREATE TABLE user_emails (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    directory_id TEXT NOT NULL,
    value_folded TEXT NOT NULL,
    PRIMARY KEY (user_id, value_folded)
) STRICT, WITHOUT ROWID;

CREATE INDEX user_emails_by_value ON user_emails (directory_id, value_folded);

-- SCIM lookups and listings: by externalId, and in creation order (results
-- come in creation order, so the externalId indexes carry it too).
CREATE INDEX users_by_external_id ON users (directory_id, external_id, created_ms, id)
    WHERE external_id IS NOT NULL;
CREATE INDEX groups_by_external_id ON groups (directory_id, external_id, created_ms, id)
    WHERE external_id IS NOT NULL;
CREATE INDEX users_by_creation ON users (directory_id, created_ms, id);
CREATE INDEX groups_by_creation ON groups (directory_id, created_ms, id);

-- All members of a group at once (member counts, replacing the member list,
-- deleting a group): the indexes of version 1 each cover one kind of member.
CREATE INDEX group_members_by_group_id ON group_members (group_id);

-- Recent SCIM requests and their outcome, for operators. Not part of the
-- decision: no revision, no foreign keys (an entry outlives what it names).
-- Bounded by rolecall: the oldest entries of a directory go first.
CREATE TABLE sync_log (
    id           INTEGER NOT NULL PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    -- NULL when the request could not be tied to a directory (bad token).
    directory_id TEXT,
    token_id     TEXT,
    method       TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    scim_type    TEXT,
    detail       TEXT,
    latency_us   INTEGER NOT NULL,
    user_agent   TEXT,
    -- JSON
    changes      TEXT,
    revision     INTEGER
) STRICT;

CREATE INDEX sync_log_by_directory ON sync_log (directory_id, id);
