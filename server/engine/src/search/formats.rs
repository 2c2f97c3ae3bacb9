//! The file formats `type:` accepts, by the names people use for them.

/// The file formats `type:` accepts, with the other names people use for them. Each camera
/// raw format is accepted by its own name too (`type:nef`), and `type:raw` means any of them.
const FORMATS: [(&str, &[&str]); 11] = [
    ("jpeg", &["jpg", "jpe", "jfif"]),
    ("png", &["apng"]),
    ("gif", &[]),
    ("webp", &[]),
    ("heic", &["heif", "hif"]),
    ("avif", &[]),
    ("tiff", &["tif"]),
    ("bmp", &[]),
    ("mpo", &[]),
    ("pnm", &["ppm", "pgm", "pbm", "pam"]),
    ("raw", &[]),
];

/// The catalog's name for a format a user typed.
pub(super) fn format_of(value: &str) -> Result<String, String> {
    let v = value.trim_start_matches('.').to_ascii_lowercase();
    if let Some(raw) = crate::media::RAW_FORMATS.iter().find(|r| **r == v) {
        return Ok((*raw).to_owned());
    }
    FORMATS
        .iter()
        .find(|(name, aliases)| *name == v || aliases.contains(&v.as_str()))
        .map(|(name, _)| (*name).to_owned())
        .ok_or_else(|| {
            let known: Vec<&str> = FORMATS.iter().map(|(n, _)| *n).collect();
            format!("type: is one of {}, not {value:?}", known.join(", "))
        })
}
