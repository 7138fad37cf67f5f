-- rolecall schema for PostgreSQL, version 2 (SQLite's 0004): which entities
-- each revision touched, so a sidecar that is behind can be sent only what
-- changed (`Store::delta`).
--
-- Triggers on every table the decision reads record the touched entity in
-- `change_keys` with revision 0 while the write is in flight (once: ON
-- CONFLICT DO NOTHING); bumping the revision (always the last statement of a
-- write) stamps them with the new revision. Writers hold the revision row
-- lock from their first statement, so only one write at a time has keys at
-- revision 0. Memberships and role assignments belong to their member or
-- subject: a user carries the groups it is a direct member of and its role
-- assignments; a group carries its parent groups and its role assignments.
-- Keys older than the horizon are pruned: a sidecar behind it is sent the
-- whole state.

CREATE TABLE change_keys (
    -- 0 while the write is in flight.
    revision BIGINT NOT NULL,
    kind     TEXT COLLATE "C" NOT NULL
             CHECK (kind IN ('organization', 'account', 'directory', 'role', 'user', 'group')),
    key      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (revision, kind, key)
);

-- Keys of revisions up to and including `value` have been pruned (or predate
-- this table): `Store::delta` cannot start below it.
CREATE TABLE change_keys_horizon (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL CHECK (value >= 0)
);

INSERT INTO change_keys_horizon (id, value) SELECT 1, value FROM revision WHERE id = 1;

CREATE FUNCTION change_keys_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_keys SET revision = NEW.value WHERE revision = 0;
    RETURN NULL;
END;
$$;

CREATE TRIGGER change_keys_stamp AFTER UPDATE OF value ON revision
    FOR EACH ROW EXECUTE FUNCTION change_keys_stamp();

-- Records the entities a row names. Arguments: pairs of (kind, column); the
-- old row's and the new row's values are both recorded (NULLs skipped).
CREATE FUNCTION change_keys_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i   INTEGER := 0;
    key TEXT;
BEGIN
    WHILE i < TG_NARGS LOOP
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            key := to_jsonb(OLD) ->> TG_ARGV[i + 1];
            IF key IS NOT NULL THEN
                INSERT INTO change_keys (revision, kind, key) VALUES (0, TG_ARGV[i], key)
                    ON CONFLICT DO NOTHING;
            END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            key := to_jsonb(NEW) ->> TG_ARGV[i + 1];
            IF key IS NOT NULL THEN
                INSERT INTO change_keys (revision, kind, key) VALUES (0, TG_ARGV[i], key)
                    ON CONFLICT DO NOTHING;
            END IF;
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER change_keys_organizations
    AFTER INSERT OR UPDATE OF name OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION change_keys_record('organization', 'id');

CREATE TRIGGER change_keys_accounts
    AFTER INSERT OR UPDATE OF name, organization_id OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION change_keys_record('account', 'id');

CREATE TRIGGER change_keys_directories
    AFTER INSERT OR UPDATE OF owner_organization_id, owner_account_id, mode OR DELETE ON directories
    FOR EACH ROW EXECUTE FUNCTION change_keys_record('directory', 'id');

CREATE TRIGGER change_keys_directory_domains
    AFTER INSERT OR UPDATE OR DELETE ON directory_domains
    FOR EACH ROW EXECUTE FUNCTION change_keys_record('directory', 'directory_id');

CREATE TRIGGER change_keys_roles
    AFTER INSERT OR UPDATE OF name, description OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION change_keys_record('role', 'name');

CREATE TRIGGER change_keys_role_permissions
    AFTER INSERT OR UPDATE OR DELETE ON role_permissions
    FOR EACH ROW EXECUTE FUNCTION change_keys_record('role', 'role_name');

CREATE TRIGGER change_keys_users
    AFTER INSERT OR UPDATE OF directory_id, user_name, active OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION change_keys_record('user', 'id');

CREATE TRIGGER change_keys_groups
    AFTER INSERT OR UPDATE OF directory_id, display_name OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION change_keys_record('group', 'id');

-- group_members: the member (user or nested group) owns the edge.
CREATE TRIGGER change_keys_group_members
    AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION
        change_keys_record('user', 'member_user_id', 'group', 'member_group_id');

-- role_assignments: the subject (user or group) owns the assignment.
CREATE TRIGGER change_keys_role_assignments
    AFTER INSERT OR UPDATE OR DELETE ON role_assignments
    FOR EACH ROW EXECUTE FUNCTION
        change_keys_record('user', 'subject_user_id', 'group', 'subject_group_id');
