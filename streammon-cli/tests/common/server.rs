//! A running `streammon serve` and a `redis-server` of the test's own,
//! for the tests that watch the server as a process: signals, exit codes,
//! a stalled Redis.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A port nobody listens on.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// One HTTP reply, and how long it took.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// Header lines, lower-cased names.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    pub(crate) took: Duration,
}

impl Reply {
    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A running `streammon serve`, killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    log: mpsc::Receiver<String>,
    pub(crate) lines: Vec<String>,
}

impl Server {
    /// Starts `streammon serve` with `args` and `env` on a free port, and
    /// waits for it to go live.
    pub(crate) fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_streammon"));
        cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .env_remove("REDIS_URL")
            .env_remove("REDIS_HOST")
            .env_remove("STREAMMON_DEBUG_PANIC_AFTER_TICKS")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start streammon serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Self { child, port, log, lines: Vec::new() };
        server.wait_for("live: ticks paced", Duration::from_secs(60));
        server
    }

    /// Waits for a log line holding `text`; panics with the log past
    /// `limit`.
    pub(crate) fn wait_for(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.log.recv_timeout(Duration::from_millis(20)) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.lines.push(line);
                    if found {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("no log line with {text:?} within {limit:?}; log:\n{}", self.lines.join("\n"));
    }

    /// Sends one request; `body` makes it a JSON POST.
    pub(crate) fn request(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let started = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\nConnection: close\r\n");
        if let Some(body) = body {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        write!(s, "{head}\r\n{}", body.unwrap_or("")).expect("send");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let took = started.elapsed();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).expect("status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply { status, headers, body: body.to_owned(), took }
    }

    /// `GET path`.
    pub(crate) fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None)
    }

    /// Sends SIGTERM.
    pub(crate) fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Sends the signal `name` (`TERM`, `INT`).
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        Command::new("kill").args([&format!("-{name}"), &pid]).status().expect("kill");
    }

    /// Waits for the process to exit, at most `limit`; its status and the
    /// rest of its log.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                while let Ok(line) = self.log.recv_timeout(Duration::from_millis(200)) {
                    self.lines.push(line);
                }
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("serve did not exit within {limit:?}; log:\n{}", self.lines.join("\n"));
    }

    /// The log so far, for assertion messages.
    pub(crate) fn log(&mut self) -> String {
        while let Ok(line) = self.log.try_recv() {
            self.lines.push(line);
        }
        self.lines.join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` of the test's own on a free port (never the shared
/// one on 6379), killed on drop.
pub(crate) struct Redis {
    child: Child,
    pub(crate) port: u16,
}

impl Redis {
    /// Starts it and waits until it takes connections.
    pub(crate) fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is needed for this test: apt-get install redis-server (./test.sh does)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    /// Runs `redis-cli` against it; its output, trimmed.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let out =
            Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Freezes the process (SIGSTOP): connections stay open, nothing is
    /// answered. The way a stalled Redis looks from outside.
    pub(crate) fn stall(&self) {
        Command::new("kill").args(["-STOP", &self.child.id().to_string()]).status().expect("kill -STOP");
    }

    /// Lets it run again (SIGCONT).
    pub(crate) fn resume(&self) {
        Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status().expect("kill -CONT");
    }

    /// The environment that points `streammon serve` at it.
    pub(crate) fn env(&self) -> [(&'static str, String); 2] {
        [("REDIS_HOST", "127.0.0.1".to_owned()), ("REDIS_PORT", self.port.to_string())]
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
