//! The descriptive part of an XMP packet: title, description, keywords (`dc:subject`),
//! hierarchical keywords (Lightroom's `lr:hierarchicalSubject`, `A|B|C`, and digiKam's
//! `digiKam:TagsList`, `A/B/C`), the rating and colour label (`xmp:Rating`, `xmp:Label`) and
//! the people named in it (face regions' `mwg-rs:Name`, `Iptc4xmpExt:PersonInImage`, Windows'
//! `MPRI:PersonDisplayName`). Lightroom keeps each photo's XMP in its catalog, since Lightroom
//! Classic 7 compressed (a big-endian u32 of the text's length, then a zlib stream); [`inflate`]
//! takes either form. Files carry a packet inside ([`find_packet`]) or beside them in a
//! sidecar (`photo.xmp`, `photo.jpg.xmp`: [`sidecar_candidates`]).

use std::io::Read;

/// The most text an XMP packet may inflate to, and the largest sidecar read (a hostile catalog
/// or file cannot make Trove allocate more).
pub const MAX_XMP: u64 = 4 << 20;

/// The XMP text of a catalog value: as it is when it is text, inflated when it is Lightroom's
/// compressed form; empty when it is neither.
pub fn inflate(bytes: &[u8]) -> String {
    let text = if bytes.len() > 6 && bytes[4] == 0x78 && !bytes.starts_with(b"<") {
        let mut out = Vec::new();
        let read = flate2::read::ZlibDecoder::new(&bytes[4..])
            .take(MAX_XMP)
            .read_to_end(&mut out);
        if read.is_err() {
            return String::new();
        }
        out
    } else {
        bytes.to_vec()
    };
    let text = String::from_utf8_lossy(&text);
    text.trim_start_matches('\u{feff}').to_owned()
}

/// Lightroom Classic's compressed form of a text: its length (u32, big-endian), then zlib (for
/// fixtures; Trove only reads it).
pub fn compress(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut out = (text.len() as u32).to_be_bytes().to_vec();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(text.as_bytes()).expect("writing to memory");
    out.extend(z.finish().expect("writing to memory"));
    out
}

/// What an XMP packet (or an IPTC block) says about its picture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    /// `dc:title` (the default language's).
    pub title: Option<String>,
    /// `dc:description`.
    pub description: Option<String>,
    /// `dc:subject`: flat keywords.
    pub subjects: Vec<String>,
    /// `lr:hierarchicalSubject`: keyword paths, outermost first.
    pub hierarchical: Vec<Vec<String>>,
    /// `xmp:Rating`: 0–5 stars, -1 rejected.
    pub rating: Option<i8>,
    /// `xmp:Label`: the colour label's name.
    pub label: Option<String>,
    /// The people named in the picture.
    pub people: Vec<String>,
}

impl Described {
    /// Reads an XMP packet; anything unreadable gives nothing rather than an error (a damaged
    /// packet must not lose the rest of a photo's facts).
    pub fn parse(xmp: &str) -> Described {
        let mut out = Described::default();
        // roxmltree refuses a DOCTYPE (and so entity expansion); a packet has none.
        let Ok(doc) = roxmltree::Document::parse(xmp.trim_end_matches('\0')) else {
            return out;
        };
        const DC: &str = "http://purl.org/dc/elements/1.1/";
        const LR: &str = "http://ns.adobe.com/lightroom/1.0/";
        const XMP: &str = "http://ns.adobe.com/xap/1.0/";
        const PHOTOSHOP: &str = "http://ns.adobe.com/photoshop/1.0/";
        const DIGIKAM: &str = "http://www.digikam.org/ns/1.0/";
        const MWG_RS: &str = "http://www.metadataworkinggroup.com/schemas/regions/";
        const IPTC_EXT: &str = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/";
        const MPRI: &str = "http://ns.microsoft.com/photo/1.2/t/Region#";
        let mut headline = None;
        let person = |out: &mut Described, name: &str| {
            let name = name.trim();
            if !name.is_empty() && !out.people.iter().any(|p| p == name) {
                out.people.push(name.to_owned());
            }
        };
        for node in doc.descendants().filter(|n| n.is_element()) {
            let tag = node.tag_name();
            // Simple properties may be elements or attributes of their rdf:Description.
            let simple = || node.text().map(str::trim).filter(|t| !t.is_empty());
            match (tag.namespace(), tag.name()) {
                (Some(XMP), "Rating") => out.rating = out.rating.or(simple().and_then(rating)),
                (Some(XMP), "Label") if out.label.is_none() => {
                    out.label = simple().map(str::to_owned);
                }
                (Some(PHOTOSHOP), "Headline") if headline.is_none() => {
                    headline = simple().map(str::to_owned).or_else(|| alt_text(node));
                }
                (Some(DIGIKAM), "TagsList") => {
                    for s in list_items(node) {
                        add_path(&mut out.hierarchical, s.split('/'));
                    }
                }
                (Some(MWG_RS), "Name") | (Some(MPRI), "PersonDisplayName") => {
                    if let Some(t) = simple() {
                        person(&mut out, t);
                    }
                }
                (Some(IPTC_EXT), "PersonInImage") => {
                    for s in list_items(node) {
                        person(&mut out, &s);
                    }
                }
                _ => {}
            }
            for a in node.attributes() {
                match (a.namespace(), a.name()) {
                    (Some(XMP), "Rating") => out.rating = out.rating.or(rating(a.value())),
                    (Some(XMP), "Label") if out.label.is_none() && !a.value().trim().is_empty() => {
                        out.label = Some(a.value().trim().to_owned());
                    }
                    (Some(PHOTOSHOP), "Headline") if headline.is_none() => {
                        headline = Some(a.value().trim().to_owned()).filter(|h| !h.is_empty());
                    }
                    (Some(MWG_RS), "Name") | (Some(MPRI), "PersonDisplayName") => {
                        person(&mut out, a.value());
                    }
                    _ => {}
                }
            }
            match (tag.namespace(), tag.name()) {
                (Some(DC), "title") if out.title.is_none() => out.title = alt_text(node),
                (Some(DC), "description") if out.description.is_none() => {
                    out.description = alt_text(node);
                }
                (Some(DC), "subject") => {
                    for s in list_items(node) {
                        if !out.subjects.contains(&s) {
                            out.subjects.push(s);
                        }
                    }
                }
                (Some(LR), "hierarchicalSubject") => {
                    for s in list_items(node) {
                        add_path(&mut out.hierarchical, s.split('|'));
                    }
                }
                _ => {}
            }
        }
        // Properties written as attributes of rdf:Description (`dc:title="…"` is not valid XMP
        // for a language alternative, but some tools write it).
        for node in doc.descendants().filter(|n| n.is_element()) {
            for a in node.attributes() {
                let value = a.value().trim();
                if value.is_empty() || a.namespace() != Some(DC) {
                    continue;
                }
                match a.name() {
                    "title" if out.title.is_none() => out.title = Some(value.to_owned()),
                    "description" if out.description.is_none() => {
                        out.description = Some(value.to_owned());
                    }
                    _ => {}
                }
            }
        }
        if out.title.is_none() {
            out.title = headline;
        }
        out
    }

    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.subjects.is_empty()
            && self.hierarchical.is_empty()
            && self.rating.is_none()
            && self.label.is_none()
            && self.people.is_empty()
    }

    /// Adds what `other` says and this does not: its title, description, rating and label
    /// where these have none, and every keyword and person.
    pub fn merge(&mut self, other: Described) {
        self.title = self.title.take().or(other.title);
        self.description = self.description.take().or(other.description);
        self.rating = self.rating.or(other.rating);
        self.label = self.label.take().or(other.label);
        for s in other.subjects {
            if !self.subjects.contains(&s) {
                self.subjects.push(s);
            }
        }
        for h in other.hierarchical {
            if !self.hierarchical.contains(&h) {
                self.hierarchical.push(h);
            }
        }
        for p in other.people {
            if !self.people.contains(&p) {
                self.people.push(p);
            }
        }
    }

    /// Its keywords as paths (outermost first), each with whether it names a person: the
    /// hierarchical ones, the flat ones no path ends with, and the people.
    pub fn keywords(&self) -> Vec<(Vec<String>, bool)> {
        let mut out: Vec<(Vec<String>, bool)> = self
            .hierarchical
            .iter()
            .map(|h| (h.clone(), false))
            .collect();
        for s in &self.subjects {
            let covered = self
                .hierarchical
                .iter()
                .any(|h| h.last().is_some_and(|l| l.eq_ignore_ascii_case(s)));
            if !covered {
                out.push((vec![s.clone()], false));
            }
        }
        for p in &self.people {
            // A person already a keyword (Lightroom writes both) is marked as a person.
            match out
                .iter_mut()
                .find(|(k, _)| k.last().is_some_and(|l| l == p))
            {
                Some(k) => k.1 = true,
                None => out.push((vec![p.clone()], true)),
            }
        }
        out
    }
}

/// `xmp:Rating`'s value: -1 (rejected) to 5, written as an integer or a real.
fn rating(value: &str) -> Option<i8> {
    let v: f64 = value.trim().parse().ok()?;
    (-1.0..=5.0).contains(&v).then(|| v.round() as i8)
}

/// Adds a keyword path split from its text, trimmed, unless it is empty or already there.
fn add_path<'a>(paths: &mut Vec<Vec<String>>, parts: impl Iterator<Item = &'a str>) {
    let path: Vec<String> = parts
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if !path.is_empty() && !paths.contains(&path) {
        paths.push(path);
    }
}

/// The first XMP packet inside a file's bytes (JPEG's APP1, TIFF's tag 700, PNG's `iTXt`,
/// WebP's `XMP ` chunk, HEIC's and raw files' metadata items all keep it as plain text):
/// from `<x:xmpmeta` (or a bare `<rdf:RDF`) to its end tag, at most [`MAX_XMP`] long.
pub fn find_packet(bytes: &[u8]) -> Option<&str> {
    use memchr::memmem::find;
    for (open, close) in [
        (&b"<x:xmpmeta"[..], &b"</x:xmpmeta>"[..]),
        (b"<rdf:RDF", b"</rdf:RDF>"),
    ] {
        let Some(start) = find(bytes, open) else {
            continue;
        };
        let window = &bytes[start..bytes.len().min(start + MAX_XMP as usize)];
        let Some(end) = find(window, close) else {
            continue;
        };
        if let Ok(text) = std::str::from_utf8(&window[..end + close.len()]) {
            return Some(text);
        }
    }
    None
}

/// Where an XMP sidecar of `image` may be, in the order Trove prefers them: the image's whole
/// name plus `.xmp` (darktable, digiKam), then its name with `.xmp` in place of its extension
/// (Lightroom, Capture One, Bridge), each in lower and upper case.
pub fn sidecar_candidates(image: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::with_capacity(4);
    let mut whole = image.as_os_str().to_owned();
    for ext in [".xmp", ".XMP"] {
        let mut p = whole.clone();
        p.push(ext);
        out.push(std::path::PathBuf::from(p));
    }
    whole.clear();
    for ext in ["xmp", "XMP"] {
        out.push(image.with_extension(ext));
    }
    out
}

/// The text of a language alternative (`rdf:Alt`): the `x-default` item, else the first.
fn alt_text(node: roxmltree::Node<'_, '_>) -> Option<String> {
    let items: Vec<_> = node
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "li")
        .collect();
    let chosen = items
        .iter()
        .find(|n| {
            n.attributes()
                .any(|a| a.name() == "lang" && a.value() == "x-default")
        })
        .or(items.first());
    let text = match chosen {
        Some(n) => n.text().unwrap_or(""),
        None => node.text().unwrap_or(""),
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The items of a list (`rdf:Bag`, `rdf:Seq`), trimmed, empty ones left out.
fn list_items(node: roxmltree::Node<'_, '_>) -> Vec<String> {
    node.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "li")
        .filter_map(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const PACKET: &str = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/">
   <dc:title><rdf:Alt><rdf:li xml:lang="de">Fuji</rdf:li><rdf:li xml:lang="x-default">Mt Fuji &amp; the plane</rdf:li></rdf:Alt></dc:title>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">Seen from seat 32A</rdf:li></rdf:Alt></dc:description>
   <dc:subject><rdf:Bag><rdf:li>Japan</rdf:li><rdf:li>Fuji</rdf:li><rdf:li>Japan</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|Japan|Fuji</rdf:li><rdf:li>Places|Japan</rdf:li></rdf:Bag></lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"#;

    #[test]
    fn reads_title_description_and_keywords() {
        let want = Described {
            title: Some("Mt Fuji & the plane".into()),
            description: Some("Seen from seat 32A".into()),
            subjects: vec!["Japan".into(), "Fuji".into()],
            hierarchical: vec![
                vec!["Places".into(), "Japan".into(), "Fuji".into()],
                vec!["Places".into(), "Japan".into()],
            ],
            ..Described::default()
        };
        assert_eq!(Described::parse(PACKET), want);
        assert_eq!(Described::parse(&inflate(&compress(PACKET))), want);
        assert_eq!(Described::parse(&inflate(PACKET.as_bytes())), want);
    }

    /// A sidecar as darktable and digiKam write one: simple properties as attributes, a
    /// rejected rating, digiKam's tag paths, a face region and a headline for a title.
    pub(crate) const SIDECAR: &str = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmp:Rating="-1" xmp:Label="Purple" photoshop:Headline="Kyoto in the rain">
   <digiKam:TagsList><rdf:Seq><rdf:li>Places/Japan/Kyoto</rdf:li></rdf:Seq></digiKam:TagsList>
   <dc:subject><rdf:Bag><rdf:li>Kyoto</rdf:li><rdf:li>umbrella</rdf:li></rdf:Bag></dc:subject>
   <mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>
     <rdf:li><rdf:Description mwg-rs:Name="Yuki Tanaka" mwg-rs:Type="Face"/></rdf:li>
   </rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#;

    #[test]
    fn reads_ratings_labels_people_and_other_tools_keywords() {
        let d = Described::parse(SIDECAR);
        assert_eq!(d.title.as_deref(), Some("Kyoto in the rain"));
        assert_eq!(d.rating, Some(-1));
        assert_eq!(d.label.as_deref(), Some("Purple"));
        assert_eq!(d.people, ["Yuki Tanaka"]);
        // Kyoto is the end of a path, so it is not listed again on its own.
        assert_eq!(
            d.keywords(),
            vec![
                (vec!["Places".into(), "Japan".into(), "Kyoto".into()], false),
                (vec!["umbrella".into()], false),
                (vec!["Yuki Tanaka".into()], true),
            ]
        );
        let as_elements = SIDECAR
            .replace(r#"xmp:Rating="-1""#, "")
            .replace("<dc:subject>", "<xmp:Rating>4.0</xmp:Rating><dc:subject>");
        assert_eq!(Described::parse(&as_elements).rating, Some(4));
        let mut merged = Described::parse(PACKET);
        merged.merge(d);
        assert_eq!(merged.title.as_deref(), Some("Mt Fuji & the plane"));
        assert_eq!(merged.rating, Some(-1));
        assert_eq!(merged.subjects, ["Japan", "Fuji", "Kyoto", "umbrella"]);
    }

    #[test]
    fn finds_the_packet_inside_a_file_and_the_sidecars_beside_it() {
        let mut file = b"\xFF\xD8\xFF\xE1\x00\x10http://ns.adobe.com/xap/1.0/\0".to_vec();
        file.extend_from_slice(SIDECAR.as_bytes());
        file.extend_from_slice(b"\xFF\xDA rest of the picture");
        let packet = find_packet(&file).expect("found");
        assert!(packet.starts_with("<x:xmpmeta") && packet.ends_with("</x:xmpmeta>"));
        assert!(find_packet(b"<x:xmpmeta never closed").is_none());
        let c = sidecar_candidates(std::path::Path::new("/p/DSC_1.NEF"));
        let c: Vec<_> = c.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        assert_eq!(
            c,
            [
                "/p/DSC_1.NEF.xmp",
                "/p/DSC_1.NEF.XMP",
                "/p/DSC_1.xmp",
                "/p/DSC_1.XMP"
            ]
        );
    }

    #[test]
    fn bad_packets_give_nothing() {
        assert_eq!(Described::parse(""), Described::default());
        assert_eq!(Described::parse("<x:xmpmeta"), Described::default());
        let bomb = r#"<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><x>&a;</x>"#;
        assert_eq!(Described::parse(bomb), Described::default());
        assert_eq!(inflate(&[0, 0, 0, 9, 0x78, 1, 2, 3]), "");
    }
}
