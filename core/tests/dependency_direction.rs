//! The workspace's dependency direction holds: `frontdesk-core` knows no HTTP framework and
//! no platform SDK, and the outer crates point only inward (see DESIGN.md).

use std::process::Command;

/// The crates `package` depends on (normal dependencies, the whole tree, deduplicated).
fn dependency_tree(package: &str, depth: Option<u32>) -> Vec<String> {
    let mut command = Command::new(env!("CARGO"));
    command.args([
        "tree",
        "--offline",
        "-p",
        package,
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    if let Some(depth) = depth {
        command.args(["--depth", &depth.to_string()]);
    }
    let output = command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

const HTTP_AND_PLATFORM_CRATES: [&str; 10] = [
    "axum",
    "hyper",
    "reqwest",
    "slack-morphism",
    "serenity",
    "google-calendar3",
    "graph-rs-sdk",
    "tower-http",
    "utoipa-axum",
    // API schemas are wire types, and wire types live in the edge.
    "utoipa",
];

#[test]
fn core_depends_on_no_http_framework_or_platform_sdk() {
    let tree = dependency_tree("frontdesk-core", None);
    assert!(
        tree.iter().any(|c| c == "sqlx"),
        "sanity: the tree was read: {tree:?}"
    );
    let forbidden: Vec<_> = tree
        .iter()
        .filter(|c| HTTP_AND_PLATFORM_CRATES.contains(&c.as_str()))
        .collect();
    assert!(
        forbidden.is_empty(),
        "frontdesk-core must not depend on {forbidden:?}"
    );
}

#[test]
fn connectors_and_bots_depend_only_inward() {
    for (package, must_not) in [
        (
            "frontdesk-connectors",
            ["frontdesk-bots", "frontdesk-webhooks", "sqlx"],
        ),
        (
            "frontdesk-bots",
            ["frontdesk-connectors", "frontdesk-webhooks", "sqlx"],
        ),
    ] {
        let direct = dependency_tree(package, Some(1));
        let wrong: Vec<_> = direct
            .iter()
            .filter(|c| must_not.contains(&c.as_str()))
            .collect();
        assert!(
            wrong.is_empty(),
            "{package} must not depend directly on {wrong:?}"
        );
    }
}

#[test]
fn the_http_edge_reaches_the_database_only_through_the_engine() {
    let direct = dependency_tree("frontdesk-webhooks", Some(1));
    assert!(direct.iter().any(|c| c == "frontdesk-core"), "{direct:?}");
    assert!(
        !direct.iter().any(|c| c == "sqlx"),
        "frontdesk-webhooks must not use sqlx directly"
    );
}

/// Every `store::…` path in `source` that names a module or a function rather than a row
/// type (`store::employee::Employee` is a row the engine returned; `store::outbox::insert`
/// or `use …::store::{outbox, Db}` would be the edge reaching the database itself).
fn store_paths_beyond_row_types(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in source.match_indices("store::") {
        let rest = &source[at..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':' || *c == '{')
            .collect();
        let last = path.trim_end_matches(':').rsplit("::").next().unwrap_or("");
        let names_a_row_type = last.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        if !names_a_row_type {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_http_edge_calls_the_engine_not_the_store() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../webhooks/src");
    let mut pending = vec![std::path::PathBuf::from(dir)];
    let mut offences = Vec::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("readable") {
                pending.push(entry.expect("an entry").path());
            }
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("readable source");
        for found in store_paths_beyond_row_types(&source) {
            offences.push(format!("{}: {found}", path.display()));
        }
        if source.contains(".db.") || source.contains("engine.db") {
            offences.push(format!(
                "{}: reaches the engine's database handle",
                path.display()
            ));
        }
    }
    assert!(
        offences.is_empty(),
        "the edge must call the engine: {offences:?}"
    );
    // The scan itself can find what it looks for.
    assert_eq!(
        store_paths_beyond_row_types("use x::store::{outbox, Db}; store::outbox::insert(tx)"),
        ["store::{outbox", "store::outbox::insert"]
    );
    assert!(store_paths_beyond_row_types("use x::store::employee::Employee;").is_empty());
}
