//! Finds the system libjpeg-turbo through pkg-config when the `turbojpeg` feature is on (the
//! `#[link]` in `src/turbo.rs` names the library; this adds its search path on systems such as
//! Homebrew's).

fn main() {
    #[cfg(feature = "turbojpeg")]
    if let Err(e) = pkg_config::Config::new()
        .cargo_metadata(true)
        .probe("libturbojpeg")
    {
        println!(
            "cargo:warning=libturbojpeg not found by pkg-config ({e}); install libturbojpeg0-dev (Debian) or jpeg-turbo (Homebrew), or build without the turbojpeg feature"
        );
    }
}
