//! Why a result matched: the words read in the picture, the file name and the camera facts that
//! hold the query's words, the matched parts in `<mark>`. Text is always inserted as text, never
//! as markup, so words read from a picture or a file name cannot inject anything.

use leptos::prelude::*;

use crate::types::{SearchHit, Span, Why};

/// Spans as text with their marked parts in `<mark>`.
pub fn marked(spans: Vec<Span>) -> impl IntoView {
    spans
        .into_iter()
        .map(|s| {
            if s.hit {
                view! { <mark class="rounded-sm bg-amber-300 px-0.5 text-stone-950">{s.text}</mark> }
                    .into_any()
            } else {
                s.text.into_any()
            }
        })
        .collect_view()
}

/// The one-line reason on a grid card: the words read, else the catalog's keywords, the name,
/// the facts, the caption, the tags; nothing when only similarity explains the result.
pub fn card_line(why: &Why) -> Option<Vec<Span>> {
    [
        &why.words,
        &why.keywords,
        &why.name,
        &why.facts,
        &why.caption,
        &why.tags,
    ]
    .into_iter()
    .find(|spans| !spans.is_empty())
    .cloned()
}

/// The reason as one plain line, for titles and screen readers: `words “…” · name …`.
pub fn plain_line(hit: &SearchHit) -> String {
    let why = &hit.why;
    let mut parts = Vec::new();
    if !why.words.is_empty() {
        parts.push(format!("says “{}”", Why::plain(&why.words)));
    }
    if !why.name.is_empty() {
        parts.push(format!("named {}", Why::plain(&why.name)));
    }
    if !why.facts.is_empty() {
        parts.push(Why::plain(&why.facts));
    }
    if !why.caption.is_empty() {
        parts.push(format!("described “{}”", Why::plain(&why.caption)));
    }
    if !why.tags.is_empty() {
        parts.push(format!("tagged {}", Why::plain(&why.tags)));
    }
    if !why.keywords.is_empty() {
        parts.push(format!("catalogued {}", Why::plain(&why.keywords)));
    }
    parts.join(" · ")
}

/// The reasons in the lightbox, one row each: what the picture says, its name, its facts.
pub fn rows(why: &Why) -> Vec<(&'static str, &'static str, Vec<Span>)> {
    [
        ("why-words", "Says", &why.words),
        ("why-name", "Name", &why.name),
        ("why-facts", "Facts", &why.facts),
        ("why-caption", "Caption", &why.caption),
        ("why-tags", "Tags", &why.tags),
        ("why-keywords", "Catalog", &why.keywords),
    ]
    .into_iter()
    .filter(|(_, _, spans)| !spans.is_empty())
    .map(|(id, label, spans)| (id, label, spans.clone()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_shows_the_first_reason_there_is() {
        let span = |t: &str, hit| Span {
            text: t.into(),
            hit,
        };
        let mut why = Why {
            name: vec![span("memes/", false), span("monday", true)],
            ..Why::default()
        };
        assert_eq!(card_line(&why), Some(why.name.clone()));
        why.words = vec![span("MONDAY", true), span(" again", false)];
        assert_eq!(card_line(&why), Some(why.words.clone()));
        assert_eq!(card_line(&Why::default()), None);
        assert_eq!(rows(&why).len(), 2);
    }
}
