//! What guests do not see unless the server says they may (`guests_see_paths`): where files
//! live on the server (absolute paths become file or folder names) and where photos were taken
//! (GPS positions). Applied by the server to every answer a guest gets, pages and API alike.

use crate::types::{ImageInfo, LibraryList, LibraryStatus, SearchPage, ServerInfo, Span, Why};

/// An answer that can be made fit for a guest.
pub trait HidePaths {
    /// Removes absolute paths (keeping names) and positions.
    fn hide_paths(&mut self);
}

/// The last part of a path: `/home/me/Pictures/cat.jpg` → `cat.jpg`.
pub fn name_of(path: &str) -> String {
    let trimmed = path.trim_end_matches(['/', '\\']);
    match trimmed.rsplit(['/', '\\']).next() {
        Some(name) if !name.is_empty() => name.to_owned(),
        // The root itself (`/`) names nothing private.
        _ => path.to_owned(),
    }
}

/// `text` with each of `roots` (absolute folders) replaced by its name.
fn without_roots(text: &str, roots: &[String]) -> String {
    let mut roots: Vec<&String> = roots.iter().filter(|r| r.len() > 1).collect();
    // Longest first, so a nested root is replaced whole.
    roots.sort_by_key(|r| std::cmp::Reverse(r.len()));
    roots.into_iter().fold(text.to_owned(), |t, root| {
        t.replace(root.as_str(), &name_of(root))
    })
}

impl HidePaths for SearchPage {
    fn hide_paths(&mut self) {
        for hit in &mut self.hits {
            hit.path = name_of(&hit.path);
            hit.why.name = file_name_spans(&hit.why.name);
        }
    }
}

/// The file name part of a marked path (nothing when no mark falls in it): what matched in
/// folder names is not shown to guests.
fn file_name_spans(spans: &[Span]) -> Vec<Span> {
    let path = Why::plain(spans);
    let skip = path
        .rfind(['/', '\\'])
        .map_or(0, |i| path[..=i].chars().count());
    let mut out: Vec<Span> = Vec::new();
    let mut at = 0;
    for s in spans {
        let n = s.text.chars().count();
        if at + n > skip {
            let text: String = s.text.chars().skip(skip.saturating_sub(at)).collect();
            out.push(Span { text, hit: s.hit });
        }
        at += n;
    }
    if out.iter().any(|s| s.hit) {
        out
    } else {
        Vec::new()
    }
}

impl HidePaths for ImageInfo {
    fn hide_paths(&mut self) {
        self.path = name_of(&self.path);
        self.gps_lat = None;
        self.gps_lon = None;
    }
}

impl HidePaths for LibraryStatus {
    fn hide_paths(&mut self) {
        let roots = std::mem::take(&mut self.roots);
        let hide = |t: &mut String| *t = without_roots(t, &roots);
        if let Some(t) = self.error.as_mut() {
            hide(t);
        }
        if let Some(t) = self.crawl_error.as_mut() {
            hide(t);
        }
        if let Some(t) = self.last_crawl.as_mut().and_then(|c| c.message.as_mut()) {
            hide(t);
        }
        for skipped in &mut self.skipped {
            skipped.path = name_of(&skipped.path);
            hide(&mut skipped.reason);
        }
        if self.model.starts_with('/') {
            self.model = name_of(&self.model);
        }
        self.roots = roots.iter().map(|r| name_of(r)).collect();
        // It names the data directory and what an admin should run.
        self.text.note = None;
        self.captions.note = None;
    }
}

impl HidePaths for LibraryList {
    fn hide_paths(&mut self) {
        for root in &mut self.libraries {
            root.path = name_of(&root.path);
        }
        for catalog in &mut self.catalogs {
            catalog.path = name_of(&catalog.path);
        }
    }
}

impl HidePaths for ServerInfo {
    fn hide_paths(&mut self) {
        for library in &mut self.libraries {
            *library = name_of(library);
        }
        if self.model.starts_with('/') {
            self.model = name_of(&self.model);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SkippedFile;

    #[test]
    fn a_guest_sees_what_matched_in_file_names_only() {
        let span = |t: &str, hit| Span {
            text: t.into(),
            hit,
        };
        let in_name = [
            span("Pictures/memes/", false),
            span("monday", true),
            span(".png", false),
        ];
        assert_eq!(
            file_name_spans(&in_name),
            [span("monday", true), span(".png", false)]
        );
        let across = [
            span("Pictures/Mon", false),
            span("day/monday", true),
            span(".png", false),
        ];
        assert_eq!(
            file_name_spans(&across),
            [span("monday", true), span(".png", false)]
        );
        let in_folder = [
            span("Pictures/", false),
            span("Japan", true),
            span("/a.png", false),
        ];
        assert!(file_name_spans(&in_folder).is_empty());
    }

    #[test]
    fn names_are_kept_and_folders_dropped() {
        assert_eq!(name_of("/home/me/Pictures/cat.jpg"), "cat.jpg");
        assert_eq!(name_of("/home/me/Pictures/"), "Pictures");
        assert_eq!(name_of(r"C:\Users\me\a.png"), "a.png");
        assert_eq!(name_of("plain.png"), "plain.png");
        assert_eq!(name_of("/"), "/");
    }

    #[test]
    fn a_guest_status_names_no_folder_and_no_position() {
        let mut status = LibraryStatus {
            roots: vec!["/home/me/Pictures".into(), "/home/me/Pictures/2024".into()],
            crawl_error: Some("cannot read /home/me/Pictures/2024/x".into()),
            skipped: vec![SkippedFile {
                path: "/home/me/Pictures/bad.jpg".into(),
                reason: "in /home/me/Pictures: damaged".into(),
            }],
            text: crate::types::TextStatus {
                note: Some(
                    "the text reader is not installed in /home/me/.local/share/trove/models".into(),
                ),
                ..Default::default()
            },
            ..LibraryStatus::default()
        };
        status.hide_paths();
        let json = serde_json::to_string(&status).expect("json");
        assert!(!json.contains("/home/me"), "{json}");
        assert_eq!(status.roots, ["Pictures", "2024"]);
        assert_eq!(status.skipped[0].path, "bad.jpg");
        assert_eq!(
            status.crawl_error.as_deref(),
            Some("cannot read 2024/x"),
            "the longest root is replaced whole"
        );
        let mut info = ImageInfo {
            path: "/home/me/Pictures/a.jpg".into(),
            gps_lat: Some(35.0),
            gps_lon: Some(139.0),
            ..ImageInfo::default()
        };
        info.hide_paths();
        assert_eq!(
            (info.path.as_str(), info.gps_lat, info.gps_lon),
            ("a.jpg", None, None)
        );
    }
}
