//! `trove admin-token [--rotate]`: the admin link's token, shown only to whoever can run
//! commands as this user on this machine (the server prints the link only to a terminal).

use std::io::Write;

use crate::settings::Settings;
use crate::web::access::AdminToken;

/// Prints the admin token and link; with `rotate`, makes a new token first (a running server
/// keeps the old one until it restarts).
pub fn token(settings: &Settings, rotate: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let token = if rotate {
        AdminToken::rotate(&settings.data_dir)?
    } else {
        AdminToken::load_or_create(&settings.data_dir)?
    };
    let host = crate::web::lan_ip().map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string());
    let port = settings.addr.map_or(3000, |a| a.port());
    writeln!(out, "{}", token.token())?;
    writeln!(
        out,
        "admin link, keep it private: http://{host}:{port}/admin?token={}",
        token.token()
    )?;
    if rotate {
        writeln!(
            out,
            "the old token no longer works once the server restarts; restart it now"
        )?;
    }
    Ok(())
}
