-- rolecall schema, version 4: which entities each revision touched, so a
-- sidecar that is behind can be sent only what changed (`Store::delta`).
--
-- Triggers on every table the decision reads record the touched entity in
-- `change_keys` with revision 0 while the write is in flight (once: the
-- triggers check rather than rely on `OR IGNORE`, which an outer statement's
-- conflict clause would override); bumping the
-- revision (always the last statement of a write) stamps them with the new
-- revision. Memberships and role assignments belong to their member or
-- subject: a user carries the groups it is a direct member of and its role
-- assignments; a group carries its parent groups and its role assignments.
-- Keys older than the horizon are pruned: a sidecar behind it is sent the
-- whole state.

CREATE TABLE change_keys (
    -- 0 while the write is in flight.
    revision INTEGER NOT NULL,
    kind     TEXT    NOT NULL
             CHECK (kind IN ('organization', 'account', 'directory', 'role', 'user', 'group')),
    key      TEXT    NOT NULL,
    PRIMARY KEY (revision, kind, key)
) STRICT, WITHOUT ROWID;

-- Keys of revisions up to and including `value` have been pruned (or predate
-- this table): `Store::delta` cannot start below it.
CREATE TABLE change_keys_horizon (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL CHECK (value >= 0)
) STRICT;

INSERT INTO change_keys_horizon (id, value) SELECT 1, value FROM revision WHERE id = 1;

CREATE TRIGGER change_keys_stamp AFTER UPDATE OF value ON revision
BEGIN
    UPDATE change_keys SET revision = NEW.value WHERE revision = 0;
END;

-- organizations
CREATE TRIGGER change_keys_organizations_insert AFTER INSERT ON organizations
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'organization', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'organization' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_organizations_update AFTER UPDATE OF name ON organizations
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'organization', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'organization' AND key = OLD.id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'organization', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'organization' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_organizations_delete AFTER DELETE ON organizations
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'organization', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'organization' AND key = OLD.id);
END;

-- accounts
CREATE TRIGGER change_keys_accounts_insert AFTER INSERT ON accounts
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'account', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'account' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_accounts_update AFTER UPDATE OF name, organization_id ON accounts
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'account', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'account' AND key = OLD.id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'account', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'account' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_accounts_delete AFTER DELETE ON accounts
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'account', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'account' AND key = OLD.id);
END;

-- directories
CREATE TRIGGER change_keys_directories_insert AFTER INSERT ON directories
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'directory', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'directory' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_directories_update AFTER UPDATE OF owner_organization_id, owner_account_id, mode ON directories
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'directory', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'directory' AND key = OLD.id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'directory', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'directory' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_directories_delete AFTER DELETE ON directories
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'directory', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'directory' AND key = OLD.id);
END;

-- directory_domains
CREATE TRIGGER change_keys_directory_domains_insert AFTER INSERT ON directory_domains
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'directory', NEW.directory_id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'directory' AND key = NEW.directory_id);
END;
CREATE TRIGGER change_keys_directory_domains_update AFTER UPDATE ON directory_domains
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'directory', OLD.directory_id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'directory' AND key = OLD.directory_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'directory', NEW.directory_id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'directory' AND key = NEW.directory_id);
END;
CREATE TRIGGER change_keys_directory_domains_delete AFTER DELETE ON directory_domains
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'directory', OLD.directory_id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'directory' AND key = OLD.directory_id);
END;

-- roles
CREATE TRIGGER change_keys_roles_insert AFTER INSERT ON roles
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'role', NEW.name
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'role' AND key = NEW.name);
END;
CREATE TRIGGER change_keys_roles_update AFTER UPDATE OF name, description ON roles
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'role', OLD.name
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'role' AND key = OLD.name);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'role', NEW.name
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'role' AND key = NEW.name);
END;
CREATE TRIGGER change_keys_roles_delete AFTER DELETE ON roles
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'role', OLD.name
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'role' AND key = OLD.name);
END;

-- role_permissions
CREATE TRIGGER change_keys_role_permissions_insert AFTER INSERT ON role_permissions
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'role', NEW.role_name
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'role' AND key = NEW.role_name);
END;
CREATE TRIGGER change_keys_role_permissions_update AFTER UPDATE ON role_permissions
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'role', OLD.role_name
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'role' AND key = OLD.role_name);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'role', NEW.role_name
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'role' AND key = NEW.role_name);
END;
CREATE TRIGGER change_keys_role_permissions_delete AFTER DELETE ON role_permissions
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'role', OLD.role_name
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'role' AND key = OLD.role_name);
END;

-- users
CREATE TRIGGER change_keys_users_insert AFTER INSERT ON users
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_users_update AFTER UPDATE OF directory_id, user_name, active ON users
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = OLD.id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_users_delete AFTER DELETE ON users
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = OLD.id);
END;

-- groups
CREATE TRIGGER change_keys_groups_insert AFTER INSERT ON groups
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_groups_update AFTER UPDATE OF directory_id, display_name ON groups
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = OLD.id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', NEW.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = NEW.id);
END;
CREATE TRIGGER change_keys_groups_delete AFTER DELETE ON groups
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', OLD.id
        WHERE NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = OLD.id);
END;

-- group_members: the member (user or nested group) owns the edge
CREATE TRIGGER change_keys_group_members_insert AFTER INSERT ON group_members
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', NEW.member_user_id
        WHERE NEW.member_user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = NEW.member_user_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', NEW.member_group_id
        WHERE NEW.member_group_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = NEW.member_group_id);
END;
CREATE TRIGGER change_keys_group_members_update AFTER UPDATE ON group_members
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', OLD.member_user_id
        WHERE OLD.member_user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = OLD.member_user_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', OLD.member_group_id
        WHERE OLD.member_group_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = OLD.member_group_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', NEW.member_user_id
        WHERE NEW.member_user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = NEW.member_user_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', NEW.member_group_id
        WHERE NEW.member_group_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = NEW.member_group_id);
END;
CREATE TRIGGER change_keys_group_members_delete AFTER DELETE ON group_members
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', OLD.member_user_id
        WHERE OLD.member_user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = OLD.member_user_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', OLD.member_group_id
        WHERE OLD.member_group_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = OLD.member_group_id);
END;

-- role_assignments: the subject (user or group) owns the assignment
CREATE TRIGGER change_keys_role_assignments_insert AFTER INSERT ON role_assignments
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', NEW.subject_user_id
        WHERE NEW.subject_user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = NEW.subject_user_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', NEW.subject_group_id
        WHERE NEW.subject_group_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = NEW.subject_group_id);
END;
CREATE TRIGGER change_keys_role_assignments_update AFTER UPDATE ON role_assignments
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', OLD.subject_user_id
        WHERE OLD.subject_user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = OLD.subject_user_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', OLD.subject_group_id
        WHERE OLD.subject_group_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = OLD.subject_group_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', NEW.subject_user_id
        WHERE NEW.subject_user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = NEW.subject_user_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', NEW.subject_group_id
        WHERE NEW.subject_group_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = NEW.subject_group_id);
END;
CREATE TRIGGER change_keys_role_assignments_delete AFTER DELETE ON role_assignments
BEGIN
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'user', OLD.subject_user_id
        WHERE OLD.subject_user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'user' AND key = OLD.subject_user_id);
    INSERT INTO change_keys (revision, kind, key) SELECT 0, 'group', OLD.subject_group_id
        WHERE OLD.subject_group_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM change_keys WHERE revision = 0 AND kind = 'group' AND key = OLD.subject_group_id);
END;
