//! The descriptive part of an XMP packet: title, description, keywords (`dc:subject`) and
//! hierarchical keywords (`lr:hierarchicalSubject`, `A|B|C`). Lightroom keeps each photo's XMP
//! in its catalog, since Lightroom Classic 7 compressed (a big-endian u32 of the text's length,
//! then a zlib stream); [`inflate`] takes either form.

use std::io::Read;

/// The most text an XMP packet may inflate to (a hostile catalog cannot make Trove allocate
/// more).
const MAX_XMP: u64 = 4 << 20;

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

/// What an XMP packet says about its picture.
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
        for node in doc.descendants().filter(|n| n.is_element()) {
            let tag = node.tag_name();
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
                        let path: Vec<String> = s
                            .split('|')
                            .map(str::trim)
                            .filter(|p| !p.is_empty())
                            .map(str::to_owned)
                            .collect();
                        if !path.is_empty() && !out.hierarchical.contains(&path) {
                            out.hierarchical.push(path);
                        }
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
        out
    }
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
        };
        assert_eq!(Described::parse(PACKET), want);
        assert_eq!(Described::parse(&inflate(&compress(PACKET))), want);
        assert_eq!(Described::parse(&inflate(PACKET.as_bytes())), want);
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
