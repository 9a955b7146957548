//! The `drop-day` binary, interrupted: run `smoke` with stderr piped, send SIGINT once the
//! drop window starts, and check that the run prints progress lines without a terminal
//! (phase, counts, ETA), exits 130 with a partial report (stdout and report.json), and leaves
//! nothing in its temporary folder (`TMPDIR` points at a fresh one).
//!
//! `DROP_DAY_BIN` runs another build of the binary (to see an old one fail: it dies of the
//! signal, prints no report and leaves its SQLite folder behind).

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn sigint_gives_a_partial_report_and_removes_the_temporary_database() {
    let bin = std::env::var("DROP_DAY_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_drop-day").to_string());
    let root = tempfile::tempdir().unwrap();
    let tmp = root.path().join("tmp");
    let out = root.path().join("out");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = Command::new(&bin)
        .args(["--scenario", "smoke", "--out"])
        .arg(&out)
        .env("TMPDIR", &tmp)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });

    // Progress arrives although stderr is a pipe; interrupt once the drop window starts.
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut sent = false;
    while started.elapsed() < Duration::from_secs(240) {
        match lines_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let window = line.contains("2/4 drop window") && line.contains("started");
                seen.push(line);
                if window {
                    let status = Command::new("kill")
                        .args(["-INT", &pid.to_string()])
                        .status()
                        .unwrap();
                    assert!(status.success());
                    sent = true;
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    assert!(
        sent,
        "no progress line for the drop window on a piped stderr:\n{}",
        seen.join("\n")
    );
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(400) {
            let _ = child.kill();
            panic!("drop-day did not end after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    reader.join().unwrap();
    seen.extend(lines_rx.try_iter());
    let stdout = stdout_reader.join().unwrap();
    let stderr = seen.join("\n");

    let orders_line = seen
        .iter()
        .find(|l| l.contains("1/4 orders:") && l.contains("(done)"))
        .unwrap_or_else(|| panic!("no final progress line for the orders:\n{stderr}"));
    assert!(
        orders_line.contains("names (100%)") && orders_line.contains("ETA"),
        "{orders_line}"
    );
    assert_eq!(
        status.code(),
        Some(130),
        "{status:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("INTERRUPTED during drop window: a partial report"),
        "{stdout}"
    );
    assert!(stdout.contains("orders by final status:"), "{stdout}");
    let json = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(json.contains("\"interrupted\": \"drop window\""), "{json}");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
}
