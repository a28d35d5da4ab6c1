//! Test harness: a `redis-server` of the test's own on a free port, or the
//! server `REDIS_URL` names.
//!
//! Never 127.0.0.1:6379 unless `REDIS_URL` says so: a shared server may
//! run there. When `redis-server` is missing and `REDIS_URL` is unset the
//! tests fail with instructions; they never skip.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use streammon_redis::RedisConfig;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A `redis-server` child process, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    /// The TLS port, when started with [`start_tls`](Self::start_tls).
    pub tls_port: Option<u16>,
    dir: PathBuf,
    persistent: bool,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

impl RedisServer {
    /// A throwaway server: no snapshots, no append-only file.
    pub fn start() -> Self {
        Self::spawn(free_port(), false)
    }

    /// A server whose every acknowledged write survives SIGKILL
    /// (`appendfsync always`), for the fault tests.
    pub fn start_durable() -> Self {
        Self::spawn(free_port(), true)
    }

    /// A throwaway server that also speaks TLS on `tls_port`, with the
    /// test certificates in `tests/tls/`.
    pub fn start_tls() -> Self {
        let mut server = Self::spawn_stopped(free_port(), false);
        server.tls_port = Some(free_port());
        server.restart();
        server
    }

    fn spawn(port: u16, persistent: bool) -> Self {
        let mut server = Self::spawn_stopped(port, persistent);
        server.restart();
        server
    }

    fn spawn_stopped(port: u16, persistent: bool) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "streammon-redis-test-{}-{}-{port}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        Self { port, tls_port: None, dir, persistent, child: None }
    }

    /// Starts the server (again) on the same port and directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""]);
        cmd.arg("--dir").arg(&self.dir);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        if let Some(tls) = self.tls_port {
            let certs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
            cmd.arg("--tls-port").arg(tls.to_string());
            cmd.arg("--tls-cert-file").arg(certs.join("server.crt"));
            cmd.arg("--tls-key-file").arg(certs.join("server.key"));
            cmd.arg("--tls-ca-cert-file").arg(certs.join("ca.crt"));
            cmd.args(["--tls-auth-clients", "no"]);
        }
        cmd.args(["--daemonize", "no"]).stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start redis-server ({e}). The Redis tests need it: install it \
                 (apt-get install redis-server) or set REDIS_URL to a server they may write to"
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping(self.port) {
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer PING", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs the server, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 64];
    s.write_all(b"PING\r\n").is_ok() && matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

/// Where a test's data goes: its own server, or `REDIS_URL` under a
/// prefix of its own.
#[derive(Debug)]
pub struct Target {
    pub server: Option<RedisServer>,
    pub config: RedisConfig,
}

impl Drop for Target {
    /// On a shared server (`REDIS_URL`), deletes every key of the test's
    /// prefix; an own server just goes.
    fn drop(&mut self) {
        if self.server.is_some() {
            return;
        }
        let Some(url) = self.config.url.clone() else { return };
        let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) else { return };
        let pattern = format!("{}*", self.config.prefix);
        let keys: Vec<String> = match redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut conn)
        {
            Ok(iter) => iter.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
    }
}

/// A fresh target: every key (the history list too) under a prefix no
/// other test uses.
pub fn target() -> Target {
    let prefix = format!("streammon-test:{}:{}:", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let base =
        RedisConfig { prefix: prefix.clone(), history_key: format!("{prefix}metrics_history"), ..Default::default() };
    match std::env::var("REDIS_URL").ok().filter(|u| !u.trim().is_empty()) {
        Some(url) => Target { server: None, config: RedisConfig { url: Some(url), ..base } },
        None => {
            let server = RedisServer::start();
            Target { config: RedisConfig { url: Some(server.url()), ..base }, server: Some(server) }
        }
    }
}

/// A raw connection for checking what the store wrote.
pub async fn raw(config: &RedisConfig) -> redis::aio::MultiplexedConnection {
    let url = config.url.clone().expect("tests connect by url");
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}
