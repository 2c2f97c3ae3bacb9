//! The admin token and what only the command line may do: `trove admin-token [--rotate]`, the
//! admin link kept out of logs, loopback admin switched off behind a proxy, a token file others
//! can read refused, and the whole disk as a library only when forced.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::util::{post, request_with, start_server, trove};

#[test]
fn the_admin_token_is_kept_private() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let first = trove(&data)
        .arg("admin-token")
        .output()
        .expect("trove admin-token");
    assert!(first.status.success());
    let first = String::from_utf8_lossy(&first.stdout)
        .lines()
        .next()
        .map(str::to_owned);
    let rotated = trove(&data)
        .args(["admin-token", "--rotate"])
        .output()
        .expect("rotate");
    let rotated = String::from_utf8_lossy(&rotated.stdout)
        .lines()
        .next()
        .map(str::to_owned);
    assert!(first.is_some() && rotated.is_some() && first != rotated);
    assert_eq!(
        std::fs::read_to_string(data.join("admin-token"))
            .ok()
            .map(|t| t.trim().to_owned()),
        rotated
    );

    // Served to a pipe, the admin link is not printed: a log may be read by others.
    let mut child = trove(&data)
        .args(["--model", "trove/demo-clip", "--device", "cpu"])
        .args(["serve", "--lan", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let printed: Vec<String> = lines.by_ref().take(3).map(|l| l.expect("line")).collect();
    let _ = child.kill();
    let _ = child.wait();
    let printed = printed.join("\n");
    assert!(
        printed.contains("trove admin-token") && !printed.contains("token="),
        "{printed}"
    );

    // Behind a proxy that adds no headers, loopback admin can be turned off; the token works.
    let mut cmd = trove(&data);
    cmd.args(["--model", "trove/demo-clip", "--device", "cpu"])
        .env("TROVE_NO_LOOPBACK_ADMIN", "true");
    let server = start_server(cmd);
    let token = std::fs::read_to_string(data.join("admin-token")).expect("token");
    let bearer = format!("Bearer {}", token.trim());
    assert_eq!(post(server.addr, "/api/crawl/stop").status, 403);
    let r = request_with(
        server.addr,
        "POST",
        "/api/crawl/stop",
        &[("Authorization", &bearer)],
        b"",
    );
    assert!((200..300).contains(&r.status), "{} {}", r.status, r.body);
    drop(server);

    // A token file others can read is refused, with the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            data.join("admin-token"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        let out = trove(&data)
            .args([
                "--model",
                "trove/demo-clip",
                "serve",
                "--addr",
                "127.0.0.1:0",
            ])
            .output()
            .expect("serve");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("chmod 600"), "{err}");
    }

    // The whole disk is a library only when forced.
    let out = trove(&data)
        .args(["--library", "/", "status"])
        .output()
        .expect("status");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-broad-library"));
    let out = trove(&data)
        .args(["--library", "/", "--allow-broad-library", "status"])
        .output()
        .expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
