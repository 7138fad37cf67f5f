//! Preview of a role-assignment change, without writing: apply the proposed
//! list to a copy of the state, compile both snapshots, and diff what every
//! affected user holds on every account the directory governs. Pure: the
//! handler loads the state and runs this off the async runtime.
//!
//! The store has no dry run, so [`validate`] repeats the checks
//! `Store::set_role_assignments` makes (subject, roles, scopes governed by the
//! directory, accounts inside the organization, `saml` mode for groups) with
//! the same kind of messages; the PUT stays the authority.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::error::AdminError;
use super::types::{PermissionChange, UserRef};
use crate::engine;
use crate::model::{
    AccountId, DirectoryId, GroupId, Member, Mode, Owner, RoleAssignment, Scope, State, Subject,
    UserId,
};
use crate::snapshot::Snapshot;
use crate::store::admin::{AssignmentSpec, SubjectId};

/// The model subject of a store subject.
pub fn subject(s: &SubjectId) -> Subject {
    match s {
        SubjectId::Group(g) => Subject::Group(GroupId::new_unchecked(g.clone())),
        SubjectId::User(u) => Subject::User(UserId::new_unchecked(u.clone())),
    }
}

/// Checks the proposal against `state` as the store would.
pub fn validate(
    state: &State,
    dir: &DirectoryId,
    who: &SubjectId,
    specs: &[AssignmentSpec],
) -> Result<(), AdminError> {
    let Some(directory) = state.directories.iter().find(|d| &d.id == dir) else {
        return Err(AdminError::missing("directory", dir.as_str()));
    };
    match who {
        SubjectId::Group(g) => {
            if !state
                .groups
                .iter()
                .any(|x| x.id.as_str() == g && &x.directory == dir)
            {
                return Err(AdminError::missing("group", g));
            }
            // Clearing a group's assignments is allowed in `saml` mode too.
            if directory.mode == Mode::Saml && !specs.is_empty() {
                return Err(saml_refusal(dir));
            }
        }
        SubjectId::User(u) => {
            if !state
                .users
                .iter()
                .any(|x| x.id.as_str() == u && &x.directory == dir)
            {
                return Err(AdminError::missing("user", u));
            }
        }
    }
    let org_of: HashMap<&AccountId, Option<&crate::model::OrganizationId>> = state
        .accounts
        .iter()
        .map(|a| (&a.id, a.organization.as_ref()))
        .collect();
    for (i, spec) in specs.iter().enumerate() {
        let field = format!("role_assignments[{i}]");
        if !state.roles.iter().any(|r| r.name == spec.role) {
            return Err(AdminError::invalid(
                format!("{field}.role"),
                format!(
                    "role `{}` does not exist: create it first, or fix the name",
                    spec.role
                ),
            ));
        }
        let scope_field = format!("{field}.scope");
        match &spec.scope {
            Scope::Account(a) => {
                if !org_of.contains_key(a) {
                    return Err(AdminError::invalid(
                        format!("{scope_field}.account"),
                        format!("account `{a}` does not exist"),
                    ));
                }
            }
            Scope::Organization(o)
            | Scope::OrganizationAccounts {
                organization: o, ..
            } => {
                if !state.organizations.iter().any(|x| &x.id == o) {
                    return Err(AdminError::invalid(
                        format!("{scope_field}.organization"),
                        format!("organization `{o}` does not exist"),
                    ));
                }
            }
        }
        if let Scope::OrganizationAccounts {
            organization,
            accounts,
        } = &spec.scope
        {
            let mut outside = Vec::new();
            for (k, a) in accounts.iter().enumerate() {
                match org_of.get(a) {
                    None => {
                        return Err(AdminError::invalid(
                            format!("{scope_field}.accounts[{k}]"),
                            format!("account `{a}` does not exist"),
                        ));
                    }
                    Some(o) if *o != Some(organization) => outside.push(format!("`{a}`")),
                    Some(_) => {}
                }
            }
            if !outside.is_empty() {
                let (these, are) = if outside.len() == 1 {
                    ("account", "is")
                } else {
                    ("accounts", "are")
                };
                return Err(AdminError::invalid(
                    format!("{scope_field}.accounts"),
                    format!(
                        "{these} {} {are} not in organization `{organization}`: remove them from `accounts`, or fix `organization`",
                        outside.join(", ")
                    ),
                ));
            }
        }
        let governed = match (&directory.owner, &spec.scope) {
            (Owner::Organization(org), Scope::Account(a)) => org_of.get(a) == Some(&Some(org)),
            (
                Owner::Organization(org),
                Scope::Organization(o)
                | Scope::OrganizationAccounts {
                    organization: o, ..
                },
            ) => o == org,
            (Owner::Account(acct), Scope::Account(a)) => a == acct,
            (Owner::Account(_), _) => false,
        };
        if !governed {
            let message = match &directory.owner {
                Owner::Organization(org) => format!(
                    "directory `{dir}` governs organization `{org}` and its accounts only: scope the role to `{org}` or its accounts"
                ),
                Owner::Account(acct) => format!(
                    "directory `{dir}` belongs to account `{acct}` and assigns roles on that account only: use {{\"account\":\"{acct}\"}}"
                ),
            };
            return Err(AdminError::invalid(scope_field, message));
        }
    }
    Ok(())
}

/// The refusal of a group assignment in a `saml` directory.
pub fn saml_refusal(dir: &DirectoryId) -> AdminError {
    AdminError::precondition(format!(
        "directory `{dir}` takes roles from SAML (role-assignment mode `saml`): group role assignments do not apply; \
         switch the directory to dashboard-based roles (PATCH /admin/v1/directories/{dir} {{\"mode\":\"dashboard\"}}) to assign roles to groups"
    ))
    .with_field("role_assignments")
}

/// `state` with the subject's assignments replaced by `specs`.
pub fn apply(state: &State, dir: &DirectoryId, who: &SubjectId, specs: &[AssignmentSpec]) -> State {
    let subject = subject(who);
    let mut next = state.clone();
    next.role_assignments
        .retain(|a| !(&a.directory == dir && a.subject == subject));
    next.role_assignments
        .extend(specs.iter().map(|s| RoleAssignment {
            directory: dir.clone(),
            subject: subject.clone(),
            role: s.role.clone(),
            scope: s.scope.clone(),
        }));
    next
}

/// The users a change to `who` can affect: the user, or every user of the
/// group through nested groups (cycles stop at a visited set); by id.
pub fn affected_users(state: &State, dir: &DirectoryId, who: &SubjectId) -> Vec<UserId> {
    match who {
        SubjectId::User(u) => vec![UserId::new_unchecked(u.clone())],
        SubjectId::Group(g) => {
            let in_dir: HashSet<&str> = state
                .groups
                .iter()
                .filter(|x| &x.directory == dir)
                .map(|x| x.id.as_str())
                .collect();
            let mut members: HashMap<&str, Vec<&Member>> = HashMap::new();
            for m in &state.memberships {
                if in_dir.contains(m.group.as_str()) {
                    members.entry(m.group.as_str()).or_default().push(&m.member);
                }
            }
            let mut visited: HashSet<&str> = HashSet::new();
            let mut users: BTreeSet<&UserId> = BTreeSet::new();
            let mut stack = vec![g.as_str()];
            while let Some(group) = stack.pop() {
                if !visited.insert(group) {
                    continue;
                }
                for m in members.get(group).into_iter().flatten() {
                    match m {
                        Member::User(u) => {
                            users.insert(u);
                        }
                        Member::Group(n) => stack.push(n.as_str()),
                    }
                }
            }
            users.into_iter().cloned().collect()
        }
    }
}

/// The accounts `dir` governs, sorted.
pub fn governed_accounts(state: &State, dir: &DirectoryId) -> Vec<AccountId> {
    let Some(d) = state.directories.iter().find(|d| &d.id == dir) else {
        return Vec::new();
    };
    let mut out: Vec<AccountId> = match &d.owner {
        Owner::Organization(o) => state
            .accounts
            .iter()
            .filter(|a| a.organization.as_ref() == Some(o))
            .map(|a| a.id.clone())
            .collect(),
        Owner::Account(a) => vec![a.clone()],
    };
    out.sort();
    out
}

/// Who gains and loses what, from `before` to `after`, for `users` (ids of
/// directory `dir`) on `accounts`: non-empty changes, by userName then account.
pub fn diff(
    state: &State,
    before: &Snapshot,
    after: &Snapshot,
    users: &[UserId],
    accounts: &[AccountId],
) -> Vec<PermissionChange> {
    let names: HashMap<&UserId, &str> = state
        .users
        .iter()
        .map(|u| (&u.id, u.user_name.as_str()))
        .collect();
    let mut out = Vec::new();
    for user in users {
        for account in accounts {
            let was: BTreeSet<String> =
                engine::list_permissions(before, user.as_str(), account.as_str())
                    .into_iter()
                    .map(ToString::to_string)
                    .collect();
            let now: BTreeSet<String> =
                engine::list_permissions(after, user.as_str(), account.as_str())
                    .into_iter()
                    .map(ToString::to_string)
                    .collect();
            if was == now {
                continue;
            }
            out.push(PermissionChange {
                user: UserRef {
                    id: user.to_string(),
                    user_name: names.get(user).copied().unwrap_or_default().to_owned(),
                },
                account: account.to_string(),
                gained: now.difference(&was).cloned().collect(),
                lost: was.difference(&now).cloned().collect(),
            });
        }
    }
    out.sort_by(|a, b| {
        (
            a.user.user_name.as_str(),
            a.user.id.as_str(),
            a.account.as_str(),
        )
            .cmp(&(
                b.user.user_name.as_str(),
                b.user.id.as_str(),
                b.account.as_str(),
            ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Account, Directory, Group, Membership, Organization, OrganizationId, PermissionPattern,
        Role, RoleName, User,
    };
    use crate::snapshot;

    fn state() -> State {
        let org = OrganizationId::new_unchecked("org");
        let dir = DirectoryId::new_unchecked("dir");
        let acct = |id: &str| Account {
            id: AccountId::new_unchecked(id),
            name: id.into(),
            organization: Some(org.clone()),
        };
        let user = |id: &str| User {
            id: UserId::new_unchecked(id),
            directory: dir.clone(),
            user_name: format!("{id}@x.example"),
            active: true,
        };
        let group = |id: &str| Group {
            id: GroupId::new_unchecked(id),
            directory: dir.clone(),
            display_name: id.into(),
        };
        let member = |g: &str, m: Member| Membership {
            group: GroupId::new_unchecked(g),
            member: m,
        };
        State {
            revision: 7,
            organizations: vec![Organization {
                id: org.clone(),
                name: "Org".into(),
            }],
            accounts: vec![acct("a1"), acct("a2")],
            directories: vec![Directory {
                id: dir.clone(),
                owner: Owner::Organization(org.clone()),
                domains: vec!["x.example".into()],
                mode: Mode::Dashboard,
            }],
            roles: vec![
                Role {
                    name: RoleName::new_unchecked("reader"),
                    description: String::new(),
                    permissions: vec![PermissionPattern::parse("charges.read").unwrap()],
                },
                Role {
                    name: RoleName::new_unchecked("refunder"),
                    description: String::new(),
                    permissions: vec![PermissionPattern::parse("refunds.*").unwrap()],
                },
            ],
            users: vec![user("u1"), user("u2"), user("u3")],
            groups: vec![group("g1"), group("g2")],
            // g1 ⊃ {u1, g2}; g2 ⊃ {u2, g1} (a cycle); u3 outside.
            memberships: vec![
                member("g1", Member::User(UserId::new_unchecked("u1"))),
                member("g1", Member::Group(GroupId::new_unchecked("g2"))),
                member("g2", Member::User(UserId::new_unchecked("u2"))),
                member("g2", Member::Group(GroupId::new_unchecked("g1"))),
            ],
            role_assignments: vec![RoleAssignment {
                directory: dir.clone(),
                subject: Subject::Group(GroupId::new_unchecked("g1")),
                role: RoleName::new_unchecked("reader"),
                scope: Scope::Organization(org),
            }],
        }
    }

    #[test]
    fn diffs_the_proposal() {
        let s = state();
        let dir = DirectoryId::new_unchecked("dir");
        let who = SubjectId::Group("g1".into());
        let specs = vec![AssignmentSpec {
            role: RoleName::new_unchecked("refunder"),
            scope: Scope::Account(AccountId::new_unchecked("a2")),
        }];
        validate(&s, &dir, &who, &specs).unwrap();
        let users = affected_users(&s, &dir, &who);
        assert_eq!(users.len(), 2, "u1 and u2 through the cycle");
        let next = apply(&s, &dir, &who, &specs);
        let before = snapshot::build(&s).unwrap();
        let after = snapshot::build(&next).unwrap();
        let changes = diff(&s, &before, &after, &users, &governed_accounts(&s, &dir));
        let flat: Vec<_> = changes
            .iter()
            .map(|c| {
                (
                    c.user.id.as_str(),
                    c.account.as_str(),
                    c.gained.clone(),
                    c.lost.clone(),
                )
            })
            .collect();
        assert_eq!(
            flat,
            vec![
                ("u1", "a1", vec![], vec!["charges.read".to_owned()]),
                (
                    "u1",
                    "a2",
                    vec!["refunds.*".to_owned()],
                    vec!["charges.read".to_owned()]
                ),
                ("u2", "a1", vec![], vec!["charges.read".to_owned()]),
                (
                    "u2",
                    "a2",
                    vec!["refunds.*".to_owned()],
                    vec!["charges.read".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn validates_like_the_store() {
        let s = state();
        let dir = DirectoryId::new_unchecked("dir");
        let who = SubjectId::Group("g1".into());
        let bad_role = vec![AssignmentSpec {
            role: RoleName::new_unchecked("nope"),
            scope: Scope::Account(AccountId::new_unchecked("a1")),
        }];
        let e = validate(&s, &dir, &who, &bad_role).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("role_assignments[0].role"));
        let e = validate(&s, &dir, &SubjectId::Group("nope".into()), &[]).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::NOT_FOUND);
        let mut saml = s.clone();
        saml.directories[0].mode = Mode::Saml;
        let e = validate(&saml, &dir, &who, &bad_role).unwrap_err();
        assert!(e.message.contains("SAML"), "{e:?}");
        validate(&saml, &dir, &who, &[]).unwrap();
        validate(&saml, &dir, &SubjectId::User("u3".into()), &[]).unwrap();
    }
}
