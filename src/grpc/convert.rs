//! Engine results → `rolecall.v1` messages.

use crate::engine::{Decision, DenyReason, GrantPath, Outcome, UserAccess, Via};
use crate::model::Scope;
use crate::pb::v1 as pb;

pub fn scope(scope: &Scope) -> pb::Scope {
    let kind = match scope {
        Scope::Account(a) => pb::scope::Kind::Account(a.to_string()),
        Scope::Organization(o) => pb::scope::Kind::Organization(o.to_string()),
        Scope::OrganizationAccounts {
            organization,
            accounts,
        } => pb::scope::Kind::OrganizationAccounts(pb::OrganizationAccounts {
            organization: organization.to_string(),
            accounts: accounts.iter().map(ToString::to_string).collect(),
        }),
    };
    pb::Scope { kind: Some(kind) }
}

pub fn grant(g: &GrantPath<'_>) -> pb::Grant {
    let (group, group_id, direct) = match g.via {
        Via::Direct => (String::new(), String::new(), true),
        Via::Group { id, display_name } => (display_name.to_owned(), id.to_owned(), false),
    };
    pb::Grant {
        group,
        group_id,
        direct,
        role: g.role.to_owned(),
        scope: Some(scope(g.scope)),
        matched_permission: g.matched.to_string(),
    }
}

pub fn deny_reason(r: DenyReason) -> pb::DenyReason {
    match r {
        DenyReason::UnknownAccount => pb::DenyReason::UnknownAccount,
        DenyReason::UnknownUser => pb::DenyReason::UnknownUser,
        DenyReason::InactiveUser => pb::DenyReason::InactiveUser,
        DenyReason::NoGrant => pb::DenyReason::NoGrant,
        DenyReason::SamlMode => pb::DenyReason::SamlMode,
    }
}

pub fn explanation(
    d: &Decision<'_>,
    user: &str,
    permission: &str,
    account: &str,
) -> pb::Explanation {
    let (grant_msg, reason) = match &d.outcome {
        Outcome::Allowed(g) => (Some(grant(g)), pb::DenyReason::Unspecified),
        Outcome::Denied(r) => (None, deny_reason(*r)),
    };
    pb::Explanation {
        grant: grant_msg,
        deny_reason: reason as i32,
        message: d.message(user, permission, account),
        directory: d.directory.unwrap_or_default().to_owned(),
    }
}

pub fn user_access(u: &UserAccess<'_>) -> pb::UserAccess {
    pb::UserAccess {
        user: u.user_name.to_owned(),
        user_id: u.user_id.to_owned(),
        grants: u.grants.iter().map(grant).collect(),
    }
}
