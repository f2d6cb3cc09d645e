//! The `memo` binary as scripts run it: a clean environment, a free port,
//! and the one `memo listening on http://...` line on standard output.

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, ChildStdout, Command, ExitStatus, Stdio},
};

/// A running `memo serve`; dropping it kills the process if it still runs,
/// so no server outlives its test.
#[derive(Debug)]
pub struct MemoProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The rest of standard output, after the listening line.
    pub stdout: BufReader<ChildStdout>,
}

impl MemoProcess {
    /// `memo` with nothing from the test's environment but `PATH`: the data
    /// dir `data_dir`, a free port on 127.0.0.1, logs at `warn`. Add `.env`
    /// and `.args` for the rest.
    #[must_use]
    pub fn command(data_dir: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_memo"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MEMO_DATA_DIR", data_dir)
            .env("MEMO_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "warn");
        command
    }

    /// [`command`](Self::command), started through `sh` with the soft
    /// open-file limit lowered to `soft` first (as many service managers
    /// start a process).
    #[must_use]
    pub fn command_with_file_limit(data_dir: &Path, soft: u64) -> Command {
        Self::command_after_sh(data_dir, &format!("ulimit -S -n {soft}"))
    }

    /// [`command`](Self::command), started through `sh -c '<prelude> && exec
    /// memo'`, e.g. to set the umask or a limit first.
    #[must_use]
    pub fn command_after_sh(data_dir: &Path, prelude: &str) -> Command {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{prelude} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_memo"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MEMO_DATA_DIR", data_dir)
            .env("MEMO_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "warn");
        command
    }

    /// The resident set size, from `/proc/<pid>/status`, in KiB.
    #[must_use]
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Starts `command` (a `memo [serve]`) and waits for its listening line.
    ///
    /// # Panics
    /// When memo does not start or its first line is not the listening line.
    #[must_use]
    pub fn start(command: &mut Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).spawn().expect("memo starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let address = line
            .trim()
            .strip_prefix("memo listening on ")
            .map(str::to_owned);
        let Some(address) = address.filter(|_| read.is_ok()) else {
            let _ = child.kill();
            let status = child.wait();
            panic!("memo did not start ({status:?}); first line: {line:?}");
        };
        Self {
            child,
            address,
            stdout,
        }
    }

    /// `address` + `path`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as service managers do.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM");
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for it to exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("memo exits")
    }
}

impl Drop for MemoProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}
