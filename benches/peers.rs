//! rolecall's in-process check next to two policy engines, casbin-rs
//! (`casbin`) and Cedar (`cedar-policy`), on the same generated state
//! (`rolecall::bench::generate`, the seed of the other benches) and the same
//! query set (`generate::queries`: half allowed, half denied).
//!
//! ```sh
//! cargo bench --bench peers                                   # 100k users
//! ROLECALL_BENCH_USERS=1000000 cargo bench --bench peers      # 1M users
//! ROLECALL_BENCH_PEERS=casbin cargo bench --bench peers       # rolecall and casbin only
//! ROLECALL_BENCH_USERS=2000 cargo test --bench peers          # smoke: agreement only
//! ```
//!
//! Knobs: `ROLECALL_BENCH_USERS` (one size per process, so resident memory
//! is per size), `ROLECALL_BENCH_PEERS` (any of `casbin`, `cedar`,
//! `cedar-attr`; all by default), `ROLECALL_BENCH_PEER_QUERIES` (the query
//! set, 4096 by default), `ROLECALL_BENCH_PEER_BUDGET_MS` (timing per engine
//! after the first pass, 3000 by default). At 1M users each Cedar set-up
//! holds about 6 GiB: run one peer per process there.
//!
//! # How each engine is set up
//!
//! **rolecall**: `snapshot::build(&State)`, then `engine::check(&snap,
//! user, permission, account)` with the userName as users send it (any case)
//! or the SCIM id. Inactive users, `saml` directories and the account's
//! governing directory are decided inside the call.
//!
//! **casbin** (RBAC with domains, one domain per organization):
//!
//! ```text
//! r = sub, dom, act
//! p = role, act
//! g = _, _, _
//! e = some(where (p.eft == allow))
//! m = keyMatch(r.act, p.act) && (g(r.sub, p.role, orgOf(r.dom)) || g(r.sub, p.role + "@" + r.dom, orgOf(r.dom)))
//! ```
//!
//! - `p`: one rule per permission pattern of each role (`developer,
//!   charges.*`); `keyMatch` reads `resource.*` and `*` as wildcards, and
//!   runs first so only the rules of a matching pattern reach the role graph.
//! - `g` in the organization's domain: user → group and group → parent group
//!   (nesting is casbin's role hierarchy), subject → `role` for an
//!   organization-wide assignment, subject → `role@account` for an account
//!   and for each chosen account. A domain per account would copy every
//!   membership into every account the user may reach (billions of links at
//!   1M users), and casbin-rs's domain matching function copies a pattern
//!   domain's whole graph into each matching domain, so it scales no
//!   better; domains per organization keep one copy of each membership.
//! - `orgOf` is a registered function (a map lookup) that names the account's
//!   organization: the request carries the account, as rolecall's does.
//! - Set up for speed: the `()` adapter (`NullAdapter`), auto-save off, `enforce`
//!   (no logging: casbin's `logging` feature is off), no `CachedEnforcer`
//!   (it memoises whole requests, which over a repeating query set would
//!   measure a hash map, not a decision; rolecall caches no decision).
//! - casbin-rs's `DefaultRoleManager::has_link` falls back to a scan of every
//!   node of the domain when the subject is not one of them, so a name no
//!   user has costs casbin time in proportion to the organization's users:
//!   the output shows known and unknown users apart.
//!
//! **cedar** (the policy per role assignment, as an admin would write it):
//! `User` entities (attribute `active`) whose parents are their groups,
//! `Group`s whose parents are their parent groups, `Account`s whose parent is
//! their `Organization`, and one `Action` per permission whose parents are
//! the action groups `Action::"role:<name>"` of the roles granting it (role
//! wildcards expanded over the actions the catalog and the query set name).
//! One `permit` per role assignment: `principal in Group::"g"` (or
//! `principal == User::"u"`), `action in Action::"role:<name>"`, and
//! `resource in Organization::"o"`, `resource == Account::"a"`, or `when {
//! resource in [Account::"a", …] }` for chosen accounts; one `forbid unless
//! { principal.active }`. The entity store and policy set are built once; the
//! timed call is `Authorizer::is_authorized(&request, &policies, &entities)`
//! with the `Request` built beforehand (its construction is timed apart).
//! Cedar evaluates every policy on every request, so its cost grows with
//! the number of role assignments.
//!
//! **cedar-attr** (the same decision with a constant policy set): the same
//! entities, but each `Account` carries one attribute per role, the set of
//! groups and users holding that role there (organization-wide and
//! chosen-account assignments expanded into each account), and one policy per
//! role: `permit(principal, action in Action::"role:<name>", resource is
//! Account) when { principal in resource.<name> };`, plus the same `forbid`.
//!
//! # Why the comparison is fair
//!
//! - Every engine's data is built once, outside the timing, and its build
//!   time and resident memory growth are reported. Only the decision call is
//!   timed, over the same queries in the same order.
//! - Requests take each engine's native form. The peers get the canonical
//!   user id (the SCIM id) of the user the query names: the map from a folded
//!   userName or a SCIM id to that id is built once and applied before the
//!   timing (a caller of a policy engine resolves its user first). rolecall
//!   does that resolution inside its call, so this favours the peers. A name
//!   no user has is passed on as it is, and the peers deny it.
//! - Rules a peer does not model natively are applied when its data is
//!   loaded, for both peers alike: group role assignments of `saml`
//!   directories are not loaded (they do not count). Inactive users: cedar
//!   checks the `active` attribute in a `forbid`; casbin has no attributes in
//!   RBAC, so an inactive user's links are not loaded. No query is left out.
//! - All engines must give the same answer to every query (asserted, in
//!   smoke runs too): a comparison that disagrees measures nothing.
//!
//! # What is printed
//!
//! Per engine: build time, resident memory growth over the build, and ns per
//! check over the timed batches after the first pass: the mean, and the
//! median and p99 of the batch means (a batch holds the calls that take
//! about 2 µs, so one call for every peer: single-call percentiles there),
//! with the ratios of the median and mean to rolecall's. The query set
//! repeats, so after the first pass each engine's data for it is as warm
//! as the machine's caches allow, alike for all. Then, from the first pass
//! (one timed call per query), the medians for queries naming a known user
//! and for those naming no user.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hint::black_box;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rolecall::bench::generate::{DEFAULT_SEED, Query, queries};
use rolecall::engine;
use rolecall::model::{
    Member, Mode, Owner, PermissionPattern, Scope, State, Subject, fold_user_name,
};
use rolecall::snapshot;

mod common;
use common::{PERMISSIONS, Rng, Sizes, generate, resident_bytes};

// === shared views of the state ===

/// What both peers load, with the rules they do not model applied.
struct Facts<'s> {
    state: &'s State,
    /// Directory id → the organization owning it.
    dir_org: HashMap<&'s str, &'s str>,
    /// Account id → its organization.
    account_org: HashMap<&'s str, &'s str>,
    /// Directories in `saml` mode.
    saml: HashSet<&'s str>,
    inactive: HashSet<&'s str>,
    /// Role name → its patterns as written.
    roles: BTreeMap<&'s str, Vec<String>>,
    /// Role name → the concrete actions it covers (wildcards expanded).
    role_actions: BTreeMap<&'s str, Vec<String>>,
}

impl<'s> Facts<'s> {
    fn new(state: &'s State) -> Self {
        let dir_org = state
            .directories
            .iter()
            .map(|d| {
                let org = match &d.owner {
                    Owner::Organization(o) => o.as_str(),
                    Owner::Account(a) => state
                        .accounts
                        .iter()
                        .find(|x| x.id == *a)
                        .and_then(|x| x.organization.as_ref())
                        .map_or("", |o| o.as_str()),
                };
                (d.id.as_str(), org)
            })
            .collect();
        let account_org = state
            .accounts
            .iter()
            .filter_map(|a| Some((a.id.as_str(), a.organization.as_ref()?.as_str())))
            .collect();
        let saml = state
            .directories
            .iter()
            .filter(|d| d.mode == Mode::Saml)
            .map(|d| d.id.as_str())
            .collect();
        let inactive = state
            .users
            .iter()
            .filter(|u| !u.active)
            .map(|u| u.id.as_str())
            .collect();
        // The actions: what the queries ask and what the roles name.
        let mut actions: Vec<String> = PERMISSIONS.iter().map(|p| p.to_string()).collect();
        for r in &state.roles {
            for p in &r.permissions {
                if let PermissionPattern::Exact(a) = p {
                    actions.push(a.clone());
                }
            }
        }
        actions.sort();
        actions.dedup();
        let covers = |p: &PermissionPattern, a: &str| match p {
            PermissionPattern::All => true,
            PermissionPattern::Resource(r) => a.split_once('.').is_some_and(|(x, _)| x == r),
            PermissionPattern::Exact(e) => e == a,
        };
        let roles = state
            .roles
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.permissions.iter().map(|p| p.to_string()).collect(),
                )
            })
            .collect();
        let role_actions = state
            .roles
            .iter()
            .map(|r| {
                let acts = actions
                    .iter()
                    .filter(|a| r.permissions.iter().any(|p| covers(p, a)))
                    .cloned()
                    .collect();
                (r.name.as_str(), acts)
            })
            .collect();
        Facts {
            state,
            dir_org,
            account_org,
            saml,
            inactive,
            roles,
            role_actions,
        }
    }

    /// The role assignments that count, as (subject, is a group, role, scope).
    fn assignments(&self) -> impl Iterator<Item = (&'s str, bool, &'s str, &'s Scope)> + '_ {
        self.state.role_assignments.iter().filter_map(|a| {
            let (subject, group) = match &a.subject {
                Subject::Group(g) => (g.as_str(), true),
                Subject::User(u) => (u.as_str(), false),
            };
            if group && self.saml.contains(a.directory.as_str()) {
                return None;
            }
            Some((subject, group, a.role.as_str(), &a.scope))
        })
    }
}

/// Folded userName or SCIM id → SCIM id, for the peers' requests.
fn canonical_users(state: &State) -> HashMap<String, String> {
    let mut map = HashMap::with_capacity(state.users.len() * 2);
    for u in &state.users {
        let id = u.id.to_string();
        // Names are unique across directories here, so one map serves every
        // account; the assert keeps that true if the generator changes.
        assert!(
            map.insert(fold_user_name(&u.user_name), id.clone())
                .is_none(),
            "userName {} is not unique across directories",
            u.user_name
        );
        assert!(
            map.insert(id.clone(), id).is_none(),
            "SCIM id {} collides",
            u.id
        );
    }
    map
}

fn canonical(map: &HashMap<String, String>, user: &str) -> String {
    map.get(&fold_user_name(user))
        .or_else(|| map.get(user))
        .cloned()
        .unwrap_or_else(|| user.to_owned())
}

// === casbin ===

const CASBIN_MODEL: &str = r#"
[request_definition]
r = sub, dom, act

[policy_definition]
p = role, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = keyMatch(r.act, p.act) && (g(r.sub, p.role, orgOf(r.dom)) || g(r.sub, p.role + "@" + r.dom, orgOf(r.dom)))
"#;

/// Account → organization for casbin's `orgOf` (a registered function is a
/// plain `fn`, so the map is a static; one size per process).
static ORG_OF: OnceLock<HashMap<String, String>> = OnceLock::new();

fn org_of(account: casbin::rhai::Dynamic) -> casbin::rhai::Dynamic {
    let account = account.into_immutable_string().unwrap_or_default();
    let org = ORG_OF
        .get()
        .and_then(|m| m.get(account.as_str()))
        .map_or("", |o| o.as_str());
    casbin::rhai::Dynamic::from(org.to_owned())
}

fn build_casbin(facts: &Facts<'_>) -> casbin::Enforcer {
    use casbin::prelude::*;

    ORG_OF.get_or_init(|| {
        facts
            .account_org
            .iter()
            .map(|(a, o)| (a.to_string(), o.to_string()))
            .collect()
    });
    let st = facts.state;
    let mut p: Vec<Vec<String>> = Vec::new();
    for (role, patterns) in &facts.roles {
        for pat in patterns {
            p.push(vec![role.to_string(), pat.clone()]);
        }
    }
    let mut g: Vec<Vec<String>> = Vec::with_capacity(st.memberships.len() + 1024);
    let group_dir: HashMap<&str, &str> = st
        .groups
        .iter()
        .map(|x| (x.id.as_str(), x.directory.as_str()))
        .collect();
    for m in &st.memberships {
        let org = facts.dir_org[group_dir[m.group.as_str()]];
        match &m.member {
            Member::User(u) if facts.inactive.contains(u.as_str()) => {}
            Member::User(u) => g.push(vec![u.to_string(), m.group.to_string(), org.to_owned()]),
            Member::Group(c) => g.push(vec![c.to_string(), m.group.to_string(), org.to_owned()]),
        }
    }
    for (subject, group, role, scope) in facts.assignments() {
        if !group && facts.inactive.contains(subject) {
            continue;
        }
        match scope {
            Scope::Organization(o) => {
                g.push(vec![subject.into(), role.into(), o.to_string()]);
            }
            Scope::Account(a) => {
                if let Some(o) = facts.account_org.get(a.as_str()) {
                    g.push(vec![subject.into(), format!("{role}@{a}"), o.to_string()]);
                }
            }
            Scope::OrganizationAccounts {
                organization,
                accounts,
            } => {
                for a in accounts {
                    g.push(vec![
                        subject.into(),
                        format!("{role}@{a}"),
                        organization.to_string(),
                    ]);
                }
            }
        }
    }
    g.sort();
    g.dedup();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime for casbin's async set-up");
    rt.block_on(async {
        let model = DefaultModel::from_str(CASBIN_MODEL)
            .await
            .expect("the casbin model parses");
        let mut e = Enforcer::new(model, ()).await.expect("an enforcer");
        e.enable_auto_save(false);
        e.add_function(
            "orgOf",
            casbin::function_map::OperatorFunction::Arg1(org_of),
        );
        assert!(e.add_policies(p).await.expect("p rules load"));
        assert!(e.add_grouping_policies(g).await.expect("g rules load"));
        e
    })
}

// === cedar ===

fn uid(ty: &str, id: &str) -> cedar_policy::EntityUid {
    cedar_policy::EntityUid::from_type_name_and_id(
        cedar_policy::EntityTypeName::from_str(ty).expect("a type name"),
        cedar_policy::EntityId::new(id),
    )
}

/// Entities both cedar set-ups share; accounts get `account_attrs` of theirs.
fn cedar_entities(
    facts: &Facts<'_>,
    mut account_attrs: impl FnMut(&str) -> HashMap<String, cedar_policy::RestrictedExpression>,
) -> cedar_policy::Entities {
    use cedar_policy::{Entity, RestrictedExpression};
    let st = facts.state;
    let mut parents: HashMap<(bool, &str), HashSet<cedar_policy::EntityUid>> = HashMap::new();
    for m in &st.memberships {
        let key = match &m.member {
            Member::User(u) => (false, u.as_str()),
            Member::Group(g) => (true, g.as_str()),
        };
        parents
            .entry(key)
            .or_default()
            .insert(uid("Group", m.group.as_str()));
    }
    let mut out = Vec::with_capacity(st.users.len() + st.groups.len() + st.accounts.len() + 64);
    for u in &st.users {
        let attrs = HashMap::from([(
            "active".to_owned(),
            RestrictedExpression::new_bool(u.active),
        )]);
        let ps = parents.remove(&(false, u.id.as_str())).unwrap_or_default();
        out.push(Entity::new(uid("User", u.id.as_str()), attrs, ps).expect("a user entity"));
    }
    for g in &st.groups {
        let ps = parents.remove(&(true, g.id.as_str())).unwrap_or_default();
        out.push(Entity::new_no_attrs(uid("Group", g.id.as_str()), ps));
    }
    for o in &st.organizations {
        out.push(Entity::new_no_attrs(
            uid("Organization", o.id.as_str()),
            HashSet::new(),
        ));
    }
    for a in &st.accounts {
        let ps: HashSet<_> = a
            .organization
            .iter()
            .map(|o| uid("Organization", o.as_str()))
            .collect();
        out.push(
            Entity::new(
                uid("Account", a.id.as_str()),
                account_attrs(a.id.as_str()),
                ps,
            )
            .expect("an account entity"),
        );
    }
    let mut action_parents: BTreeMap<&str, HashSet<cedar_policy::EntityUid>> = BTreeMap::new();
    for (role, actions) in &facts.role_actions {
        out.push(Entity::new_no_attrs(
            uid("Action", &format!("role:{role}")),
            HashSet::new(),
        ));
        for a in actions {
            action_parents
                .entry(a.as_str())
                .or_default()
                .insert(uid("Action", &format!("role:{role}")));
        }
    }
    for (a, ps) in action_parents {
        out.push(Entity::new_no_attrs(uid("Action", a), ps));
    }
    cedar_policy::Entities::from_entities(out, None).expect("the entities load")
}

const CEDAR_FORBID_INACTIVE: &str =
    "forbid(principal, action, resource) unless { principal.active };\n";

struct Cedar {
    policies: cedar_policy::PolicySet,
    entities: cedar_policy::Entities,
    authorizer: cedar_policy::Authorizer,
}

impl Cedar {
    fn check(&self, r: &cedar_policy::Request) -> bool {
        self.authorizer
            .is_authorized(r, &self.policies, &self.entities)
            .decision()
            == cedar_policy::Decision::Allow
    }
}

/// One policy per role assignment.
fn build_cedar(facts: &Facts<'_>) -> Cedar {
    use std::fmt::Write;
    let entities = cedar_entities(facts, |_| HashMap::new());
    let mut text = String::from(CEDAR_FORBID_INACTIVE);
    for (subject, group, role, scope) in facts.assignments() {
        let principal = if group {
            format!("principal in Group::{subject:?}")
        } else {
            format!("principal == User::{subject:?}")
        };
        let action = format!("action in Action::\"role:{role}\"");
        let _ = match scope {
            Scope::Organization(o) => writeln!(
                text,
                "permit({principal}, {action}, resource in Organization::{:?});",
                o.as_str()
            ),
            Scope::Account(a) => writeln!(
                text,
                "permit({principal}, {action}, resource == Account::{:?});",
                a.as_str()
            ),
            Scope::OrganizationAccounts { accounts, .. } => {
                let list: Vec<String> = accounts
                    .iter()
                    .map(|a| format!("Account::{:?}", a.as_str()))
                    .collect();
                writeln!(
                    text,
                    "permit({principal}, {action}, resource) when {{ resource in [{}] }};",
                    list.join(", ")
                )
            }
        };
    }
    let policies = cedar_policy::PolicySet::from_str(&text).expect("the policies parse");
    Cedar {
        policies,
        entities,
        authorizer: cedar_policy::Authorizer::new(),
    }
}

/// One policy per role; each account holds, per role, who has it there.
fn build_cedar_attr(facts: &Facts<'_>) -> Cedar {
    use cedar_policy::RestrictedExpression;
    let mut accounts_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for (a, o) in &facts.account_org {
        accounts_of.entry(o).or_default().push(a);
    }
    // account → role → holders
    let mut holders: HashMap<&str, BTreeMap<&str, Vec<cedar_policy::EntityUid>>> = HashMap::new();
    for (subject, group, role, scope) in facts.assignments() {
        let who = uid(if group { "Group" } else { "User" }, subject);
        let targets: Vec<&str> = match scope {
            Scope::Organization(o) => accounts_of.get(o.as_str()).cloned().unwrap_or_default(),
            Scope::Account(a) => vec![a.as_str()],
            Scope::OrganizationAccounts { accounts, .. } => {
                accounts.iter().map(|a| a.as_str()).collect()
            }
        };
        for a in targets {
            holders
                .entry(a)
                .or_default()
                .entry(role)
                .or_default()
                .push(who.clone());
        }
    }
    let roles: Vec<&str> = facts.roles.keys().copied().collect();
    let entities = cedar_entities(facts, |a| {
        let mine = holders.remove(a).unwrap_or_default();
        roles
            .iter()
            .map(|r| {
                let set = mine
                    .get(r)
                    .map(|v| {
                        v.iter()
                            .cloned()
                            .map(RestrictedExpression::new_entity_uid)
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                (r.to_string(), RestrictedExpression::new_set(set))
            })
            .collect()
    });
    let mut text = String::from(CEDAR_FORBID_INACTIVE);
    for r in &roles {
        text.push_str(&format!(
            "permit(principal, action in Action::\"role:{r}\", resource is Account) \
             when {{ principal in resource.{r} }};\n"
        ));
    }
    let policies = cedar_policy::PolicySet::from_str(&text).expect("the policies parse");
    Cedar {
        policies,
        entities,
        authorizer: cedar_policy::Authorizer::new(),
    }
}

fn cedar_requests(canon: &HashMap<String, String>, qs: &[Query]) -> Vec<cedar_policy::Request> {
    qs.iter()
        .map(|q| {
            cedar_policy::Request::new(
                uid("User", &canonical(canon, &q.user)),
                uid("Action", &q.permission),
                uid("Account", &q.account),
                cedar_policy::Context::empty(),
                None,
            )
            .expect("a request")
        })
        .collect()
}

// === timing ===

struct Timing {
    calls: usize,
    batch: usize,
    mean: f64,
    p50: f64,
    p99: f64,
    /// Each query's time in the first pass (ns), one call at a time.
    first_pass: Vec<f64>,
}

/// Answers every query once, timing each call (the answers go to the
/// agreement check), then times batches over the query set, in order and
/// wrapping, until `budget` has passed. Batches hold enough calls for about
/// 2 µs, so `Instant::now()` stays a small share of a fast check; the
/// figures come from those batches (from the first pass when the budget is
/// zero).
fn measure(
    n: usize,
    budget: Duration,
    mut check: impl FnMut(usize) -> bool,
) -> (Vec<bool>, Timing) {
    let mut answers = Vec::with_capacity(n);
    let mut first_pass = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        answers.push(check(i));
        first_pass.push(t.elapsed().as_nanos() as f64);
    }
    let first_mean = first_pass.iter().sum::<f64>() / n.max(1) as f64;
    // The first pass runs on cold caches: size batches from a warm run.
    let batch = if budget.is_zero() {
        1
    } else {
        let m = n.min(64);
        let t = Instant::now();
        for i in 0..m {
            black_box(check(i));
        }
        let est = t.elapsed().as_nanos() as f64 / m.max(1) as f64;
        ((2000.0 / est.max(1.0)) as usize).clamp(1, 64)
    };

    let mut means = Vec::new();
    let mut total = Duration::ZERO;
    let mut calls = 0usize;
    let start = Instant::now();
    let mut k = 0usize;
    while start.elapsed() < budget {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(check(k % n));
            k += 1;
        }
        let d = t.elapsed();
        total += d;
        calls += batch;
        means.push(d.as_nanos() as f64 / batch as f64);
    }
    let mean = if calls == 0 {
        means.clone_from(&first_pass);
        calls = n;
        first_mean
    } else {
        total.as_nanos() as f64 / calls as f64
    };
    means.sort_by(f64::total_cmp);
    let at = |p: f64| means[((means.len() - 1) as f64 * p).round() as usize];
    let timing = Timing {
        calls,
        batch,
        mean,
        p50: at(0.5),
        p99: at(0.99),
        first_pass,
    };
    (answers, timing)
}

/// Median of the first-pass times of the queries `pick` selects.
fn median_of(t: &Timing, pick: &[bool]) -> f64 {
    let mut xs: Vec<f64> = t
        .first_pass
        .iter()
        .zip(pick)
        .filter(|(_, p)| **p)
        .map(|(x, _)| *x)
        .collect();
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

// === main ===

struct Row {
    name: &'static str,
    build: Duration,
    rss_mib: Option<f64>,
    timing: Timing,
}

fn mib(before: Option<u64>, after: Option<u64>) -> Option<f64> {
    Some(after?.saturating_sub(before?) as f64 / (1024.0 * 1024.0))
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    // As in the other benches: without `--bench` (cargo test) or with
    // `--test`, a quick run that only checks the engines agree.
    let smoke = !flag("--bench") || flag("--test");
    if flag("--list") {
        return;
    }
    let users = env_usize("ROLECALL_BENCH_USERS").unwrap_or(if smoke { 2_000 } else { 100_000 });
    let count = env_usize("ROLECALL_BENCH_PEER_QUERIES").unwrap_or(if smoke { 512 } else { 4096 });
    let budget = Duration::from_millis(if smoke {
        0
    } else {
        env_usize("ROLECALL_BENCH_PEER_BUDGET_MS").unwrap_or(3000) as u64
    });
    let peers = std::env::var("ROLECALL_BENCH_PEERS")
        .unwrap_or_else(|_| "casbin,cedar,cedar-attr".to_owned());
    let peers: Vec<&str> = peers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for p in &peers {
        assert!(
            ["casbin", "cedar", "cedar-attr"].contains(p),
            "ROLECALL_BENCH_PEERS: unknown peer {p:?}"
        );
    }

    let mut rng = Rng(DEFAULT_SEED);
    let t = Instant::now();
    let state = generate(&Sizes::for_users(users), &mut rng);
    eprintln!(
        "peers: {} users, {} groups, {} memberships, {} accounts, {} role assignments \
         (generated in {:.2?})",
        state.users.len(),
        state.groups.len(),
        state.memberships.len(),
        state.accounts.len(),
        state.role_assignments.len(),
        t.elapsed(),
    );

    let mut rows = Vec::new();

    // rolecall
    let rss = resident_bytes();
    let t = Instant::now();
    let snap = snapshot::build(&state).expect("the generated state builds");
    let build = t.elapsed();
    let rss_mib = mib(rss, resident_bytes());
    let qs = queries(&state, &snap, count, 50, &mut rng);
    let (expected, timing) = measure(qs.len(), budget, |i| {
        let q = &qs[i];
        engine::check(
            &snap,
            black_box(&q.user),
            black_box(&q.permission),
            black_box(&q.account),
        )
    });
    let allowed = expected.iter().filter(|a| **a).count();
    eprintln!(
        "peers: {} queries, {allowed} allowed; {} of them name the user by SCIM id or in another case",
        qs.len(),
        qs.iter()
            .filter(|q| q.user != q.user.to_lowercase() || !q.user.contains('@'))
            .count(),
    );
    rows.push(Row {
        name: "rolecall",
        build,
        rss_mib,
        timing,
    });

    let facts = Facts::new(&state);
    let canon = canonical_users(&state);
    // Queries naming no user: the peers get the name as it is.
    let unknown: Vec<bool> = qs
        .iter()
        .map(|q| !canon.contains_key(&canonical(&canon, &q.user)))
        .collect();
    // Engines stay alive to the end, so a later build cannot reuse their
    // memory and look smaller than it is.
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    let agree = |name: &str, answers: &[bool]| {
        let wrong: Vec<usize> = (0..qs.len())
            .filter(|&i| answers[i] != expected[i])
            .collect();
        if let Some(&i) = wrong.first() {
            panic!(
                "{name} disagrees with rolecall on {} of {} queries; first: {:?} \
                 (user {:?}) rolecall says {}",
                wrong.len(),
                qs.len(),
                qs[i],
                canonical(&canon, &qs[i].user),
                expected[i]
            );
        }
        eprintln!(
            "peers: {name} agrees with rolecall on all {} queries",
            qs.len()
        );
    };

    if peers.contains(&"casbin") {
        use casbin::CoreApi;
        let reqs: Vec<(String, String, String)> = qs
            .iter()
            .map(|q| {
                (
                    canonical(&canon, &q.user),
                    q.account.clone(),
                    q.permission.clone(),
                )
            })
            .collect();
        let rss = resident_bytes();
        let t = Instant::now();
        let e = build_casbin(&facts);
        let build = t.elapsed();
        let rss_mib = mib(rss, resident_bytes());
        let (answers, timing) = measure(qs.len(), budget, |i| {
            let (s, d, a) = &reqs[i];
            e.enforce((
                black_box(s.as_str()),
                black_box(d.as_str()),
                black_box(a.as_str()),
            ))
            .expect("casbin enforces")
        });
        agree("casbin", &answers);
        keep.push(Box::new(e));
        rows.push(Row {
            name: "casbin",
            build,
            rss_mib,
            timing,
        });
    }

    for (name, build_fn) in [
        ("cedar", build_cedar as fn(&Facts<'_>) -> Cedar),
        ("cedar-attr", build_cedar_attr),
    ] {
        if !peers.contains(&name) {
            continue;
        }
        let t = Instant::now();
        let reqs = cedar_requests(&canon, &qs);
        let per_request = t.elapsed().as_nanos() as f64 / qs.len() as f64;
        let rss = resident_bytes();
        let t = Instant::now();
        let c = build_fn(&facts);
        let build = t.elapsed();
        let rss_mib = mib(rss, resident_bytes());
        eprintln!(
            "peers: {name}: {} policies; a request (canonical id, then Request::new; \
             outside the timing) takes {per_request:.0} ns to build",
            c.policies.policies().count()
        );
        let (answers, timing) = measure(qs.len(), budget, |i| c.check(black_box(&reqs[i])));
        agree(name, &answers);
        keep.push(Box::new(c));
        rows.push(Row {
            name,
            build,
            rss_mib,
            timing,
        });
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "peers @ {users} users, {} queries ({} name no user), ns per check \
         (p50/p99 over batches of `batch` calls); load average {}:",
        qs.len(),
        unknown.iter().filter(|u| **u).count(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let known: Vec<bool> = unknown.iter().map(|u| !u).collect();
    let base = &rows[0].timing;
    for r in &rows {
        let t = &r.timing;
        eprintln!(
            "  {:<10} build {:>9.2?}  rss +{:>7.1} MiB  mean {:>11.1}  p50 {:>11.1}  p99 {:>11.1}  \
             [{} calls, batch {}]  vs rolecall: p50 {:.0}x, mean {:.0}x",
            r.name,
            r.build,
            r.rss_mib.unwrap_or(f64::NAN),
            t.mean,
            t.p50,
            t.p99,
            t.calls,
            t.batch,
            t.p50 / base.p50,
            t.mean / base.mean,
        );
    }
    eprintln!("  first pass, one call at a time, median ns: known users / users no one has");
    for r in &rows {
        eprintln!(
            "  {:<10} {:>11.1} / {:>11.1}",
            r.name,
            median_of(&r.timing, &known),
            median_of(&r.timing, &unknown),
        );
    }
    drop(keep);
}
