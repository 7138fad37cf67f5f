//! [`Delta`] ↔ `rolecall.v1.StateDelta`, and a whole [`State`] as the delta
//! from nothing (how a full snapshot travels and is cached).

use crate::model::{
    Account, AccountId, Delta, Directory, DirectoryId, Edit, Group, GroupEdges, GroupId, Mode,
    Organization, OrganizationId, Owner, PermissionPattern, Role, RoleAssignment, RoleName, Scope,
    State, Subject, User, UserEdges, UserId, group_edges, user_edges,
};
use crate::pb::v1 as pb;

/// A message from the store that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} in a snapshot or delta: {detail}")]
pub struct DecodeError {
    pub what: &'static str,
    pub detail: String,
}

fn bad(what: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError {
        what,
        detail: detail.into(),
    }
}

/// The whole state as the delta that builds it from nothing.
pub fn full_delta(state: &State) -> Delta {
    Delta {
        from: 0,
        revision: state.revision,
        organizations: state.organizations.iter().cloned().map(Edit::Put).collect(),
        accounts: state.accounts.iter().cloned().map(Edit::Put).collect(),
        directories: state.directories.iter().cloned().map(Edit::Put).collect(),
        roles: state.roles.iter().cloned().map(Edit::Put).collect(),
        users: user_edges(state).into_iter().map(Edit::Put).collect(),
        groups: group_edges(state).into_iter().map(Edit::Put).collect(),
    }
}

/// The state a full delta (one from revision 0) describes.
pub fn state_of_full(delta: &Delta) -> State {
    let mut state = State::default();
    state.apply(delta);
    state
}

// --- to the wire ---

fn assignments(list: &[RoleAssignment]) -> Vec<pb::AssignmentRecord> {
    list.iter()
        .map(|ra| pb::AssignmentRecord {
            role: ra.role.to_string(),
            scope: Some(crate::grpc::convert::scope(&ra.scope)),
        })
        .collect()
}

fn ids<T: AsRef<str>>(list: &[T]) -> Vec<String> {
    list.iter().map(|x| x.as_ref().to_owned()).collect()
}

pub fn encode(delta: &Delta) -> pb::StateDelta {
    pb::StateDelta {
        from_revision: delta.from,
        revision: delta.revision,
        organizations: delta
            .organizations
            .iter()
            .map(|e| match e {
                Edit::Put(o) => pb::OrganizationEdit {
                    id: o.id.to_string(),
                    record: Some(pb::OrganizationRecord {
                        name: o.name.clone(),
                    }),
                },
                Edit::Delete(id) => pb::OrganizationEdit {
                    id: id.to_string(),
                    record: None,
                },
            })
            .collect(),
        accounts: delta
            .accounts
            .iter()
            .map(|e| match e {
                Edit::Put(a) => pb::AccountEdit {
                    id: a.id.to_string(),
                    record: Some(pb::AccountRecord {
                        name: a.name.clone(),
                        organization: a
                            .organization
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    }),
                },
                Edit::Delete(id) => pb::AccountEdit {
                    id: id.to_string(),
                    record: None,
                },
            })
            .collect(),
        directories: delta
            .directories
            .iter()
            .map(|e| match e {
                Edit::Put(d) => pb::DirectoryEdit {
                    id: d.id.to_string(),
                    record: Some(pb::DirectoryRecord {
                        owner: Some(match &d.owner {
                            Owner::Organization(o) => {
                                pb::directory_record::Owner::Organization(o.to_string())
                            }
                            Owner::Account(a) => {
                                pb::directory_record::Owner::Account(a.to_string())
                            }
                        }),
                        domains: d.domains.clone(),
                        mode: match d.mode {
                            Mode::Dashboard => pb::RoleAssignmentMode::Dashboard,
                            Mode::Saml => pb::RoleAssignmentMode::Saml,
                        } as i32,
                    }),
                },
                Edit::Delete(id) => pb::DirectoryEdit {
                    id: id.to_string(),
                    record: None,
                },
            })
            .collect(),
        roles: delta
            .roles
            .iter()
            .map(|e| match e {
                Edit::Put(r) => pb::RoleEdit {
                    name: r.name.to_string(),
                    record: Some(pb::RoleRecord {
                        description: r.description.clone(),
                        permissions: r.permissions.iter().map(ToString::to_string).collect(),
                    }),
                },
                Edit::Delete(name) => pb::RoleEdit {
                    name: name.to_string(),
                    record: None,
                },
            })
            .collect(),
        users: delta
            .users
            .iter()
            .map(|e| match e {
                Edit::Put(u) => pb::UserEdit {
                    id: u.user.id.to_string(),
                    record: Some(pb::UserRecord {
                        directory: u.user.directory.to_string(),
                        user_name: u.user.user_name.clone(),
                        active: u.user.active,
                        groups: ids(&u.groups),
                        role_assignments: assignments(&u.role_assignments),
                    }),
                },
                Edit::Delete(id) => pb::UserEdit {
                    id: id.to_string(),
                    record: None,
                },
            })
            .collect(),
        groups: delta
            .groups
            .iter()
            .map(|e| match e {
                Edit::Put(g) => pb::GroupEdit {
                    id: g.group.id.to_string(),
                    record: Some(pb::GroupRecord {
                        directory: g.group.directory.to_string(),
                        display_name: g.group.display_name.clone(),
                        parents: ids(&g.parents),
                        role_assignments: assignments(&g.role_assignments),
                    }),
                },
                Edit::Delete(id) => pb::GroupEdit {
                    id: id.to_string(),
                    record: None,
                },
            })
            .collect(),
    }
}

// --- from the wire ---

fn scope(s: Option<pb::Scope>) -> Result<Scope, DecodeError> {
    match s.and_then(|s| s.kind) {
        Some(pb::scope::Kind::Account(a)) => Ok(Scope::Account(AccountId::new_unchecked(a))),
        Some(pb::scope::Kind::Organization(o)) => {
            Ok(Scope::Organization(OrganizationId::new_unchecked(o)))
        }
        Some(pb::scope::Kind::OrganizationAccounts(oa)) => Ok(Scope::OrganizationAccounts {
            organization: OrganizationId::new_unchecked(oa.organization),
            accounts: oa
                .accounts
                .into_iter()
                .map(AccountId::new_unchecked)
                .collect(),
        }),
        None => Err(bad("role assignment", "a role assignment without a scope")),
    }
}

fn decode_assignments(
    list: Vec<pb::AssignmentRecord>,
    directory: &DirectoryId,
    subject: &Subject,
) -> Result<Vec<RoleAssignment>, DecodeError> {
    list.into_iter()
        .map(|a| {
            Ok(RoleAssignment {
                directory: directory.clone(),
                subject: subject.clone(),
                role: RoleName::new_unchecked(a.role),
                scope: scope(a.scope)?,
            })
        })
        .collect()
}

fn edit<K, V, R>(
    id: String,
    record: Option<R>,
    key: impl Fn(String) -> K,
    value: impl FnOnce(String, R) -> Result<V, DecodeError>,
) -> Result<Edit<K, V>, DecodeError> {
    if id.is_empty() {
        return Err(bad("edit", "an entity without an id"));
    }
    match record {
        Some(r) => Ok(Edit::Put(value(id, r)?)),
        None => Ok(Edit::Delete(key(id))),
    }
}

pub fn decode(msg: pb::StateDelta) -> Result<Delta, DecodeError> {
    Ok(Delta {
        from: msg.from_revision,
        revision: msg.revision,
        organizations: msg
            .organizations
            .into_iter()
            .map(|e| {
                edit(e.id, e.record, OrganizationId::new_unchecked, |id, r| {
                    Ok(Organization {
                        id: OrganizationId::new_unchecked(id),
                        name: r.name,
                    })
                })
            })
            .collect::<Result<_, _>>()?,
        accounts: msg
            .accounts
            .into_iter()
            .map(|e| {
                edit(e.id, e.record, AccountId::new_unchecked, |id, r| {
                    Ok(Account {
                        id: AccountId::new_unchecked(id),
                        name: r.name,
                        organization: (!r.organization.is_empty())
                            .then(|| OrganizationId::new_unchecked(r.organization)),
                    })
                })
            })
            .collect::<Result<_, _>>()?,
        directories: msg
            .directories
            .into_iter()
            .map(|e| {
                edit(e.id, e.record, DirectoryId::new_unchecked, |id, r| {
                    let owner = match r.owner {
                        Some(pb::directory_record::Owner::Organization(o)) => {
                            Owner::Organization(OrganizationId::new_unchecked(o))
                        }
                        Some(pb::directory_record::Owner::Account(a)) => {
                            Owner::Account(AccountId::new_unchecked(a))
                        }
                        None => return Err(bad("directory", format!("`{id}` has no owner"))),
                    };
                    let mode = match pb::RoleAssignmentMode::try_from(r.mode) {
                        Ok(pb::RoleAssignmentMode::Dashboard) => Mode::Dashboard,
                        Ok(pb::RoleAssignmentMode::Saml) => Mode::Saml,
                        _ => return Err(bad("directory", format!("`{id}` has no known mode"))),
                    };
                    Ok(Directory {
                        id: DirectoryId::new_unchecked(id),
                        owner,
                        domains: r.domains,
                        mode,
                    })
                })
            })
            .collect::<Result<_, _>>()?,
        roles: msg
            .roles
            .into_iter()
            .map(|e| {
                edit(e.name, e.record, RoleName::new_unchecked, |name, r| {
                    let permissions = r
                        .permissions
                        .iter()
                        .map(|p| {
                            PermissionPattern::parse(p)
                                .map_err(|e| bad("role", format!("`{name}` grants `{p}`: {e}")))
                        })
                        .collect::<Result<_, _>>()?;
                    Ok(Role {
                        name: RoleName::new_unchecked(name),
                        description: r.description,
                        permissions,
                    })
                })
            })
            .collect::<Result<_, _>>()?,
        users: msg
            .users
            .into_iter()
            .map(|e| {
                edit(e.id, e.record, UserId::new_unchecked, |id, r| {
                    let id = UserId::new_unchecked(id);
                    let directory = DirectoryId::new_unchecked(r.directory);
                    let subject = Subject::User(id.clone());
                    Ok(UserEdges {
                        groups: r.groups.into_iter().map(GroupId::new_unchecked).collect(),
                        role_assignments: decode_assignments(
                            r.role_assignments,
                            &directory,
                            &subject,
                        )?,
                        user: User {
                            id,
                            directory,
                            user_name: r.user_name,
                            active: r.active,
                        },
                    })
                })
            })
            .collect::<Result<_, _>>()?,
        groups: msg
            .groups
            .into_iter()
            .map(|e| {
                edit(e.id, e.record, GroupId::new_unchecked, |id, r| {
                    let id = GroupId::new_unchecked(id);
                    let directory = DirectoryId::new_unchecked(r.directory);
                    let subject = Subject::Group(id.clone());
                    Ok(GroupEdges {
                        parents: r.parents.into_iter().map(GroupId::new_unchecked).collect(),
                        role_assignments: decode_assignments(
                            r.role_assignments,
                            &directory,
                            &subject,
                        )?,
                        group: Group {
                            id,
                            directory,
                            display_name: r.display_name,
                        },
                    })
                })
            })
            .collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datafile::{DataFile, Format};
    use crate::store::{DEMO_DATA, Store, sqlite::SqliteStore};

    #[tokio::test]
    async fn a_state_survives_the_wire() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let demo = DataFile::parse(DEMO_DATA, Format::Yaml, "demo.yaml").unwrap();
        store.import(&demo).await.unwrap();
        let state = store.load_state().await.unwrap();
        assert!(!state.memberships.is_empty() && !state.role_assignments.is_empty());
        let full = full_delta(&state);
        let back = state_of_full(&decode(encode(&full)).unwrap());
        assert_eq!(full_delta(&back), full);
        let (a, b) = (
            crate::snapshot::build(&state).unwrap(),
            crate::snapshot::build(&back).unwrap(),
        );
        assert_eq!(a.stats(), b.stats());
    }

    #[test]
    fn deletes_and_bad_records_decode_as_they_should() {
        let msg = pb::StateDelta {
            from_revision: 4,
            revision: 7,
            users: vec![pb::UserEdit {
                id: "u1".into(),
                record: None,
            }],
            ..Default::default()
        };
        let d = decode(msg).unwrap();
        assert_eq!(d.users, vec![Edit::Delete(UserId::new_unchecked("u1"))]);
        let no_scope = pb::StateDelta {
            groups: vec![pb::GroupEdit {
                id: "g".into(),
                record: Some(pb::GroupRecord {
                    directory: "d".into(),
                    display_name: "G".into(),
                    parents: vec![],
                    role_assignments: vec![pb::AssignmentRecord {
                        role: "r".into(),
                        scope: None,
                    }],
                }),
            }],
            ..Default::default()
        };
        assert!(decode(no_scope).is_err());
        let bad_permission = pb::StateDelta {
            roles: vec![pb::RoleEdit {
                name: "r".into(),
                record: Some(pb::RoleRecord {
                    description: String::new(),
                    permissions: vec!["Not A Permission".into()],
                }),
            }],
            ..Default::default()
        };
        let e = decode(bad_permission).unwrap_err();
        assert!(e.to_string().contains("Not A Permission"), "{e}");
    }
}
