//! The command line as a user meets it.

use crate::util::trove;

#[test]
fn help_documents_every_shared_option() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = trove(tmp.path()).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--data-dir",
        "TROVE_DATA_DIR",
        "--library",
        "TROVE_LIBRARY",
        "--model",
        "--device",
        "--config",
        "serve",
        "config.toml",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn a_bad_config_file_fails_with_a_message_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("trove.toml");
    std::fs::write(&config, "device = \"quantum\"\n").expect("write");
    let out = trove(tmp.path())
        .env("TROVE_CONFIG", &config)
        .arg("serve")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("trove.toml") && err.contains("quantum"),
        "stderr: {err}"
    );
}
