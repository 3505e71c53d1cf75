//! `frontdesk`: the command line, configuration and wiring. It reads the configuration,
//! builds the engine with its concrete ports, and serves; the work itself lives in
//! `frontdesk-core` (engine) and `frontdesk-webhooks` (HTTP edge).

mod config;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use frontdesk_connectors::mail::{FileMailer, SmtpMailer};
use frontdesk_core::domain::people::Role;
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::hashing::HashingLimits;
use frontdesk_core::engine::scheduler::{Scheduler, standard_jobs};
use frontdesk_core::engine::{Engine, Settings};
use frontdesk_core::i18n::Lang;
use frontdesk_core::port::{Mailer, Ports, SystemClock};
use frontdesk_core::store::Db;
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
        Command::Serve { demo, bind } => {
            if let Some(bind) = bind {
                config.bind = bind;
            }
            init_logging(config.log_format);
            serve(config, demo).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = open_database(&config).await?;
            db.close().await;
            println!("migrations applied");
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
            let engine = build_engine(&config, open_database(&config).await?)?;

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
        Command::AccessLog {
            command: AccessLogCommand::Verify,
        } => {
            let engine = build_engine(&config, open_database(&config).await?)?;
            let mut broken = false;
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

async fn open_database(config: &Config) -> Result<Db> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data dir {}", config.data_dir.display()))?;
    }
    let db = Db::connect(&url).await.context("opening the database")?;
    db.migrate().await.context("migrating the database")?;
    Ok(db)
}

fn public_url(config: &Config) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.bind))
}

fn build_engine(config: &Config, db: Db) -> Result<Engine> {
    let mailer: Arc<dyn Mailer> = match &config.mail.smtp_url {
        Some(url) => Arc::new(SmtpMailer::new(url.expose_secret(), &config.mail.from)?),
        None => Arc::new(FileMailer::new(
            config.data_dir.join("mail"),
            &config.mail.from,
        )?),
    };
    let ports = Ports {
        clock: Arc::new(SystemClock),
        mailer,
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

async fn serve(mut config: Config, demo: bool) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("listening on {}", config.bind))?;
    let address = listener.local_addr()?;
    config.bind = address.to_string();
    let db = open_database(&config).await?;
    let engine = build_engine(&config, db)?;
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
    let scheduler = Scheduler::new(engine.clone(), standard_jobs());
    let jobs = tokio::spawn({
        let stop = stopped(stop_rx.clone());
        async move { scheduler.run_until(stop).await }
    });
    let dispatcher = tokio::spawn({
        let engine = engine.clone();
        let stop = stopped(stop_rx.clone());
        async move { engine.run_dispatcher(stop).await }
    });
    // Installed before "listening on" is printed, so a signal sent right after start-up
    // still shuts down gracefully instead of killing the process.
    let shutdown = shutdown_signal().context("installing the signal handlers")?;
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let state =
        frontdesk_webhooks::AppState::new(engine.clone(), config.security.trusted_proxies.clone());
    println!("listening on http://{address}");
    tracing::info!(%address, "listening");
    frontdesk_webhooks::serve(listener, state, stopped(stop_rx)).await?;
    let _ = tokio::join!(jobs, dispatcher);
    engine.db.close().await;
    Ok(())
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
