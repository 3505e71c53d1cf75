//! `frontdesk`: the command line, configuration and wiring. It reads the configuration,
//! builds the engine with its concrete ports, and serves; the work itself lives in
//! `frontdesk-core` (engine) and `frontdesk-webhooks` (HTTP edge).

mod backup;
mod config;
mod sealing;
mod slots_cli;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use frontdesk_bots::discord::DiscordBot;
use frontdesk_bots::slack::SlackBot;
use frontdesk_connectors::ics;
use frontdesk_connectors::mail::{FileMailer, SmtpMailer};
use frontdesk_core::domain::people::Role;
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::hashing::HashingLimits;
use frontdesk_core::engine::scheduler::{Scheduler, standard_jobs};
use frontdesk_core::engine::{Engine, Settings};
use frontdesk_core::i18n::Lang;
use frontdesk_core::port::{Calendars, ChatBots, Mailer, Ports, SystemClock, TenantKeyStore};
use frontdesk_core::store::Db;
use frontdesk_webhooks::tls::{ReloadingCertificate, server_config};
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::config::{Config, LogFormat};

/// Frontdesk: reception, scheduling and meeting rooms in the chat tools people already use.
#[derive(Debug, Parser)]
#[command(name = "frontdesk", version, about)]
struct Cli {
    /// A TOML configuration file (environment variables FRONTDESK_* override it).
    #[arg(long, global = true, env = "FRONTDESK_CONFIG")]
    config: Option<PathBuf>,
    /// Where the embedded database and mail files live (default: ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web pages, APIs and webhooks, and run the scheduled jobs.
    Serve {
        /// Seed the demo tenant (idempotent) and print the URLs to open.
        #[arg(long)]
        demo: bool,
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long)]
        bind: Option<String>,
        /// Serve HTTPS with this PEM certificate chain (with --tls-key; `[tls] cert_file`).
        #[arg(long, value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert (`[tls] key_file`).
        #[arg(long, value_name = "FILE")]
        tls_key: Option<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Work with the access log.
    AccessLog {
        #[command(subcommand)]
        command: AccessLogCommand,
    },
    /// Take a consistent backup of the database (the server may be running), sealed with
    /// the sealing key: SQLite with `VACUUM INTO`, PostgreSQL with `pg_dump`.
    Backup {
        /// The backup file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a data dir (or PostgreSQL database) that holds none yet, then
    /// migrate it to this version. The sealing key file must be in place first.
    Restore {
        /// The backup file to read.
        #[arg(long)]
        from: PathBuf,
    },
    /// Manage the sealing keys.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// The Discord application.
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// A tenant's data at contract end.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Look into calendars.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Print the free slots a booking link would offer, from a JSON description of the
    /// host's hours, rules and busy time: one JSON line `{"start", "end"}` per slot, in UTC.
    Slots {
        /// The JSON input (see the README).
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Also write the engine's computation time (without reading and printing) to stderr.
        #[arg(long)]
        timing: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CalendarCommand {
    /// Print the busy time of an ICS file as JSON lines `{"start", "end"}` in UTC, sorted and
    /// merged, as Frontdesk reads it (to see why a slot is missing).
    Busy {
        /// The ICS file.
        #[arg(long, value_name = "FILE")]
        ics: PathBuf,
        /// The first day, YYYY-MM-DD (from its midnight in --tz).
        #[arg(long)]
        from: String,
        /// The day after the last, YYYY-MM-DD (until its midnight in --tz).
        #[arg(long)]
        to: String,
        /// The zone of --from and --to, and of the feed's floating and all-day events.
        #[arg(long, default_value = "UTC")]
        tz: String,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Write the tenant's data as CSV files into a new folder (give them to the customer).
    Export {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// A folder that does not exist yet.
        #[arg(long)]
        out: PathBuf,
    },
    /// Delete every row of the tenant, its access log included; recorded in the system log.
    /// Without --confirm it only shows what would be deleted.
    Purge {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The slug again, to confirm.
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DiscordCommand {
    /// Register the `/frontdesk` slash command (English and Japanese) with `[discord]`'s
    /// application. Run once after creating the application, and after upgrades; running it
    /// again replaces the command list with the same one.
    Register,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Add a new sealing key to the key file and re-seal everything with it (older keys
    /// stay in the file so backups sealed with them still open).
    Rotate,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin account (and the tenant, if it does not exist yet).
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// owner, admin or receptionist.
        #[arg(long, default_value = "owner")]
        role: Role,
        /// Allow CSV downloads of personal data.
        #[arg(long)]
        can_export: bool,
        /// ja or en.
        #[arg(long, default_value = "ja")]
        language: Lang,
    },
}

#[derive(Debug, Subcommand)]
enum AccessLogCommand {
    /// Check every tenant's hash chain; name the first broken entry.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve { .. }) {
        return_hash_memory_after_bursts();
    }
    keep_files_private();
    // One TLS provider for every library in the process (sqlx, lettre, the edge): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref()).map_err(anyhow::Error::msg)?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    match cli.command {
        Command::Serve {
            demo,
            bind,
            tls_cert,
            tls_key,
        } => {
            if let Some(bind) = bind {
                config.bind = bind;
            }
            config.tls.cert_file = tls_cert.or(config.tls.cert_file);
            config.tls.key_file = tls_key.or(config.tls.key_file);
            config.tls.files().map_err(anyhow::Error::msg)?;
            init_logging(config.log_format);
            serve(config, demo).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let engine = build_engine(&config, open_database(&config).await?).await?;
            engine.ensure_chain_keys().await?;
            engine.db.close().await;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant {
            command: TenantCommand::Export { tenant, out },
        } => {
            let engine = build_engine(&config, open_database(&config).await?).await?;
            let files = engine.export_tenant(&tenant).await?;
            std::fs::create_dir(&out)
                .with_context(|| format!("creating {} (it must not exist yet)", out.display()))?;
            for file in &files {
                let path = out.join(file.name);
                std::fs::write(&path, &file.csv)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!(
                "wrote {} files for tenant {tenant} into {}",
                files.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant {
            command: TenantCommand::Purge { tenant, confirm },
        } => {
            let engine = build_engine(&config, open_database(&config).await?).await?;
            let (_, rows) = engine.tenant_rows(&tenant).await?;
            if confirm.as_deref() != Some(tenant.as_str()) {
                eprintln!(
                    "tenant {tenant} holds {} accounts, {} employees, {} locations, {} access-log entries, {} queued messages, {} invitations.\n\
                     This deletes all of it for good; export first (frontdesk tenant export).\n\
                     To go ahead: frontdesk tenant purge --tenant {tenant} --confirm {tenant}",
                    rows.accounts,
                    rows.employees,
                    rows.locations,
                    rows.access_log_entries,
                    rows.outbox_messages,
                    rows.invitations
                );
                return Ok(ExitCode::from(2));
            }
            let operator = std::env::var("USER").unwrap_or_else(|_| "operator".into());
            let purged = engine.purge_tenant(&tenant, &operator).await?;
            println!(
                "purged tenant {tenant}: its data key, {} accounts, {} employees, {} locations, {} access-log entries, {} queued messages, {} invitations deleted; recorded in the system log.\n\
                 Its data in database backups taken before cannot be read any more. If you keep a copy of the key directory ({}), delete {}.key from it too.",
                purged.rows.accounts,
                purged.rows.employees,
                purged.rows.locations,
                purged.rows.access_log_entries,
                purged.rows.outbox_messages,
                purged.rows.invitations,
                config.tenant_keys_dir().display(),
                purged.tenant_id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out } => {
            backup::backup(&config, &out).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { from } => {
            backup::restore(&config, &from).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Discord {
            command: DiscordCommand::Register,
        } => {
            // A command, not a start-up step: global commands are per application and
            // rate-limited by Discord (and take a while to reach every client), so several
            // servers restarting should not each register them, nor wait on Discord to start.
            let bot = discord_bot(&config)?.context(
                "[discord] is not configured: set tenant, application_id, public_key and bot_token",
            )?;
            bot.register_commands()
                .await
                .context("registering the /frontdesk command with Discord")?;
            println!(
                "registered /frontdesk (ja: /受付) for Discord application {}; Discord clients may take a few minutes to show it",
                config.discord.application_id.as_deref().unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Secrets {
            command: SecretsCommand::Rotate,
        } => {
            let db = open_database(&config).await?;
            // Loaded once before the new key, so a key file is made first if needed.
            sealing::load(&config, Engine::holds_sealed_data(&db).await?)?;
            let file = sealing::add_key(&config)?;
            let engine = build_engine(&config, db).await?;
            let resealed = engine.reseal_all().await?;
            engine.db.close().await;
            println!(
                "added a new sealing key to {}; wrapped {} tenant data keys with it; sealed {} access-log chain keys and {} outbox messages under their tenants' data keys",
                file.display(),
                resealed.data_keys,
                resealed.chain_keys,
                resealed.messages
            );
            println!(
                "restart the servers (all of them, with this key file) so they seal with the new key"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    tenant,
                    email,
                    password_stdin: _,
                    role,
                    can_export,
                    language,
                },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from standard input")?;
            let password = password.lines().next().unwrap_or("").to_owned();
            let engine = build_engine(&config, open_database(&config).await?).await?;

            let new = NewAdmin {
                email,
                password,
                role,
                can_export,
                language,
            };
            match engine.create_operator_account(&tenant, &new).await {
                Ok((tenant, account)) => {
                    println!(
                        "created {} account {} in tenant {}",
                        account.role, account.email, tenant.slug
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(frontdesk_core::Error::WeakPassword(violations)) => {
                    eprintln!(
                        "error: the password was refused / パスワードが要件を満たしていません:"
                    );
                    for violation in violations {
                        let ja = frontdesk_core::i18n::text(Lang::Ja, violation.message_key());
                        eprintln!("  - {violation}\n    {ja}");
                    }
                    Ok(ExitCode::from(2))
                }
                Err(err) => bail!(err),
            }
        }
        Command::Calendar {
            command: CalendarCommand::Busy { ics, from, to, tz },
        } => calendar_busy(&ics, &from, &to, &tz),
        Command::Slots { input, timing } => slots_cli::run(&input, timing),
        Command::AccessLog {
            command: AccessLogCommand::Verify,
        } => {
            let engine = build_engine(&config, open_database(&config).await?).await?;
            let mut broken = false;
            // A tenant deleted at contract end took its log with it: say so, so that a
            // purge recorded only to wipe a log is never silent.
            for purge in engine.purges().await? {
                let at = chrono::DateTime::from_timestamp_millis(purge.at)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default();
                println!(
                    "{}: purged at {at} by {} ({})",
                    purge.target, purge.actor, purge.detail
                );
            }
            for verification in engine.verify_access_log().await? {
                match verification.result {
                    Ok(count) => println!("tenant {}: ok ({count} entries)", verification.tenant),
                    Err(breakage) => {
                        broken = true;
                        println!("tenant {}: BROKEN: {breakage}", verification.tenant);
                    }
                }
            }
            Ok(if broken {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// What to do about tenants whose data key is not in the key store (`None`: every tenant
/// has its key).
async fn missing_data_keys(engine: &Engine, config: &Config) -> Result<Option<String>> {
    let missing = engine.tenants_missing_data_keys().await?;
    if missing.is_empty() {
        return Ok(None);
    }
    let dir = config.tenant_keys_dir();
    let mut text = String::new();
    for tenant in &missing {
        let slug = &tenant.slug;
        text.push_str(&format!(
            "tenant {slug}: its data key is not in {}, so its sealed data (access-log chain, queued messages, tokens) cannot be opened.\n\
             \x20 If it was purged after this database was backed up, purge it again: frontdesk tenant purge --tenant {slug} --confirm {slug}\n",
            dir.display()
        ));
    }
    text.push_str(&format!(
        "Otherwise put the tenant key directory that was in use in place ({} or [security] tenant_keys_dir) and start again.",
        dir.display()
    ));
    Ok(Some(text))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FRONTDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// The variable glibc reads its malloc settings from, at process start only.
const GLIBC_TUNABLES: &str = "GLIBC_TUNABLES";
/// Blocks of 4 MiB and more get their own mapping, returned when freed.
const MMAP_THRESHOLD: &str = "glibc.malloc.mmap_threshold=4194304";

/// Each password hash takes a 19 MiB block. glibc's malloc raises its mmap threshold after
/// the first such block is freed and from then on keeps them in its per-thread arenas, so a
/// burst of sign-ins leaves hundreds of MB held for good (BENCHMARKS.md). A fixed threshold
/// makes every block go back to the system when its hash ends. glibc reads the setting only
/// when a process starts, so the server starts itself again with it (same process id,
/// arguments and streams); an operator's own `GLIBC_TUNABLES` is kept and added to.
fn return_hash_memory_after_bursts() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let current = std::env::var(GLIBC_TUNABLES).unwrap_or_default();
        if current.contains("glibc.malloc.mmap_threshold") {
            return;
        }
        let tunables = if current.is_empty() {
            MMAP_THRESHOLD.to_owned()
        } else {
            format!("{current}:{MMAP_THRESHOLD}")
        };
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(GLIBC_TUNABLES, tunables)
            .exec();
        // Only reached when the exec failed: serve anyway, with glibc's defaults.
        eprintln!("warning: could not restart with {MMAP_THRESHOLD}: {err}");
    }
}

/// Files this process creates (the database and its journal, mail files, backups) are
/// readable by its own user only: they hold personal data and secrets.
fn keep_files_private() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates the data dir if needed, and makes it (and a database already in it, perhaps from
/// an older version) private to this user.
fn prepare_data_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let private = |path: &std::path::Path, mode: u32| -> Result<()> {
            if path.exists() {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .with_context(|| format!("making {} private", path.display()))?;
            }
            Ok(())
        };
        private(dir, 0o700)?;
        for file in ["frontdesk.db", "frontdesk.db-wal", "frontdesk.db-shm"] {
            private(&dir.join(file), 0o600)?;
        }
    }
    Ok(())
}

async fn open_database(config: &Config) -> Result<Db> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        prepare_data_dir(&config.data_dir)?;
    }
    let db = Db::connect(&url).await.context("opening the database")?;
    db.migrate().await.context("migrating the database")?;
    Ok(db)
}

/// The configured public URL, else this server's own address (https when it serves TLS,
/// so cookies are `Secure` and HSTS is sent).
fn public_url(config: &Config) -> String {
    let scheme = if config.tls.cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{}", config.bind))
}

/// The `[discord]` application's bot, when Discord is configured.
fn discord_bot(config: &Config) -> Result<Option<Arc<DiscordBot>>> {
    let Some(discord) = config.discord.settings().map_err(anyhow::Error::msg)? else {
        return Ok(None);
    };
    let bot = DiscordBot::new(
        discord.bot_token.expose_secret(),
        discord.application_id,
        &config.discord.api_url,
    )
    .map_err(anyhow::Error::msg)?;
    Ok(Some(Arc::new(bot)))
}

async fn build_engine(config: &Config, db: Db) -> Result<Engine> {
    let mailer: Arc<dyn Mailer> = match &config.mail.smtp_url {
        Some(url) => Arc::new(SmtpMailer::new(url.expose_secret(), &config.mail.from)?),
        None => Arc::new(FileMailer::new(
            config.data_dir.join("mail"),
            &config.mail.from,
        )?),
    };
    let tenant_keys = sealing::tenant_key_store(config)?;
    let holds_sealed_data =
        Engine::holds_sealed_data(&db).await? || !tenant_keys.tenants()?.is_empty();
    let mut chat = ChatBots::default();
    if let Some((_, token, _)) = config.slack.settings().map_err(anyhow::Error::msg)? {
        chat = chat.with(Arc::new(SlackBot::new(
            token.expose_secret(),
            &config.slack.api_url,
        )));
    }
    if let Some((_, settings)) = config.teams.settings().map_err(anyhow::Error::msg)? {
        chat = chat.with(Arc::new(frontdesk_bots::teams::TeamsBot::new(settings)));
    }
    if let Some(bot) = discord_bot(config)? {
        chat = chat.with(bot);
    }
    let mut calendars = Calendars::default().with(Arc::new(
        frontdesk_connectors::ics_feed::IcsFeeds::new(config.ics.max_feed_bytes)
            .context("building the ICS feed HTTP client")?,
    ));
    if let Some(google) = config.google.settings().map_err(anyhow::Error::msg)? {
        calendars = calendars.with(Arc::new(
            frontdesk_connectors::google::GoogleCalendar::new(google)
                .context("configuration: [google]")?,
        ));
    }
    if let Some(microsoft) = config.microsoft.settings().map_err(anyhow::Error::msg)? {
        calendars = calendars.with(Arc::new(
            frontdesk_connectors::microsoft::MicrosoftCalendar::new(microsoft)
                .context("configuration: [microsoft]")?,
        ));
    }
    let ports = Ports {
        clock: Arc::new(SystemClock),
        mailer,
        secrets: Arc::new(sealing::load(config, holds_sealed_data)?),
        tenant_keys: Arc::new(tenant_keys),
        chat,
        calendars,
        openid: Arc::new(
            frontdesk_connectors::openid::OidcHttpClient::new()
                .context("building the OpenID Connect HTTP client")?,
        ),
        webhooks: Arc::new(
            frontdesk_connectors::webhook::HttpWebhooks::new()
                .context("building the outgoing webhook HTTP client")?,
        ),
    };
    let settings = Settings {
        public_url: public_url(config),
        access_log_retention_days: config.access_log.retention_days,
        hashing_limits: HashingLimits {
            memory_budget_mib: config.security.password_hash_memory_mib,
            max_waiting: config.security.password_hash_queue,
        },
        ..Settings::default()
    };
    Ok(Engine::new(db, ports, settings))
}

/// How often the TLS certificate files are looked at for a renewal.
const CERTIFICATE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

async fn serve(mut config: Config, demo: bool) -> Result<()> {
    raise_open_file_limit();
    // Before anything else, so a wrong path or key stops the start with the reason.
    let certificate = match config.tls.files().map_err(anyhow::Error::msg)? {
        Some((cert, key)) => Some(ReloadingCertificate::load(cert, key)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("listening on {}", config.bind))?;
    let address = listener.local_addr()?;
    config.bind = address.to_string();
    let db = open_database(&config).await?;
    let mut engine = build_engine(&config, db).await?;
    // The demo's kiosk and room pages work without pairing.
    std::sync::Arc::make_mut(&mut engine.settings).demo = demo;
    // Serving a tenant whose data key is missing would make it a new key and fail on every
    // value sealed under the old one: the operator decides first.
    if let Some(problem) = missing_data_keys(&engine, &config).await? {
        bail!("{problem}");
    }
    engine.ensure_chain_keys().await?;
    let base = engine.settings.public_url.clone();

    if demo {
        let seeded = engine.seed_demo().await?;
        println!("Frontdesk demo / デモ");
        println!("  tenant:   {}", seeded.tenant.slug);
        println!("  admin:    {}", frontdesk_core::engine::demo::ADMIN_EMAIL);
        match &seeded.admin_password {
            Some(password) => {
                println!("  password: {password}   (shown once / この一度だけ表示されます)")
            }
            None => println!("  password: (set on the first run / 初回起動時に表示済み)"),
        }
        println!(
            "  sign in:  POST {base}/api/v1/auth/login {{\"tenant\":\"demo\",\"email\":\"...\",\"password\":\"...\"}}"
        );
        println!("  open:     {base}/");
        // Employees sign in to the web chat by a mailed link; without SMTP it is a file.
        let mail_to = match &config.mail.smtp_url {
            Some(_) => "the demo employee's mailbox".to_owned(),
            None => format!("{}/*.eml", config.data_dir.join("mail").display()),
        };
        println!(
            "  web chat: {base}/chat   (tenant demo, e.g. alice@demo.example; the sign-in link: {mail_to})"
        );
        println!(
            "  kiosk:    {base}/kiosk/hq   (reception code {} / 受付コード)",
            frontdesk_core::engine::demo::VISITOR_CODE
        );
        println!(
            "  booking:  {base}/b/{}   (Alice's booking link / 佐藤の予約リンク)",
            frontdesk_core::engine::demo::BOOKING_LINK
        );
        println!("  API docs: {base}/api/v1/openapi.json");
        println!("  health:   {base}/healthz");
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    tokio::spawn({
        let engine = engine.clone();
        async move {
            if let Err(err) = engine.prepare_decoy().await {
                tracing::error!(error = %err, "preparing the sign-in decoy failed");
            }
        }
    });
    let mut jobs = standard_jobs();
    if matches!(engine.db, Db::Sqlite(_)) {
        jobs.push(backup::daily_job(&config));
    } else {
        tracing::info!(
            "no daily backup job on PostgreSQL: run `frontdesk backup --out FILE` (pg_dump) from cron"
        );
    }
    let scheduler = Scheduler::new(engine.clone(), jobs);
    let job_runner = tokio::spawn({
        let stop = stopped(stop_rx.clone());
        async move { scheduler.run_until(stop).await }
    });
    let dispatcher = tokio::spawn({
        let engine = engine.clone();
        let stop = stopped(stop_rx.clone());
        async move { engine.run_dispatcher(stop).await }
    });
    let calendar_syncer = tokio::spawn({
        let engine = engine.clone();
        let stop = stopped(stop_rx.clone());
        async move { engine.run_calendar_syncer(stop).await }
    });
    // Installed before "listening on" is printed, so a signal sent right after start-up
    // still shuts down gracefully instead of killing the process.
    let shutdown = shutdown_signal().context("installing the signal handlers")?;
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let mut state =
        frontdesk_webhooks::AppState::new(engine.clone(), config.security.trusted_proxies.clone());
    if let Some((slug, _, signing_secret)) = config.slack.settings().map_err(anyhow::Error::msg)? {
        let tenant = engine.tenant(slug).await?.with_context(|| {
            format!(
                "[slack] tenant {slug} does not exist (create it with `frontdesk admin create`)"
            )
        })?;
        state.slack = Some(Arc::new(frontdesk_webhooks::slack::SlackInbound {
            signing_secret: signing_secret.clone(),
            tenant_id: tenant.id,
        }));
    }
    if let Some((slug, settings)) = config.teams.settings().map_err(anyhow::Error::msg)? {
        let tenant = engine.tenant(slug).await?.with_context(|| {
            format!(
                "[teams] tenant {slug} does not exist (create it with `frontdesk admin create`)"
            )
        })?;
        state.teams = Some(Arc::new(frontdesk_webhooks::teams::TeamsInbound {
            verifier: frontdesk_bots::teams_events::Verifier::new(
                &settings.app_id,
                &config.teams.openid_metadata_url,
            ),
            tenant_id: tenant.id,
            allowed_service_hosts: config.teams.allowed_service_hosts.clone(),
        }));
    }
    if let (Some(discord), Some(bot)) = (
        config.discord.settings().map_err(anyhow::Error::msg)?,
        discord_bot(&config)?,
    ) {
        let slug = discord.tenant;
        let tenant = engine.tenant(slug).await?.with_context(|| {
            format!(
                "[discord] tenant {slug} does not exist (create it with `frontdesk admin create`)"
            )
        })?;
        state.discord = Some(Arc::new(frontdesk_webhooks::discord::DiscordInbound {
            verifier: discord.verifier,
            tenant_id: tenant.id,
            bot,
        }));
    }
    let metrics_server = match &config.metrics.bind {
        Some(bind) => {
            let metrics_listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("listening for [metrics] on {bind}"))?;
            let metrics_address = metrics_listener.local_addr()?;
            state.metrics_elsewhere = true;
            println!("metrics on http://{metrics_address}/metrics");
            let app = frontdesk_webhooks::metrics_app(state.clone());
            Some(tokio::spawn(frontdesk_webhooks::serve_router(
                metrics_listener,
                app,
                config.server.limits(),
                stopped(stop_rx.clone()),
            )))
        }
        None => None,
    };
    let app = frontdesk_webhooks::app(state);
    match certificate {
        Some(certificate) => {
            tokio::spawn(
                certificate
                    .clone()
                    .watch_files(CERTIFICATE_CHECK_INTERVAL, stopped(stop_rx.clone())),
            );
            println!("listening on https://{address}");
            tracing::info!(%address, "listening (TLS)");
            frontdesk_webhooks::serve_router_over_tls(
                listener,
                app,
                server_config(certificate),
                config.server.limits(),
                stopped(stop_rx),
            )
            .await?;
        }
        None => {
            println!("listening on http://{address}");
            tracing::info!(%address, "listening");
            frontdesk_webhooks::serve_router(
                listener,
                app,
                config.server.limits(),
                stopped(stop_rx),
            )
            .await?;
        }
    }
    if let Some(metrics_server) = metrics_server {
        let _ = metrics_server.await;
    }
    let _ = tokio::join!(job_runner, dispatcher, calendar_syncer);
    engine.db.close().await;
    Ok(())
}

/// Each connection holds a file descriptor, and the usual soft limit (1024) is far below
/// `[server] max_connections`; the hard limit is what the operator allows, so take it all.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open file limit"),
        Err(err) => tracing::warn!(error = %err, "could not raise the open file limit"),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled: until then the signals' default action (ending the
/// process at once) would still apply.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// `frontdesk calendar busy`: the busy time of an ICS file, one JSON object per line.
fn calendar_busy(file: &Path, from: &str, to: &str, zone: &str) -> Result<ExitCode> {
    let zone: chrono_tz::Tz = zone
        .parse()
        .map_err(|_| anyhow::anyhow!("--tz {zone:?} is not a time zone (like Asia/Tokyo)"))?;
    let midnight = |flag: &str, day: &str| -> Result<i64> {
        let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| anyhow::anyhow!("--{flag} {day:?} is not a date (YYYY-MM-DD)"))?;
        let local = date.and_time(chrono::NaiveTime::MIN);
        Ok(chrono::TimeZone::from_local_datetime(&zone, &local)
            .earliest()
            .map_or_else(|| local.and_utc().timestamp(), |at| at.timestamp()))
    };
    let (start, end) = (midnight("from", from)?, midnight("to", to)?);
    if end <= start {
        bail!("--to {to} must come after --from {from}");
    }
    if end - start > ics::MAX_RANGE_DAYS * 86_400 {
        bail!("the range is longer than {} days", ics::MAX_RANGE_DAYS);
    }
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > ics::MAX_FEED_BYTES {
        bail!(
            "{} is {size} bytes; feeds are read up to {} bytes",
            file.display(),
            ics::MAX_FEED_BYTES
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))?;
    let busy = ics::parse(&text).and_then(|feed| feed.busy(start, end, zone));
    let busy = match busy {
        Ok(busy) => busy,
        Err(err) => {
            eprintln!("error: {}: {err}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let utc = |seconds: i64| {
        chrono::DateTime::from_timestamp(seconds, 0)
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    for interval in busy {
        // RFC 3339 needs no JSON escaping.
        println!(
            r#"{{"start":"{}","end":"{}"}}"#,
            utc(interval.start),
            utc(interval.end)
        );
    }
    Ok(ExitCode::SUCCESS)
}
