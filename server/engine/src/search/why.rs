//! Why each result matched: the words read in the picture, the file or folder name, the
//! camera facts, the caption and the tags that hold the query's words, with the matched parts
//! marked. Matching is the
//! keyword index's (a substring, any case, accents folded), redone here on the page's rows so
//! the marks fall on the original text.

use std::collections::HashMap;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use crate::catalog::{Catalog, CatalogError};

/// Longest excerpt of a picture's words shown, in characters.
pub const EXCERPT_CHARS: usize = 160;

/// A piece of text, marked where the query matched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The text.
    pub text: String,
    /// Whether the query matched it.
    pub hit: bool,
}

/// Why a result matched, besides its similarity: each part is empty when the query's words are
/// not in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Why {
    /// The words read in the picture (an excerpt around the first match when long).
    pub words: Vec<Span>,
    /// The first of its files whose path (inside its library folder, the folder's name first)
    /// holds a query word.
    pub name: Vec<Span>,
    /// Camera, lens or capture date words that hold a query word.
    pub facts: Vec<Span>,
    /// The caption a captioner wrote, when it holds a query word.
    pub caption: Vec<Span>,
    /// The tags that hold a query word (the picture's tags, comma-separated).
    pub tags: Vec<Span>,
    /// What an imported catalog says of it (keywords, title, caption, collections, label):
    /// the lines that hold a query word, ` · ` between.
    pub keywords: Vec<Span>,
}

impl Why {
    /// Whether nothing but similarity explains the result.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
            && self.name.is_empty()
            && self.facts.is_empty()
            && self.caption.is_empty()
            && self.tags.is_empty()
            && self.keywords.is_empty()
    }
}

/// The reasons for each of `ids` that holds one of `terms` (looked for everywhere) or
/// `phrases` (looked for in the words read).
pub fn explain(
    catalog: &Catalog,
    ids: &[i64],
    terms: &[String],
    phrases: &[String],
) -> Result<HashMap<i64, Why>, CatalogError> {
    if terms.is_empty() && phrases.is_empty() {
        return Ok(HashMap::new());
    }
    let in_words: Vec<String> = terms.iter().chain(phrases).cloned().collect();
    let mut out = HashMap::new();
    for row in catalog.keyword_rows(ids)? {
        let words = excerpt(&mark(&row.words, &in_words), EXCERPT_CHARS);
        let name = row
            .names
            .lines()
            .map(|line| mark(line, terms))
            .find(|spans| spans.iter().any(|s| s.hit))
            .unwrap_or_default();
        let facts = mark(&row.facts, terms);
        let held = |spans: Vec<Span>| {
            if spans.iter().any(|s| s.hit) {
                spans
            } else {
                Vec::new()
            }
        };
        let tags = row.tags.lines().collect::<Vec<_>>().join(", ");
        let keywords = row
            .keywords
            .lines()
            .map(|line| mark(line, terms))
            .filter(|spans| spans.iter().any(|s| s.hit))
            .collect::<Vec<_>>();
        let keywords = keywords
            .into_iter()
            .enumerate()
            .flat_map(|(i, spans)| {
                let sep = (i > 0).then(|| Span {
                    text: " · ".into(),
                    hit: false,
                });
                sep.into_iter().chain(spans)
            })
            .collect();
        let why = Why {
            keywords,
            caption: held(excerpt(&mark(&row.captions, terms), EXCERPT_CHARS)),
            tags: held(mark(&tags, terms)),
            words: if words.iter().any(|s| s.hit) {
                words
            } else {
                Vec::new()
            },
            name,
            facts: if facts.iter().any(|s| s.hit) {
                facts
            } else {
                Vec::new()
            },
        };
        if !why.is_empty() {
            out.insert(row.image_id, why);
        }
    }
    Ok(out)
}

/// `c` as the keyword index compares it: lower case, accents removed.
fn fold(c: char, out: &mut Vec<char>) {
    decompose_canonical(c, |d| {
        if !is_combining_mark(d) {
            out.extend(d.to_lowercase());
        }
    });
}

/// `text` as the keyword index compares it.
pub fn folded(text: &str) -> Vec<char> {
    let mut out = Vec::new();
    for c in text.chars() {
        fold(c, &mut out);
    }
    out
}

/// Whether `hay` holds `needle`, both [`folded`] (as the keyword index compares).
pub fn holds_folded(hay: &[char], needle: &[char]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// `text` in spans, the parts that hold one of `needles` (compared folded) marked.
pub fn mark(text: &str, needles: &[String]) -> Vec<Span> {
    let chars: Vec<char> = text.chars().collect();
    // Each folded character and the original one it came from.
    let mut hay: Vec<(char, usize)> = Vec::with_capacity(chars.len());
    let mut buf = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        buf.clear();
        fold(c, &mut buf);
        hay.extend(buf.iter().map(|&f| (f, i)));
    }
    let mut hit = vec![false; chars.len()];
    for needle in needles {
        let n = folded(needle);
        if n.is_empty() || n.len() > hay.len() {
            continue;
        }
        for start in 0..=hay.len() - n.len() {
            if hay[start..start + n.len()]
                .iter()
                .map(|h| h.0)
                .eq(n.iter().copied())
            {
                let (first, last) = (hay[start].1, hay[start + n.len() - 1].1);
                hit[first..=last].iter_mut().for_each(|h| *h = true);
            }
        }
    }
    let mut spans: Vec<Span> = Vec::new();
    for (c, h) in chars.into_iter().zip(hit) {
        match spans.last_mut() {
            Some(last) if last.hit == h => last.text.push(c),
            _ => spans.push(Span {
                text: c.to_string(),
                hit: h,
            }),
        }
    }
    spans
}

/// At most `max` characters of `spans`, starting a little before the first mark, with `…`
/// where text was cut.
pub fn excerpt(spans: &[Span], max: usize) -> Vec<Span> {
    let total: usize = spans.iter().map(|s| s.text.chars().count()).sum();
    if total <= max {
        return spans.to_vec();
    }
    let first_hit = spans
        .iter()
        .take_while(|s| !s.hit)
        .map(|s| s.text.chars().count())
        .sum::<usize>();
    let start = first_hit.saturating_sub(max / 3).min(total - max);
    let end = start + max;
    let mut out: Vec<Span> = Vec::new();
    let mut at = 0;
    for s in spans {
        let n = s.text.chars().count();
        let (from, to) = (start.max(at), end.min(at + n));
        if from < to {
            let text: String = s.text.chars().skip(from - at).take(to - from).collect();
            out.push(Span { text, hit: s.hit });
        }
        at += n;
    }
    let ellipsis = |out: &mut Vec<Span>, front: bool| {
        let dots = Span {
            text: "…".into(),
            hit: false,
        };
        if front {
            out.insert(0, dots);
        } else {
            out.push(dots);
        }
    };
    if start > 0 {
        ellipsis(&mut out, true);
    }
    if end < total {
        ellipsis(&mut out, false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(spans: &[Span]) -> String {
        spans
            .iter()
            .map(|s| {
                if s.hit {
                    format!("[{}]", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect()
    }

    fn needles(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn matches_are_marked_in_any_case_with_accents_folded() {
        assert_eq!(
            shown(&mark("MONDAY again", &needles(&["mond", "y ag"]))),
            "[MOND]A[Y ag]ain"
        );
        // Overlapping matches make one mark.
        assert_eq!(
            shown(&mark("MONDAY again", &needles(&["mon", "onday"]))),
            "[MONDAY] again"
        );
        assert_eq!(
            shown(&mark("Café Tokyo", &needles(&["cafe"]))),
            "[Café] Tokyo"
        );
        assert_eq!(
            shown(&mark("東京の咖啡店", &needles(&["咖啡"]))),
            "東京の[咖啡]店"
        );
        assert_eq!(shown(&mark("abcabc", &needles(&["bc"]))), "a[bc]a[bc]");
        assert_eq!(shown(&mark("İSTANBUL", &needles(&["istan"]))), "[İSTAN]BUL");
        assert_eq!(shown(&mark("nothing", &needles(&["x", ""]))), "nothing");
    }

    #[test]
    fn long_words_are_cut_around_the_first_match() {
        let text = format!("{} MONDAY {}", "a".repeat(300), "b".repeat(300));
        let cut = excerpt(&mark(&text, &needles(&["monday"])), 60);
        let s = shown(&cut);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("[MONDAY]"), "{s}");
        let chars: usize = cut.iter().map(|s| s.text.chars().count()).sum();
        assert_eq!(chars, 62);
        // Short text is whole.
        assert_eq!(
            shown(&excerpt(&mark("hi MONDAY", &needles(&["mon"])), 60)),
            "hi [MON]DAY"
        );
    }
}
