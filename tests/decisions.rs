//! Data-driven decision cases.
//!
//! Every `tests/decisions/*.yaml` file holds one clause of the decision rule
//! (DESIGN.md, "The decision") as a data file and the checks that follow from
//! it. Each file gets a fresh SQLite store: its `data` is imported, the state
//! loaded and compiled into a snapshot, and each case is run through
//! `engine::check` and `engine::explain`, which must agree with each other,
//! with the case, and with `list_permissions`, `lookup_accounts` and
//! `lookup_users`. All failures are reported together, by file and case.
//!
//! A case file:
//!
//! ```yaml
//! description: what the file shows
//! data:                 # a data file, exactly as `rolecall import` takes it
//!   organizations: [...]  # (with its own roles: the cases do not rely on the default catalog)
//! cases:
//!   - {user: alice@acme.example, permission: charges.read, account: acct_1, allow: true,
//!      via: {group: Engineering, role: developer, scope: {account: acct_1}, matched: charges.*}}
//!   - {user: bob@acme.example, permission: charges.read, account: acct_1, allow: false,
//!      reason: inactive_user, directory: dir_acme}
//! then:                 # optional: a further import into the same store, and its cases
//!   data: {directories: [{id: dir_acme, owner: {organization: org_1}, mode: saml}]}
//!   import_error: saml  # optional: the import must fail with an error containing this
//!   cases: [...]
//!   then: ...
//! ```
//!
//! A deny names its `reason` (`DenyReason::as_str`). `via` (allowed cases)
//! checks the explanation's grant: `group` (displayName) or `direct: true`,
//! and optionally `role`, `scope` and `matched` (the pattern). `directory`
//! checks the governing directory the explanation names (`null`: none).
//! Give `via` only when one grant alone allows the check: the explanation
//! names the first it finds.
//!
//! The demo data set is checked too: `data/demo.yaml` imports cleanly on top
//! of the default catalog, and the example checks in its header hold.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rolecall::datafile::{DataFile, Format, ScopeEntry};
use rolecall::engine::{self, Decision, GrantPath, Outcome, Via};
use rolecall::model::{PermissionPattern, Scope, fold_user_name};
use rolecall::snapshot::{self, Snapshot};
use rolecall::store::{self, Store};
use serde::{Deserialize, Deserializer};

// === case files ===

/// A case file, and each `then` stage in it: an import, then checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stage {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    data: DataFile,
    /// The import must fail, with an error containing this (case-insensitive).
    #[serde(default)]
    import_error: Option<String>,
    #[serde(default)]
    cases: Vec<Case>,
    #[serde(default)]
    then: Option<Box<Stage>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    user: String,
    permission: String,
    account: String,
    allow: bool,
    /// Required on denies: `DenyReason::as_str()`.
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    via: Option<ViaSpec>,
    /// The governing directory; `null` for none.
    #[serde(default, deserialize_with = "present")]
    directory: Option<Option<String>>,
}

/// Expected granting path of an allowed case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ViaSpec {
    /// The displayName of the group holding the role assignment.
    #[serde(default)]
    group: Option<String>,
    /// A role assignment on the user.
    #[serde(default)]
    direct: bool,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    scope: Option<ScopeEntry>,
    /// The role's pattern that matched: `charges.read`, `charges.*` or `*`.
    #[serde(default)]
    matched: Option<String>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

// === running cases ===

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allowed" } else { "denied" }
}

/// Mistakes in the case itself, found before running it.
fn case_spec_error(case: &Case) -> Option<String> {
    if let Err(e) = engine::validate_check(&case.user, &case.permission, &case.account) {
        return Some(format!("bad case: invalid input: {e}"));
    }
    match (case.allow, &case.reason, &case.via) {
        (true, Some(_), _) => Some("bad case: `reason` on an allowed case".into()),
        (false, _, Some(_)) => Some("bad case: `via` on a denied case".into()),
        (false, None, _) => Some("bad case: a denied case must name its `reason`".into()),
        (_, _, Some(v)) if v.direct && v.group.is_some() => {
            Some("bad case: `via` has both `direct` and `group`".into())
        }
        _ => None,
    }
}

fn same_scope(expected: &ScopeEntry, got: &Scope) -> bool {
    match got {
        Scope::Account(a) => {
            expected.account.as_deref() == Some(a.as_str())
                && expected.organization.is_none()
                && expected.accounts.is_none()
        }
        Scope::Organization(o) => {
            expected.account.is_none()
                && expected.organization.as_deref() == Some(o.as_str())
                && expected.accounts.is_none()
        }
        Scope::OrganizationAccounts {
            organization,
            accounts,
        } => {
            let got: BTreeSet<&str> = accounts.iter().map(|a| a.as_str()).collect();
            let want: Option<BTreeSet<&str>> = expected
                .accounts
                .as_ref()
                .map(|list| list.iter().map(String::as_str).collect());
            expected.account.is_none()
                && expected.organization.as_deref() == Some(organization.as_str())
                && want == Some(got)
        }
    }
}

fn describe_via(path: &GrantPath<'_>) -> String {
    let subject = match path.via {
        Via::Direct => "direct".to_owned(),
        Via::Group { display_name, .. } => format!("group `{display_name}`"),
    };
    format!(
        "{subject}, role `{}`, {}, pattern `{}`",
        path.role,
        engine::describe_scope(path.scope),
        path.matched
    )
}

fn check_via(spec: &ViaSpec, path: &GrantPath<'_>, problems: &mut Vec<String>) {
    let subject_ok = match (&path.via, spec.direct, &spec.group) {
        (Via::Direct, true, _) => true,
        (Via::Group { display_name, .. }, false, Some(g)) => display_name == g,
        (_, false, None) => true,
        _ => false,
    };
    let role_ok = spec.role.as_deref().is_none_or(|r| r == path.role);
    let scope_ok = spec
        .scope
        .as_ref()
        .is_none_or(|s| same_scope(s, path.scope));
    let matched_ok = spec
        .matched
        .as_deref()
        .is_none_or(|m| m == path.matched.to_string());
    if !(subject_ok && role_ok && scope_ok && matched_ok) {
        problems.push(format!(
            "granted via {}, expected {spec:?}",
            describe_via(path)
        ));
    }
}

/// Runs one case; `Err` lists what went wrong.
fn run_case(snap: &Snapshot, case: &Case) -> Result<(), String> {
    if let Some(e) = case_spec_error(case) {
        return Err(e);
    }
    let (user, permission, account) = (
        case.user.as_str(),
        case.permission.as_str(),
        case.account.as_str(),
    );
    let allowed = engine::check(snap, user, permission, account);
    let decision: Decision<'_> = engine::explain(snap, user, permission, account);
    let mut problems = Vec::new();

    if allowed != case.allow {
        problems.push(format!(
            "check: {}, expected {}",
            verdict(allowed),
            verdict(case.allow)
        ));
    }
    if decision.allowed() != allowed {
        problems.push(format!(
            "explain ({}) disagrees with check ({})",
            verdict(decision.allowed()),
            verdict(allowed)
        ));
    }
    match decision.outcome {
        Outcome::Allowed(path) => {
            if let Some(spec) = &case.via {
                check_via(spec, &path, &mut problems);
            }
        }
        Outcome::Denied(reason) => {
            if let Some(want) = &case.reason
                && reason.as_str() != want
            {
                problems.push(format!("reason `{}`, expected `{want}`", reason.as_str()));
            }
        }
    }
    if let Some(want) = &case.directory
        && decision.directory != want.as_deref()
    {
        problems.push(format!(
            "governing directory {:?}, expected {want:?}",
            decision.directory
        ));
    }

    // The other read functions answer from the same rule.
    let listed = engine::list_permissions(snap, user, account)
        .iter()
        .any(|p: &&PermissionPattern| p.grants(permission));
    if listed != allowed {
        problems.push(format!(
            "list_permissions {} it, check says {}",
            if listed { "includes" } else { "omits" },
            verdict(allowed)
        ));
    }
    let in_accounts = engine::lookup_accounts(snap, user, permission).contains(&account);
    if in_accounts != allowed {
        problems.push(format!(
            "lookup_accounts {} the account, check says {}",
            if in_accounts { "includes" } else { "omits" },
            verdict(allowed)
        ));
    }
    let folded = fold_user_name(user);
    let holder = engine::lookup_users(snap, permission, account)
        .iter()
        .any(|u| fold_user_name(u.user_name) == folded || u.user_id == user);
    if holder != allowed {
        problems.push(format!(
            "lookup_users {} the user, check says {}",
            if holder { "includes" } else { "omits" },
            verdict(allowed)
        ));
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} [explain: {}]",
            problems.join("; "),
            decision.message(user, permission, account)
        ))
    }
}

/// Failures of a run, and how many cases it ran.
#[derive(Default)]
struct Report {
    cases: usize,
    failures: Vec<String>,
}

impl Report {
    fn run_cases(&mut self, snap: &Snapshot, cases: &[Case], label: &str) {
        for (i, case) in cases.iter().enumerate() {
            self.cases += 1;
            if let Err(e) = run_case(snap, case) {
                self.failures.push(format!(
                    "{label}cases[{i}] ({} {} {}): {e}",
                    case.user, case.permission, case.account
                ));
            }
        }
    }

    fn finish(self, what: &str) {
        assert!(self.cases > 0, "{what}: no cases ran");
        if !self.failures.is_empty() {
            panic!(
                "{} of {} {what} failed:\n  {}",
                self.failures.len(),
                self.cases,
                self.failures.join("\n  ")
            );
        }
        eprintln!("{what}: {} passed", self.cases);
    }
}

fn case_label(dir_name: &str, depth: usize) -> String {
    format!("{dir_name}: {}", "then.".repeat(depth))
}

/// A fresh SQLite store in its own directory (kept alive by the returned guard).
async fn fresh_store() -> Result<(tempfile::TempDir, Arc<dyn Store>), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let url = format!("sqlite://{}", dir.path().join("rolecall.db").display());
    let store = store::open(&url)
        .await
        .map_err(|e| format!("open {url}: {e}"))?;
    Ok((dir, store))
}

async fn compile(store: &dyn Store) -> Result<Snapshot, String> {
    let state = store
        .load_state()
        .await
        .map_err(|e| format!("load_state: {e}"))?;
    snapshot::build(&state).map_err(|e| format!("snapshot::build: {e}"))
}

fn count_cases(mut stage: Option<&Stage>) -> usize {
    let mut n = 0;
    while let Some(s) = stage {
        n += s.cases.len();
        stage = s.then.as_deref();
    }
    n
}

/// The roles a file's stages define, and those its role assignments name.
fn undefined_roles(file: &Stage) -> Vec<String> {
    let mut defined = BTreeSet::new();
    let mut used = BTreeSet::new();
    let mut stage = Some(file);
    while let Some(s) = stage {
        defined.extend(s.data.roles.iter().map(|r| r.name.clone()));
        used.extend(s.data.role_assignments.iter().map(|a| a.role.clone()));
        stage = s.then.as_deref();
    }
    used.difference(&defined).cloned().collect()
}

async fn run_file(path: &Path, report: &mut Report) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file: Stage = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| yaml_serde::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(f) => f,
        Err(e) => {
            report.failures.push(format!("{name}: cannot read: {e}"));
            return;
        }
    };
    let missing = undefined_roles(&file);
    if !missing.is_empty() {
        report.failures.push(format!(
            "{name}: bad file: roles {missing:?} are assigned but not defined in it"
        ));
        return;
    }
    let (_guard, store) = match fresh_store().await {
        Ok(s) => s,
        Err(e) => {
            report.cases += count_cases(Some(&file));
            report.failures.push(format!("{name}: {e}"));
            return;
        }
    };

    let mut stage = Some(&file);
    let mut depth = 0;
    while let Some(s) = stage {
        let label = case_label(&name, depth);
        let imported = store.import(&s.data).await;
        let setup = match (&s.import_error, imported) {
            (None, Ok(_)) => Ok(()),
            (None, Err(e)) => Err(format!("import failed: {e}")),
            (Some(want), Ok(_)) => Err(format!(
                "import succeeded, expected an error containing `{want}`"
            )),
            (Some(want), Err(e)) => {
                if e.to_string().to_lowercase().contains(&want.to_lowercase()) {
                    Ok(())
                } else {
                    Err(format!("import error `{e}` does not contain `{want}`"))
                }
            }
        };
        let snap = match setup {
            Ok(()) => compile(store.as_ref()).await,
            Err(e) => Err(e),
        };
        match snap {
            Ok(snap) => report.run_cases(&snap, &s.cases, &label),
            Err(e) => {
                let skipped = count_cases(Some(s));
                report.cases += skipped;
                report
                    .failures
                    .push(format!("{label}{e} ({skipped} cases not run)"));
                return;
            }
        }
        stage = s.then.as_deref();
        depth += 1;
    }
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/decisions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn decision_cases() {
    let files = case_files();
    assert!(!files.is_empty(), "no tests/decisions/*.yaml files");
    let mut report = Report::default();
    for file in &files {
        run_file(file, &mut report).await;
    }
    report.finish(&format!("decision cases in {} files", files.len()));
}

// === the demo data set ===

/// The example checks in the header of `data/demo.yaml`: comment lines
/// `#   allow USER PERMISSION ACCOUNT [-- note]` and
/// `#   deny USER PERMISSION ACCOUNT REASON [-- note]`.
fn demo_examples(text: &str) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(comment) = line.strip_prefix('#') else {
            continue;
        };
        let body = comment.split(" -- ").next().unwrap_or_default();
        let words: Vec<&str> = body.split_whitespace().collect();
        let (allow, needed) = match words.first() {
            Some(&"allow") => (true, 4),
            Some(&"deny") => (false, 5),
            _ => continue,
        };
        if words.len() != needed {
            return Err(format!(
                "data/demo.yaml:{}: an example takes {needed} words before ` -- `: {line}",
                n + 1
            ));
        }
        cases.push(Case {
            user: words[1].to_owned(),
            permission: words[2].to_owned(),
            account: words[3].to_owned(),
            allow,
            reason: (!allow).then(|| words[4].to_owned()),
            via: None,
            directory: None,
        });
    }
    Ok(cases)
}

#[tokio::test]
async fn demo_imports_on_the_default_catalog_and_its_examples_hold() {
    let catalog = DataFile::parse(store::DEFAULT_ROLES, Format::Yaml, "data/roles.yaml")
        .expect("data/roles.yaml parses");
    let demo = DataFile::parse(store::DEMO_DATA, Format::Yaml, "data/demo.yaml")
        .expect("data/demo.yaml parses");
    assert!(
        demo.roles.is_empty(),
        "data/demo.yaml defines roles: it should use the default catalog"
    );

    let (_guard, store) = fresh_store().await.expect("store opens");
    let before = store.load_state().await.expect("load_state");
    let missing: Vec<&str> = catalog
        .roles
        .iter()
        .map(|r| r.name.as_str())
        .filter(|name| !before.roles.iter().any(|r| r.name.as_str() == *name))
        .collect();
    assert!(
        missing.is_empty(),
        "a new store lacks default catalog roles {missing:?}"
    );

    store.import(&demo).await.expect("data/demo.yaml imports");
    let again = store
        .import(&demo)
        .await
        .expect("data/demo.yaml imports twice");
    assert!(
        !again.changed,
        "re-importing data/demo.yaml changed the store"
    );

    let examples = demo_examples(store::DEMO_DATA).expect("example checks parse");
    assert!(
        examples.len() >= 20,
        "only {} example checks found in data/demo.yaml",
        examples.len()
    );
    assert!(examples.iter().any(|c| c.allow) && examples.iter().any(|c| !c.allow));
    let snap = compile(store.as_ref()).await.expect("demo state compiles");
    let mut report = Report::default();
    report.run_cases(&snap, &examples, "data/demo.yaml header: ");
    report.finish("demo example checks");
}

// === the default catalog ===

#[test]
fn default_catalog_is_well_formed() {
    let catalog = DataFile::parse(store::DEFAULT_ROLES, Format::Yaml, "data/roles.yaml")
        .expect("data/roles.yaml parses");
    assert_eq!(
        catalog,
        DataFile {
            roles: catalog.roles.clone(),
            ..DataFile::default()
        },
        "data/roles.yaml holds only roles"
    );

    let names: Vec<&str> = catalog.roles.iter().map(|r| r.name.as_str()).collect();
    for expected in [
        "admin",
        "iam_admin",
        "developer",
        "analyst",
        "support_specialist",
        "view_only",
        "refund_analyst",
        "dispute_analyst",
        "transfer_analyst",
    ] {
        assert!(names.contains(&expected), "the catalog lacks `{expected}`");
    }
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "duplicate role names in {names:?}"
    );

    let patterns = |name: &str| -> Vec<PermissionPattern> {
        let role = catalog
            .roles
            .iter()
            .find(|r| r.name == name)
            .expect("role exists");
        role.permissions
            .iter()
            .map(|p| {
                PermissionPattern::parse(p)
                    .unwrap_or_else(|e| panic!("role `{name}`: permission `{p}` {e}"))
            })
            .collect()
    };
    for role in &catalog.roles {
        assert!(
            role.description
                .as_deref()
                .is_some_and(|d| !d.trim().is_empty()),
            "role `{}` has no description",
            role.name
        );
        let list = patterns(&role.name);
        assert!(!list.is_empty(), "role `{}` grants nothing", role.name);
        let distinct: BTreeSet<&PermissionPattern> = list.iter().collect();
        assert_eq!(
            distinct.len(),
            list.len(),
            "role `{}` repeats a permission",
            role.name
        );
        assert!(
            role.name == "admin" || !list.contains(&PermissionPattern::All),
            "only `admin` may grant `*`, not `{}`",
            role.name
        );
    }

    let grants = |name: &str, permission: &str| patterns(name).iter().any(|p| p.grants(permission));
    assert!(grants("admin", "anything.at_all"));
    for action in ["read", "create", "reveal", "rotate", "delete"] {
        let permission = format!("api_keys.{action}");
        assert!(
            !grants("view_only", &permission),
            "view_only grants {permission}"
        );
        assert!(
            !grants("analyst", &permission),
            "analyst grants {permission}"
        );
    }
    for money in [
        "charges.read",
        "refunds.create",
        "disputes.respond",
        "payouts.create",
        "transfers.create",
        "balance.read",
        "customers.read",
    ] {
        assert!(!grants("iam_admin", money), "iam_admin grants {money}");
    }
    assert!(grants("iam_admin", "team.invite") && grants("iam_admin", "roles.update"));
    assert!(grants("developer", "api_keys.rotate") && grants("developer", "webhooks.create"));
    assert!(grants("refund_analyst", "refunds.create"));
    assert!(grants("dispute_analyst", "disputes.respond"));
    assert!(grants("transfer_analyst", "transfers.create"));
    for &name in names
        .iter()
        .filter(|n| !matches!(**n, "admin" | "payout_manager"))
    {
        assert!(!grants(name, "payouts.create"), "{name} sends payouts");
    }
}
