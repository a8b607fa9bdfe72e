//! A raw JSON-RPC driver for the real binary: writes lines to its stdin, reads and
//! checks every stdout line, and collects stderr.

use serde_json::{Value, json};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

pub const BIN: &str = env!("CARGO_BIN_EXE_molecule-mcp");

pub struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    /// Every stdout line seen so far.
    pub lines: Vec<String>,
    pending: Vec<Value>,
}

impl Driver {
    /// Spawns the binary with exactly `env` and completes the MCP handshake.
    pub async fn start(env: &[(&str, &str)], args: &[&str]) -> Driver {
        let mut driver = Driver::spawn(env, args);
        driver
            .send(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"driver","version":"0"}}}))
            .await;
        driver.response(0).await;
        driver
            .send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
        driver
    }

    /// Spawns the binary with exactly `env`, with no handshake.
    pub fn spawn(env: &[(&str, &str)], args: &[&str]) -> Driver {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.env_clear()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        Driver {
            child,
            stdin,
            stdout,
            stderr,
            lines: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The next stdout line exactly as written (for byte-exact checks).
    pub async fn raw_line(&mut self) -> String {
        let line = tokio::time::timeout(Duration::from_secs(30), self.stdout.next_line())
            .await
            .expect("a stdout line within 30 s")
            .unwrap()
            .expect("stdout still open");
        self.lines.push(line.clone());
        line
    }

    /// Spawns the binary against the tenant at `uri` with the test key and org id,
    /// plus `extra` variables.
    pub async fn for_tenant(uri: &str, extra: &[(&str, &str)]) -> Driver {
        let mut env = vec![
            ("MOLECULE_API_URL", uri),
            ("MOLECULE_ORG_API_KEY", crate::common::KEY),
            ("MOLECULE_ORG_ID", crate::common::ORG_ID),
        ];
        env.extend_from_slice(extra);
        Driver::start(&env, &[]).await
    }

    pub async fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub async fn send(&mut self, message: Value) {
        self.send_raw(&message.to_string()).await;
    }

    pub async fn call(&mut self, id: i64, tool: &str, args: Value) {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":args}})).await;
    }

    /// Reads one stdout line; it must be a JSON-RPC 2.0 message.
    async fn read_message(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.stdout.next_line())
            .await
            .expect("a stdout line within 30 s")
            .unwrap()
            .expect("stdout still open");
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        self.lines.push(line);
        message
    }

    /// The next stdout message.
    pub async fn next(&mut self) -> Value {
        if !self.pending.is_empty() {
            return self.pending.remove(0);
        }
        self.read_message().await
    }

    /// The response with this id (other messages are kept for later).
    pub async fn response(&mut self, id: i64) -> Value {
        if let Some(i) = self.pending.iter().position(|m| m["id"] == json!(id)) {
            return self.pending.remove(i);
        }
        loop {
            let message = self.read_message().await;
            if message["id"] == json!(id) {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// Closes stdin and waits for the exit; returns the status, all of stderr and every
    /// stdout line.
    pub async fn finish(mut self) -> (ExitStatus, String, Vec<String>) {
        drop(self.stdin.take());
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_secs(10), self.stdout.next_line()).await
        {
            serde_json::from_str::<Value>(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            self.lines.push(line);
        }
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("exits")
            .unwrap();
        (status, self.stderr.await.unwrap(), self.lines)
    }
}

/// The envelope or result JSON inside a tools/call response.
pub fn result_json(response: &Value) -> Value {
    let text = response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content: {response}"));
    serde_json::from_str(text).unwrap()
}
