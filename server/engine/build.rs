//! Finds the system libjpeg-turbo and libtiff through pkg-config when the `turbojpeg` and
//! `libtiff` features are on (the `#[link]` in `src/media/turbo.rs` names libjpeg-turbo; this adds
//! its search path on systems such as Homebrew's), and compiles the libtiff shim
//! (`csrc/tiff_shim.c`) against libtiff's headers.

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
    #[cfg(feature = "libtiff")]
    {
        println!("cargo:rerun-if-changed=csrc/tiff_shim.c");
        let tiff = pkg_config::Config::new()
            .atleast_version("4.5")
            .cargo_metadata(true)
            .probe("libtiff-4")
            .unwrap_or_else(|e| {
                panic!(
                    "libtiff 4.5 or later not found by pkg-config ({e}); install libtiff-dev (Debian) or libtiff (Homebrew), or build without the libtiff feature"
                )
            });
        let mut build = cc::Build::new();
        build.file("csrc/tiff_shim.c").warnings(true);
        for dir in &tiff.include_paths {
            build.include(dir);
        }
        build.compile("trove_tiff_shim");
    }
}
