//! `memo`: serve the memo app, migrate its database, or add a user.
//!
//! Run with `cargo run -p memo` (serves on http://127.0.0.1:8000); see
//! `memo --help` for every setting.

use std::{
    io::{BufRead as _, IsTerminal as _, Write as _},
    process::ExitCode,
};

use anyhow::{Context as _, bail};
use clap::Parser as _;
use memo::{
    App, Config,
    cli::{Cli, Command, Settings, UserCommand},
    config,
    db::{Db, NewUser},
    domain::{Password, UserName},
    password::Passwords,
    telemetry,
};

/// jemalloc instead of glibc's malloc: every request allocates (headers,
/// claims, rows, JSON), and glibc's malloc and free were a sixth of a status
/// request's instructions; jemalloc takes 11% off a status request and 8% off
/// a page of the list (bench/instructions.sh, docs/performance.md). It also
/// gives the 19 MiB argon2 block of each login back to the system when it is
/// freed (allocations that large get an arena that purges at once), which
/// glibc did only with a fixed mmap threshold. Not on MSVC, where it does not
/// build.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log_writer = match telemetry::init(cli.settings.log_format) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("memo: cannot start the log writer: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("memo: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("memo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.settings).await,
        Command::Migrate => {
            let db = open_db(&cli.settings).await?;
            db.close().await;
            println!("migrations applied ({})", db.backend());
            Ok(())
        }
        Command::User(UserCommand::Add {
            name,
            manager,
            department,
        }) => add_user(&cli.settings, name, manager, department).await,
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let files = memo::serve::raise_file_limit();
    tracing::info!(open_file_limit = ?files, "open-file limit");
    let config = Config::from_settings(settings)?;
    let app = App::build(config).await?;
    let stop = memo::app::shutdown_signal();
    // The one line on standard output: scripts and tests read the port here.
    println!("memo listening on http://{}", app.local_addr());
    std::io::stdout()
        .flush()
        .context("writing to standard output")?;
    tracing::info!(address = %app.local_addr(), "listening");
    app.run_until(stop).await.context("serving")?;
    Ok(())
}

async fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    Ok(memo::app::open_db(&config::database_url(settings)?).await?)
}

async fn add_user(
    settings: &Settings,
    name: String,
    manager: bool,
    department: Option<String>,
) -> anyhow::Result<()> {
    let name = UserName::parse(name).map_err(anyhow::Error::msg)?;
    let password = Password::parse(read_password()?).map_err(anyhow::Error::msg)?;
    let db = open_db(settings).await?;
    let hash = Passwords::new().await?.hash(password).await?;
    let new = NewUser {
        user_name: name.as_str(),
        password_hash: &hash,
        department: department.as_deref(),
        manager_role_attached: manager,
    };
    let created = db.insert_user(&new).await?;
    db.close().await;
    let Some(user) = created else {
        bail!("the user name {:?} is already taken", name.as_str());
    };
    println!(
        "created user {:?} (id {}{})",
        user.user_name,
        user.id,
        if user.manager_role_attached {
            ", manager"
        } else {
            ""
        }
    );
    Ok(())
}

/// The password from a prompt (asked twice) or from standard input's first
/// line when it is not a terminal (for scripts: `echo "$PW" | memo user add`).
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again =
            rpassword::prompt_password("Password again: ").context("reading the password")?;
        if first != again {
            bail!("the passwords do not match");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}
