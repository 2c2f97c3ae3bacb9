//! `trove serve` answers real HTTP on 127.0.0.1.

use crate::util::{get, start_server, trove};

#[test]
fn serves_health_and_server_rendered_pages() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("data");
    let mut cmd = trove(&data_dir);
    cmd.env("TROVE_LIBRARY", "/photos/one:/photos/two")
        .env("TROVE_MODEL", "google/siglip-base-patch16-224");
    let server = start_server(cmd);

    let health = get(server.addr, "/api/health");
    assert_eq!(health.status, 200);
    assert!(health.body.contains("\"status\":\"ok\""), "{}", health.body);

    let home = get(server.addr, "/");
    assert_eq!(home.status, 200);
    assert!(home
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    for needle in [
        "/photos/one",
        "/photos/two",
        "google/siglip-base-patch16-224",
    ] {
        assert!(home.body.contains(needle), "home page lacks {needle}");
    }
    assert!(
        home.body.contains("not installed")
            && home
                .body
                .contains("trove model pull google/siglip-base-patch16-224"),
        "the home page says the model is missing and how to get it"
    );
    assert!(data_dir.is_dir(), "the data directory is created at start");

    let missing = get(server.addr, "/no/such/page");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("This page does not exist."));
}
