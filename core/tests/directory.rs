//! The employee directory: tenants never see each other's people, roles limit who changes
//! what, and CSV export and import round-trip safely.

mod common;

use std::collections::BTreeMap;

use common::{Fixture, owner_of, person};
use frontdesk_core::Error;
use frontdesk_core::domain::field::{FileProblem, Invalid};
use frontdesk_core::domain::people::{Lang, NotificationPreference, Platform, Role};
use frontdesk_core::engine::Actor;
use frontdesk_core::engine::directory::{EmployeeInput, ImportSummary};
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::EmployeeProfile;
use frontdesk_core::testing::TestDb;

/// A varied directory: kana, commas, a leading minus, several platforms.
fn varied_people() -> Vec<EmployeeInput> {
    vec![
        EmployeeInput {
            name_kana: "さとう ありす".into(),
            department: "Sales, East / 営業部".into(),
            chat_identities: BTreeMap::from([
                (Platform::Slack, "U0123ABC".into()),
                (Platform::Web, "alice@acme.example".into()),
            ]),
            ..person("alice@acme.example", "佐藤 ありす")
        },
        EmployeeInput {
            name_kana: "たなか ぼぶ".into(),
            department: "-R&D".into(),
            time_zone: "Europe/London".into(),
            language: Lang::En,
            notification: NotificationPreference::ChatAndEmail,
            chat_identities: BTreeMap::from([
                (Platform::Teams, "29:1a2b3c".into()),
                (Platform::Discord, "80351110224678912".into()),
            ]),
            ..person("bob@acme.example", "Bob \"Bobby\" Tanaka")
        },
        EmployeeInput {
            name_kana: "すずき".into(),
            notification: NotificationPreference::Email,
            ..person("carol@acme.example", "Carol Suzuki")
        },
    ]
}

/// Every profile of the actor's tenant, by email.
async fn profiles(f: &Fixture, actor: &Actor) -> Vec<EmployeeProfile> {
    let page = f.engine.employees(actor, None, 500, 0).await.unwrap();
    assert_eq!(page.total, page.employees.len() as i64);
    let mut profiles: Vec<_> = page.employees.into_iter().map(|e| e.profile).collect();
    profiles.sort_by(|a, b| a.email.cmp(&b.email));
    profiles
}

/// The owner of a second tenant, `globex`.
async fn other_tenant_owner(f: &Fixture) -> Actor {
    let globex = f.engine.ensure_tenant("globex", "Globex").await.unwrap();
    owner_of(&f.engine, &globex, "owner@globex.example").await
}

/// The one problem of a rejected file, which must be at `line`.
fn assert_invalid_csv(result: Result<ImportSummary, Error>, line: u64) -> FileProblem {
    match result {
        Err(Error::InvalidFile(mut problems)) => {
            assert_eq!(problems.len(), 1, "{problems:?}");
            let problem = problems.remove(0);
            assert_eq!(problem.line, line, "{problem:?}");
            assert!(
                problem.to_string().starts_with(&format!("line {line}: ")),
                "{problem}"
            );
            problem.problem
        }
        other => panic!("expected a rejected CSV, got {other:?}"),
    }
}

storage_tests! {
    async fn another_tenants_admin_cannot_see_or_change_an_employee(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = f
            .engine
            .create_employee(&f.owner, person("alice@acme.example", "Alice"))
            .await
            .unwrap();
        let globex = other_tenant_owner(&f).await;

        let get = f.engine.employee(&globex, alice.id).await;
        assert!(matches!(get, Err(Error::NotFound("employee"))), "{get:?}");
        let update = f
            .engine
            .update_employee(&globex, alice.id, person("eve@globex.example", "Eve"))
            .await;
        assert!(
            matches!(update, Err(Error::NotFound("employee"))),
            "{update:?}"
        );
        let delete = f.engine.delete_employee(&globex, alice.id).await;
        assert!(
            matches!(delete, Err(Error::NotFound("employee"))),
            "{delete:?}"
        );
        let page = f.engine.employees(&globex, None, 500, 0).await.unwrap();
        assert_eq!((page.total, page.employees.len()), (0, 0));
        let search = f
            .engine
            .employees(&globex, Some("alice"), 500, 0)
            .await
            .unwrap();
        assert_eq!(search.total, 0);
        let export = f.engine.export_employees(&globex).await.unwrap();
        assert!(!export.contains("alice"), "{export}");

        // Alice is untouched in her own tenant.
        assert_eq!(f.engine.employee(&f.owner, alice.id).await.unwrap(), alice);
        assert_eq!(
            f.engine
                .employees(&f.owner, Some("alice"), 500, 0)
                .await
                .unwrap()
                .total,
            1
        );
    }

    async fn the_same_email_may_work_in_two_tenants(t: &TestDb) {
        let f = Fixture::new(t).await;
        let globex = other_tenant_owner(&f).await;
        let acme_alice = f
            .engine
            .create_employee(&f.owner, person("alice@example.com", "Alice A"))
            .await
            .unwrap();
        let globex_alice = f
            .engine
            .create_employee(&globex, person("alice@example.com", "Alice G"))
            .await
            .unwrap();
        assert_ne!(acme_alice.id, globex_alice.id);
        assert_eq!(
            f.engine
                .employee(&f.owner, acme_alice.id)
                .await
                .unwrap()
                .profile
                .name,
            "Alice A"
        );
        assert_eq!(
            f.engine
                .employee(&globex, globex_alice.id)
                .await
                .unwrap()
                .profile
                .name,
            "Alice G"
        );
    }

    async fn an_exported_directory_imports_into_another_tenant_unchanged(t: &TestDb) {
        let f = Fixture::new(t).await;
        for input in varied_people() {
            f.engine.create_employee(&f.owner, input).await.unwrap();
        }
        let csv = f.engine.export_employees(&f.owner).await.unwrap();
        let header = "email,name,name_kana,department,time_zone,language,notification,\
                      slack,teams,discord,web\n";
        assert!(csv.starts_with(header), "{csv}");

        let globex = other_tenant_owner(&f).await;
        let summary = f.engine.import_employees(&globex, &csv).await.unwrap();
        assert_eq!(
            summary,
            ImportSummary {
                created: 3,
                updated: 0
            }
        );
        let original = profiles(&f, &f.owner).await;
        assert_eq!(original.len(), 3);
        assert_eq!(profiles(&f, &globex).await, original);

        // Importing the same file again changes nothing but counts as updates.
        let again = f.engine.import_employees(&globex, &csv).await.unwrap();
        assert_eq!(
            again,
            ImportSummary {
                created: 0,
                updated: 3
            }
        );
        assert_eq!(profiles(&f, &globex).await, original);
    }

    async fn a_formula_in_a_name_is_exported_as_text_and_imported_as_written(t: &TestDb) {
        let f = Fixture::new(t).await;
        let formula = r#"=HYPERLINK("http://x","y")"#;
        f.engine
            .create_employee(&f.owner, person("mallory@acme.example", formula))
            .await
            .unwrap();
        let csv = f.engine.export_employees(&f.owner).await.unwrap();

        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            &rows[0][1],
            format!("'{formula}"),
            "a spreadsheet shows the cell as text"
        );

        let globex = other_tenant_owner(&f).await;
        f.engine.import_employees(&globex, &csv).await.unwrap();
        let imported = profiles(&f, &globex).await;
        assert_eq!(imported[0].name, formula);
    }

    async fn names_starting_with_a_quote_survive_export_and_import(t: &TestDb) {
        let f = Fixture::new(t).await;
        let names = ["'quoted", "'=1+1", "''=x", "O'Brien"];
        for (n, name) in names.iter().enumerate() {
            f.engine
                .create_employee(&f.owner, person(&format!("p{n}@acme.example"), name))
                .await
                .unwrap();
        }
        let csv = f.engine.export_employees(&f.owner).await.unwrap();
        let globex = other_tenant_owner(&f).await;
        f.engine.import_employees(&globex, &csv).await.unwrap();
        let imported: Vec<String> = profiles(&f, &globex)
            .await
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(imported, names, "{csv}");
    }

    async fn an_import_with_one_bad_row_writes_nothing_and_names_the_line(t: &TestDb) {
        let f = Fixture::new(t).await;
        let existing = f
            .engine
            .create_employee(&f.owner, person("carol@acme.example", "Carol"))
            .await
            .unwrap();
        let csv = "email,name,time_zone\n\
                   alice@acme.example,Alice,Asia/Tokyo\n\
                   bob@acme.example,Bob,Mars/Olympus_Mons\n\
                   carol@acme.example,Carol Renamed,Europe/Paris\n";
        let problem = assert_invalid_csv(f.engine.import_employees(&f.owner, csv).await, 3);
        assert_eq!(
            problem,
            FileProblem::Field { field: "time_zone".into(), reason: Invalid::NotTimeZone }
        );

        let page = f.engine.employees(&f.owner, None, 500, 0).await.unwrap();
        assert_eq!(page.total, 1, "alice was not created");
        assert_eq!(
            f.engine.employee(&f.owner, existing.id).await.unwrap(),
            existing,
            "carol was not changed"
        );
        assert!(f.logged("employees.import").await.is_empty());
    }

    async fn an_import_that_clashes_in_the_database_writes_nothing(t: &TestDb) {
        let f = Fixture::new(t).await;
        let slack_user = EmployeeInput {
            chat_identities: BTreeMap::from([(Platform::Slack, "U1".to_owned())]),
            ..person("carol@acme.example", "Carol")
        };
        f.engine
            .create_employee(&f.owner, slack_user)
            .await
            .unwrap();
        // Line 2 is fine; line 3 claims Carol's Slack id.
        let csv = "email,name,slack\nalice@acme.example,Alice,U2\nbob@acme.example,Bob,U1\n";
        let problem = assert_invalid_csv(f.engine.import_employees(&f.owner, csv).await, 3);
        assert!(
            matches!(&problem, FileProblem::Field { reason: Invalid::Taken, .. }),
            "{problem:?}"
        );
        assert_eq!(
            f.engine
                .employees(&f.owner, None, 500, 0)
                .await
                .unwrap()
                .total,
            1
        );
        assert!(f.logged("employees.import").await.is_empty());
    }

    async fn an_import_repeating_an_email_is_rejected(t: &TestDb) {
        let f = Fixture::new(t).await;
        let csv = "email,name\nalice@acme.example,Alice\nALICE@acme.example,Alice Again\n";
        let problem = assert_invalid_csv(f.engine.import_employees(&f.owner, csv).await, 3);
        assert_eq!(problem, FileProblem::Repeats { first_line: 2 });
        assert_eq!(
            f.engine
                .employees(&f.owner, None, 500, 0)
                .await
                .unwrap()
                .total,
            0
        );
    }

    async fn a_taken_email_is_a_conflict(t: &TestDb) {
        let f = Fixture::new(t).await;
        f.engine
            .create_employee(&f.owner, person("alice@acme.example", "Alice"))
            .await
            .unwrap();
        let twice = f
            .engine
            .create_employee(&f.owner, person(" ALICE@acme.example", "Alice 2"))
            .await;
        assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
        let bob = f
            .engine
            .create_employee(&f.owner, person("bob@acme.example", "Bob"))
            .await
            .unwrap();
        let renamed = f
            .engine
            .update_employee(&f.owner, bob.id, person("alice@acme.example", "Bob"))
            .await;
        assert!(matches!(renamed, Err(Error::Conflict(_))), "{renamed:?}");
        assert_eq!(f.engine.employee(&f.owner, bob.id).await.unwrap(), bob);
        assert_eq!(
            f.engine
                .employees(&f.owner, None, 500, 0)
                .await
                .unwrap()
                .total,
            2
        );
    }

    async fn a_receptionist_reads_the_directory_but_cannot_change_it(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = f
            .engine
            .create_employee(&f.owner, person("alice@acme.example", "Alice"))
            .await
            .unwrap();
        let desk = f
            .account("desk@acme.example", Role::Receptionist, false)
            .await;

        assert_eq!(f.engine.employee(&desk, alice.id).await.unwrap(), alice);
        assert_eq!(
            f.engine.employees(&desk, None, 500, 0).await.unwrap().total,
            1
        );

        let create = f
            .engine
            .create_employee(&desk, person("bob@acme.example", "Bob"))
            .await;
        assert!(matches!(create, Err(Error::Forbidden)), "{create:?}");
        let update = f
            .engine
            .update_employee(&desk, alice.id, person("alice@acme.example", "Eve"))
            .await;
        assert!(matches!(update, Err(Error::Forbidden)), "{update:?}");
        let delete = f.engine.delete_employee(&desk, alice.id).await;
        assert!(matches!(delete, Err(Error::Forbidden)), "{delete:?}");
        let import = f
            .engine
            .import_employees(&desk, "email,name\nbob@acme.example,Bob\n")
            .await;
        assert!(matches!(import, Err(Error::Forbidden)), "{import:?}");
        let log = f.engine.access_log(&desk, &Default::default(), 500).await;
        assert!(matches!(log, Err(Error::Forbidden)), "{log:?}");

        assert_eq!(
            f.engine
                .employees(&f.owner, None, 500, 0)
                .await
                .unwrap()
                .total,
            1
        );
        assert_eq!(f.engine.employee(&f.owner, alice.id).await.unwrap(), alice);
    }

    async fn exporting_needs_the_export_permission(t: &TestDb) {
        let f = Fixture::new(t).await;
        f.engine
            .create_employee(&f.owner, person("alice@acme.example", "Alice"))
            .await
            .unwrap();
        let admin = f.account("admin@acme.example", Role::Admin, false).await;
        let desk = f
            .account("desk@acme.example", Role::Receptionist, true)
            .await;
        for actor in [&admin, &desk] {
            let export = f.engine.export_employees(actor).await;
            assert!(
                matches!(export, Err(Error::Forbidden)),
                "{}: {export:?}",
                actor.account.email
            );
        }
        // An admin without the permission still manages employees.
        f.engine
            .create_employee(&admin, person("bob@acme.example", "Bob"))
            .await
            .unwrap();
        assert!(f.logged("employees.export").await.is_empty());

        let exporter = f.account("exporter@acme.example", Role::Admin, true).await;
        let csv = f.engine.export_employees(&exporter).await.unwrap();
        assert_eq!(csv.lines().count(), 3);
    }

    async fn exports_and_imports_are_recorded_in_the_access_log(t: &TestDb) {
        let f = Fixture::new(t).await;
        for input in varied_people() {
            f.engine.create_employee(&f.owner, input).await.unwrap();
        }
        let csv = f.engine.export_employees(&f.owner).await.unwrap();
        let exports = f.logged("employees.export").await;
        assert_eq!(exports.len(), 1);
        assert_eq!(exports[0].actor, "owner@acme.example");
        assert_eq!(exports[0].detail, r#"{"rows":3}"#);

        let edited = csv.replace("Carol Suzuki", "Carol Suzuki-Sato")
            + "dave@acme.example,Dave"
            + &",".repeat(9)
            + "\n";
        let summary = f.engine.import_employees(&f.owner, &edited).await.unwrap();
        assert_eq!(
            summary,
            ImportSummary {
                created: 1,
                updated: 3
            }
        );
        let imports = f.logged("employees.import").await;
        assert_eq!(imports.len(), 1);
        assert_eq!(imports[0].actor, "owner@acme.example");
        assert_eq!(imports[0].target, "employees");
        assert_eq!(
            imports[0].detail,
            r#"{"created":1,"created_emails":["dave@acme.example"],"updated":3,"updated_emails":["alice@acme.example","carol@acme.example","bob@acme.example"]}"#
        );
        let names: Vec<String> = profiles(&f, &f.owner)
            .await
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert!(
            names.contains(&"Carol Suzuki-Sato".to_owned()) && names.contains(&"Dave".to_owned()),
            "{names:?}"
        );
        assert!(
            f.engine
                .verify_access_log()
                .await
                .unwrap()
                .iter()
                .all(|v| v.result.is_ok())
        );
    }
}

storage_tests! {
    async fn importing_only_some_columns_changes_only_those(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = f
            .engine
            .create_employee(
                &f.owner,
                EmployeeInput {
                    email: "alice@acme.example".into(),
                    name: "Alice Sato".into(),
                    name_kana: "さとう ありす".into(),
                    department: "Sales".into(),
                    time_zone: "Europe/London".into(),
                    language: Lang::En,
                    notification: NotificationPreference::Email,
                    chat_identities: [(Platform::Slack, "U1".to_owned()), (Platform::Teams, "T1".to_owned())].into(),
                },
            )
            .await
            .unwrap();
        let summary = f
            .engine
            .import_employees(&f.owner, "email,name,department,teams\nalice@acme.example,Alice Sato,Marketing,\n")
            .await
            .unwrap();
        assert_eq!((summary.created, summary.updated), (0, 1));
        let after = f.engine.employee(&f.owner, alice.id).await.unwrap().profile;
        assert_eq!(after.department, "Marketing");
        assert_eq!(after.name_kana, "さとう ありす", "a column the file lacks is kept");
        assert_eq!(after.time_zone, "Europe/London");
        assert_eq!(after.language, Lang::En);
        assert_eq!(after.notification, NotificationPreference::Email);
        assert_eq!(after.chat_identities, [(Platform::Slack, "U1".to_owned())].into(), "an empty teams cell removes it");
        let import = f.logged("employees.import").await;
        assert_eq!(import[0].detail, r#"{"created":0,"created_emails":[],"updated":1,"updated_emails":["alice@acme.example"]}"#);
    }

    async fn the_documented_email_and_department_file_changes_only_departments(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = f
            .engine
            .create_employee(&f.owner, person("alice@acme.example", "Alice Sato"))
            .await
            .unwrap();
        let summary = f
            .engine
            .import_employees(&f.owner, "email,department\nALICE@acme.example,Marketing\n")
            .await
            .unwrap();
        assert_eq!((summary.created, summary.updated), (0, 1));
        let after = f.engine.employee(&f.owner, alice.id).await.unwrap().profile;
        assert_eq!(after.department, "Marketing");
        assert_eq!(after.name, "Alice Sato", "the name the file lacks is kept");
    }

    async fn a_new_employee_in_a_file_without_names_is_refused_naming_the_column(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = f
            .engine
            .create_employee(&f.owner, person("alice@acme.example", "Alice Sato"))
            .await
            .unwrap();
        let csv = "email,department\nalice@acme.example,Marketing\nnew@acme.example,Sales\n";
        let problem = assert_invalid_csv(f.engine.import_employees(&f.owner, csv).await, 3);
        assert_eq!(problem, FileProblem::MissingColumn("name"));
        assert_eq!(
            f.engine.employee(&f.owner, alice.id).await.unwrap(),
            alice,
            "nothing of the file is written"
        );
        assert!(f.logged("employees.import").await.is_empty());
    }

    async fn errors_name_the_files_own_line_after_a_cell_that_spans_lines(t: &TestDb) {
        let f = Fixture::new(t).await;
        // Header on line 1; Alice's quoted department takes lines 2 and 3 (and is refused:
        // a department is one line); Bob is on line 4; the bad address is on line 5.
        let csv = "email,name,department\n\
                   alice@acme.example,Alice,\"Sales\nEast\"\n\
                   bob@acme.example,Bob,Ops\n\
                   not-an-address,Carol,\n";
        let Err(Error::InvalidFile(problems)) = f.engine.import_employees(&f.owner, csv).await
        else {
            panic!("the file is refused");
        };
        let lines: Vec<_> = problems.iter().map(|p| (p.line, p.problem.clone())).collect();
        assert_eq!(
            lines,
            [
                (2, FileProblem::Field { field: "department".into(), reason: Invalid::ControlCharacter }),
                (5, FileProblem::Field { field: "email".into(), reason: Invalid::NotEmail }),
            ]
        );
        // A malformed record is placed by its own line too.
        let csv = "email,name,department\n\
                   alice@acme.example,Alice,\"Sales\nEast\"\n\
                   bob@acme.example,Bob\n";
        let Err(Error::InvalidFile(problems)) = f.engine.import_employees(&f.owner, csv).await
        else {
            panic!("the file is refused");
        };
        let lines: Vec<_> = problems.iter().map(|p| (p.line, p.problem.clone())).collect();
        assert_eq!(
            lines,
            [
                (2, FileProblem::Field { field: "department".into(), reason: Invalid::ControlCharacter }),
                (4, FileProblem::Unreadable),
            ]
        );
    }
}
