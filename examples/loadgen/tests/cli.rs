//! The binary's exit codes: 0 for `--help` and after a run, 2 for bad flags, 1 when nothing
//! answers at the URL.

use std::process::Command;

fn loadgen(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_bad_flags_and_an_unreachable_service() {
    let (code, stdout, _) = loadgen(&["--help"]);
    assert_eq!(code, Some(0));
    for scenario in [
        "steady",
        "drift",
        "errors",
        "spike",
        "faults",
        "ab",
        "--allow-debug-headers",
    ] {
        assert!(stdout.contains(scenario), "{scenario}: {stdout}");
    }
    let (code, _, stderr) = loadgen(&["--scenario", "chaos"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unknown scenario"), "{stderr}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, stdout, stderr) = loadgen(&["--url", &url, "--requests", "3"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
}
