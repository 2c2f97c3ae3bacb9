//! A real server over a library of generated images, crawled with the demo model: the common
//! ground of the search and admin tests.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use trove_models::synth::{write_set, Output, Split};

use crate::util::{get, start_server, trove, Server};

/// The generator seed of the library.
pub const SEED: u64 = 21;
/// Its images.
pub const COUNT: u64 = 120;

/// `GET path` as JSON (`null` when the body is not JSON).
pub fn json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let r = get(addr, path);
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// A server over `COUNT` generated images, once its first crawl has finished.
pub fn server(tmp: &Path) -> Server {
    server_with(tmp, &[])
}

/// The same with more environment variables.
pub fn server_with(tmp: &Path, env: &[(&str, &str)]) -> Server {
    let lib = tmp.join("lib");
    write_set(&lib, SEED, Split::Test, COUNT, 192, Output::Png, &|_| {}).expect("generates");
    let mut cmd = trove(&tmp.join("data"));
    cmd.args(["--model", "trove/demo-clip", "--device", "cpu", "--library"])
        .arg(&lib)
        .envs(env.iter().copied());
    let server = start_server(cmd);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, body) = json(server.addr, "/api/status");
        assert_eq!(status, 200);
        if body["state"] == "ready"
            && !body["crawl"]["running"].as_bool().unwrap_or(true)
            && body["counts"]["embedded"] == COUNT
        {
            break;
        }
        assert!(body["state"] != "error", "{body:#}");
        assert!(Instant::now() < deadline, "crawl did not finish: {body:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

/// The ids of a results page.
pub fn ids(page: &Value) -> Vec<i64> {
    page["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["id"].as_i64())
        .collect()
}
