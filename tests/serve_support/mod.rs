//! A real `serve` child process for the live tests: `serve REC --port 0 --speed SPEED`, and
//! the URL it prints; killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Serve(Child, pub String);

impl Serve {
    pub fn start(bin: &str, rec: &str, speed: &str) -> Serve {
        let mut child = Command::new(bin)
            .args(["serve", rec, "--port", "0", "--speed", speed])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("ws://"), "serve printed {line:?}");
        Serve(child, line.trim().to_string())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
