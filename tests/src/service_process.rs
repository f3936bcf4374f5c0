//! A service binary under test: started with its `Command`, its address read from its
//! `listening on http://ADDR` log line, stopped with SIGTERM, killed if the test fails.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running service process; dropping it kills the process.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    address: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Spawns `command` (stdout piped, stderr inherited) and waits at most `timeout` for the
    /// address it logs as `listening on http://ADDR` (ADDR ends at a quote or a space).
    ///
    /// # Panics
    /// When the process cannot start or logs no address in time: the test fails.
    pub fn spawn(mut command: Command, timeout: Duration) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the service starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, addresses) = std::sync::mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut kept) = kept.lock() {
                    kept.push(line.clone());
                }
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let address: String = rest
                        .chars()
                        .take_while(|c| *c != '"' && !c.is_whitespace())
                        .collect();
                    let _ = sender.send(address);
                }
            }
        });
        let mut service = Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout: lines,
        };
        let address = addresses
            .recv_timeout(timeout)
            .expect("the service logs `listening on http://...`");
        service.address = address
            .parse()
            .unwrap_or_else(|error| panic!("{address:?} is not a socket address: {error}"));
        service
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The lines it has written to stdout so far (its JSON log lines).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (with `kill -TERM`) and waits at most `timeout` for the process to exit.
    ///
    /// # Panics
    /// When the signal cannot be sent or the process outlives `timeout`.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.is_ok_and(|status| status.success()),
            "kill -TERM {pid}"
        );
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("waits on the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {timeout:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
