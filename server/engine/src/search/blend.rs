//! Text queries read the keyword index too: the words read in pictures, file and folder names
//! and camera facts. Its matches and the vector results are fused by reciprocal rank (RRF):
//! an image's score is `1/(60 + vector rank) + 2/(60 + keyword rank)`, over the first
//! [`HEAD`] vector results and the first [`KEYWORD_DEPTH`] keyword matches; the vector
//! results after the head follow in their own order. Keyword matches count even below the
//! model's cutoff (the words are there), and weigh twice a vector rank, so a picture that
//! says what was typed comes first. Matches found only in a picture's caption and tags (what a
//! model wrote, not what the file holds) weigh half a vector rank instead
//! ([`super::held::split_described`]).
//!
//! A query with quoted phrases answers only the images whose words hold them, all of them,
//! by the same fusion ([`fuse_phrased`]).
//!
//! The fused head depends only on the query, never on the page asked for, so pages still
//! never overlap or leave gaps.

use std::collections::{HashMap, HashSet};

use super::syntax::{Parsed, Signal};
use super::{Kept, SearchError, MAX_DEPTH};
use crate::catalog::{Catalog, Filters, KeywordQuery};
use crate::vectors::{Neighbour, VectorIndex};

/// Vector results fused with the keyword matches.
pub const HEAD: usize = 100;
/// Keyword matches considered.
pub const KEYWORD_DEPTH: usize = 200;
/// RRF's rank offset.
const RRF_K: f64 = 60.0;
/// A keyword rank's weight against a vector rank's.
const KEYWORD_WEIGHT: f64 = 2.0;
/// A keyword rank's weight when the words were found only in what models wrote about the
/// picture (its caption and tags): a model's opinion, not words in, on or about the file, so
/// it reorders the vector results rather than leading them (a caption that says "circle"
/// ranks a picture as a vector rank of about 60 would by itself).
const DESCRIBED_WEIGHT: f64 = 0.5;

/// The words of a query's positive text that the keyword index is asked for, each matched as a
/// substring: three characters or more (what the trigram index can look up), or two when they
/// are not ASCII (many Chinese and Japanese words are two characters). Shorter words ("a",
/// "on") would each cost a scan of the whole index and match nearly everything.
pub fn keyword_terms<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    words
        .into_iter()
        .flat_map(str::split_whitespace)
        .map(|w| w.trim_matches(|c: char| c.is_ascii_punctuation() && c != '#' && c != '%'))
        .filter(|w| {
            let n = w.chars().count();
            n >= 3 || (n == 2 && !w.is_ascii())
        })
        .filter(|w| seen.insert(w.to_lowercase()))
        .map(str::to_owned)
        .collect()
}

/// The keyword index lookups a query needs, planned before any of them runs.
pub(super) struct Lookups<'a> {
    /// Only the quoted phrases, every match (when the query has phrases and looks at vectors).
    phrased: Option<KeywordQuery<'a>>,
    /// The words and phrases together, and how deep.
    keyword: Option<(KeywordQuery<'a>, usize)>,
}

/// What the keyword index answered, before similarities.
pub(super) struct Matches {
    pub(super) phrased: Option<Found>,
    pub(super) keyword: Option<Found>,
}

impl<'a> Lookups<'a> {
    pub(super) fn plan(parsed: &'a Parsed, terms: &'a [String]) -> Self {
        let words = KeywordQuery {
            terms,
            phrases: &parsed.phrases,
        };
        let phrased = (parsed.signal != Signal::Words && !parsed.phrases.is_empty()).then_some(
            KeywordQuery {
                terms: &[],
                phrases: &parsed.phrases,
            },
        );
        let keyword = match parsed.signal {
            Signal::Words => Some((words, MAX_DEPTH)),
            Signal::Both | Signal::Looks if terms.is_empty() => None,
            Signal::Both | Signal::Looks => Some((words, KEYWORD_DEPTH)),
        };
        Lookups { phrased, keyword }
    }

    pub(super) fn any(&self) -> bool {
        self.phrased.is_some() || self.keyword.is_some()
    }

    pub(super) fn run(
        &self,
        catalog: &Catalog,
        filters: &Filters,
        exclude: &[i64],
    ) -> Result<Matches, SearchError> {
        let find =
            |kq: KeywordQuery<'_>, depth| keyword_matches(catalog, kq, filters, exclude, depth);
        Ok(Matches {
            phrased: self.phrased.map(|kq| find(kq, MAX_DEPTH)).transpose()?,
            keyword: self.keyword.map(|(kq, d)| find(kq, d)).transpose()?,
        })
    }
}

/// The keyword matches for `query` that pass `filters`, best first (at most `depth`), with
/// their BM25 (negative; lower is better): what the catalog answers without the query vector,
/// so it runs while the text tower embeds the query. [`Found::scored`] adds the similarities.
pub fn keyword_matches(
    catalog: &Catalog,
    query: KeywordQuery<'_>,
    filters: &Filters,
    exclude: &[i64],
    depth: usize,
) -> Result<Found, SearchError> {
    let found: Vec<(i64, f64)> = catalog
        .keyword_search(query, depth)?
        .into_iter()
        .filter(|(id, _)| !exclude.contains(id))
        .collect();
    let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
    let visible = catalog.visible(&ids, filters)?;
    Ok(Found { found, visible })
}

/// Keyword matches that pass the filters, before their similarities are known.
#[derive(Debug, Default)]
pub struct Found {
    /// (image id, BM25), best first.
    found: Vec<(i64, f64)>,
    /// The matches that pass the filters, with what the filters read.
    visible: HashMap<i64, Option<String>>,
}

impl Found {
    /// The matches that are in the vector `index`, with their similarity to the query vector
    /// `q` and their BM25, best first.
    pub fn scored(self, index: &VectorIndex, q: &[f32]) -> Result<Vec<(Kept, f64)>, SearchError> {
        let Found { found, mut visible } = self;
        let shown: Vec<i64> = found
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| visible.contains_key(id))
            .collect();
        let similarity: HashMap<i64, f32> = index.similarities(&shown, q)?.into_iter().collect();
        let mut out = Vec::with_capacity(shown.len());
        for (id, bm25) in found {
            let (Some(taken), Some(&similarity)) = (visible.remove(&id), similarity.get(&id))
            else {
                continue;
            };
            out.push(((Neighbour { id, similarity }, taken), bm25));
        }
        Ok(out)
    }
}

/// Every image that holds the query's quoted phrases (`phrased`, in keyword order), ordered
/// by RRF of its rank by similarity among them and its rank among the keyword matches of the
/// whole query (`keyword`, which also asks the unquoted words). No cutoff: the words are there.
pub fn fuse_phrased(phrased: Vec<Kept>, keyword: &[Kept]) -> Vec<Kept> {
    let keyword_rank: HashMap<i64, usize> = keyword
        .iter()
        .enumerate()
        .map(|(rank, k)| (k.0.id, rank))
        .collect();
    let mut by_similarity = phrased;
    by_similarity.sort_by(|a, b| {
        b.0.similarity
            .total_cmp(&a.0.similarity)
            .then(a.0.id.cmp(&b.0.id))
    });
    let mut scored: Vec<(f64, Kept)> = by_similarity
        .into_iter()
        .enumerate()
        .map(|(rank, k)| {
            let mut score = 1.0 / (RRF_K + rank as f64 + 1.0);
            if let Some(r) = keyword_rank.get(&k.0.id) {
                score += KEYWORD_WEIGHT / (RRF_K + *r as f64 + 1.0);
            }
            (score, k)
        })
        .collect();
    scored.sort_by(|(sa, a), (sb, b)| {
        sb.total_cmp(sa)
            .then(b.0.similarity.total_cmp(&a.0.similarity))
            .then(a.0.id.cmp(&b.0.id))
    });
    scored.into_iter().map(|(_, k)| k).collect()
}

/// Words too common to look up by themselves in a described query ("a sign that says coffee",
/// "a photo of a dog"): the keyword index is asked for the rest, unless nothing would be left.
const STOP_WORDS: [&str; 48] = [
    "the", "and", "that", "says", "say", "saying", "said", "with", "from", "this", "these",
    "those", "for", "are", "was", "were", "its", "has", "have", "had", "not", "but", "you", "your",
    "our", "they", "them", "their", "there", "here", "what", "which", "who", "when", "where",
    "into", "onto", "some", "any", "all",
    // What every picture is, and what many library folders are called.
    "photo", "photos", "picture", "pictures", "image", "images", "pic", "pics",
];

/// `terms` without [`STOP_WORDS`], unless that leaves none.
pub fn content_terms(terms: Vec<String>) -> Vec<String> {
    let content: Vec<String> = terms
        .iter()
        .filter(|t| !STOP_WORDS.contains(&t.to_lowercase().as_str()))
        .cloned()
        .collect();
    if content.is_empty() {
        terms
    } else {
        content
    }
}

/// The other fusion `bench/retrieval.sh` measures against RRF (and RRF won; see README): the
/// keyword matches lifted by a calibrated bonus, then everything ordered by score. A match's
/// bonus is its BM25 relative to the best match's, times the distance from the model's cutoff
/// `min` to a perfect similarity, so the best keyword match stands where a perfect vector
/// match would; the keyword matches and the first [`HEAD`] vector results are fused, the rest
/// follows in vector order.
pub fn fuse_scores(vector: Vec<Kept>, keyword: Vec<(Kept, f64)>, min: f32) -> Vec<Kept> {
    if keyword.is_empty() {
        return vector;
    }
    let best = keyword
        .iter()
        .map(|(_, bm25)| -bm25)
        .fold(f64::MIN, f64::max)
        .max(f64::MIN_POSITIVE);
    let span = f64::from(1.0 - min);
    let mut score: HashMap<i64, (f64, Kept)> = HashMap::new();
    let head = vector.len().min(HEAD);
    let mut rest = Vec::new();
    for (rank, kept) in vector.into_iter().enumerate() {
        if rank < head {
            score.insert(kept.0.id, (f64::from(kept.0.similarity), kept));
        } else {
            rest.push(kept);
        }
    }
    for (kept, bm25) in keyword {
        // FTS5's bm25 is negative, more negative for a better match.
        let bonus = span * (-bm25 / best).clamp(0.0, 1.0);
        let base = f64::from(kept.0.similarity);
        score
            .entry(kept.0.id)
            .and_modify(|(s, _)| *s = base + bonus)
            .or_insert((base + bonus, kept));
    }
    let mut fused: Vec<(f64, Kept)> = score.into_values().collect();
    fused.sort_by(|(sa, a), (sb, b)| sb.total_cmp(sa).then(a.0.id.cmp(&b.0.id)));
    let taken: HashSet<i64> = fused.iter().map(|(_, k)| k.0.id).collect();
    fused
        .into_iter()
        .map(|(_, k)| k)
        .chain(rest.into_iter().filter(|k| !taken.contains(&k.0.id)))
        .collect()
}

/// The fused order: the first [`HEAD`] of `vector` and all of `keyword` (images holding every
/// term) by RRF, `described` (images holding them only in their caption and tags) at
/// [`DESCRIBED_WEIGHT`], `partial` (head images holding some of the terms, with the share they
/// hold, best first) adding its share of a keyword rank's weight (ties by similarity, then
/// id), then the rest of `vector` in its order.
pub fn fuse(
    vector: Vec<Kept>,
    keyword: Vec<Kept>,
    described: Vec<Kept>,
    partial: &[(i64, f64)],
) -> Vec<Kept> {
    if keyword.is_empty() && described.is_empty() && partial.is_empty() {
        return vector;
    }
    let mut score: HashMap<i64, (f64, Kept)> = HashMap::new();
    let head = vector.len().min(HEAD);
    let mut rest = Vec::new();
    for (rank, kept) in vector.into_iter().enumerate() {
        if rank < head {
            score.insert(kept.0.id, (1.0 / (RRF_K + rank as f64 + 1.0), kept));
        } else {
            rest.push(kept);
        }
    }
    let lists = [(keyword, KEYWORD_WEIGHT), (described, DESCRIBED_WEIGHT)];
    for (list, weight) in lists {
        for (rank, kept) in list.into_iter().enumerate() {
            let add = weight / (RRF_K + rank as f64 + 1.0);
            score
                .entry(kept.0.id)
                .and_modify(|(s, _)| *s += add)
                .or_insert((add, kept));
        }
    }
    // Partial matches only reorder the head: they never bring in what the vectors left out.
    for (rank, (id, share)) in partial.iter().enumerate() {
        if let Some((s, _)) = score.get_mut(id) {
            *s += KEYWORD_WEIGHT * share / (RRF_K + rank as f64 + 1.0);
        }
    }
    let mut fused: Vec<(f64, Kept)> = score.into_values().collect();
    fused.sort_by(|(sa, a), (sb, b)| {
        sb.total_cmp(sa)
            .then(b.0.similarity.total_cmp(&a.0.similarity))
            .then(a.0.id.cmp(&b.0.id))
    });
    let taken: HashSet<i64> = fused.iter().map(|(_, k)| k.0.id).collect();
    fused
        .into_iter()
        .map(|(_, k)| k)
        .chain(rest.into_iter().filter(|k| !taken.contains(&k.0.id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(id: i64, similarity: f32) -> Kept {
        (Neighbour { id, similarity }, None)
    }

    #[test]
    fn terms_are_words_the_trigram_index_can_look_up_once_each() {
        assert_eq!(
            keyword_terms(["Monday  again, a", "MONDAY on #1 50%"]),
            ["Monday", "again", "50%"]
        );
        assert_eq!(keyword_terms(["咖啡 a"]), ["咖啡"]);
        assert_eq!(keyword_terms(["a dog on"]), ["dog"]);
    }

    #[test]
    fn a_keyword_match_comes_before_vector_neighbours_and_the_rest_keeps_its_order() {
        let vector: Vec<Kept> = (1..=150)
            .map(|i| kept(i, 1.0 - i as f32 / 1000.0))
            .collect();
        // Image 500 is below the cutoff (not among the vector results) but says the words.
        let fused = fuse(
            vector.clone(),
            vec![kept(500, 0.1), kept(3, 0.997)],
            Vec::new(),
            &[],
        );
        let ids: Vec<i64> = fused.iter().map(|k| k.0.id).collect();
        assert_eq!(&ids[..3], &[3, 500, 1]);
        assert_eq!(ids.len(), 151);
        // After the head, the vector order as it was.
        assert_eq!(&ids[101..], &(101..=150).collect::<Vec<_>>()[..]);
        // No keyword match: the vector order untouched.
        assert_eq!(fuse(vector.clone(), Vec::new(), Vec::new(), &[]), vector);
        // A partial match moves up within the head; one outside the head is not brought in.
        let fused = fuse(
            vector.clone(),
            Vec::new(),
            Vec::new(),
            &[(40, 0.5), (900, 1.0)],
        );
        let ids: Vec<i64> = fused.iter().map(|k| k.0.id).collect();
        assert_eq!(&ids[..2], &[40, 1]);
        assert!(!ids.contains(&900));
        // A match found only in a caption or tags reorders the head but does not lead it:
        // far down the vectors it stays behind the first; near the top it moves up.
        let fused = fuse(
            vector.clone(),
            Vec::new(),
            vec![kept(90, 0.9), kept(4, 0.99)],
            &[],
        );
        let ids: Vec<i64> = fused.iter().map(|k| k.0.id).collect();
        assert_eq!(ids[0], 4);
        assert!(ids.iter().position(|&i| i == 90).is_some_and(|p| p > 3));
        let outside = fuse(vector.clone(), Vec::new(), vec![kept(700, 0.2)], &[]);
        assert!(outside
            .iter()
            .position(|k| k.0.id == 700)
            .is_some_and(|p| p > 30));
        assert_eq!(
            content_terms(vec![
                "sign".into(),
                "that".into(),
                "SAYS".into(),
                "coffee".into()
            ]),
            ["sign", "coffee"]
        );
        assert_eq!(
            content_terms(vec!["the".into(), "who".into()]),
            ["the", "who"]
        );
    }
}

#[cfg(test)]
mod phrased_tests {
    use super::*;

    #[test]
    fn the_score_blend_lifts_the_best_keyword_match_to_a_perfect_vector_match() {
        let vector = vec![
            (
                Neighbour {
                    id: 1,
                    similarity: 0.7,
                },
                None,
            ),
            (
                Neighbour {
                    id: 2,
                    similarity: 0.65,
                },
                None,
            ),
        ];
        let keyword = vec![
            (
                (
                    Neighbour {
                        id: 9,
                        similarity: 0.2,
                    },
                    None,
                ),
                -4.0,
            ),
            (
                (
                    Neighbour {
                        id: 2,
                        similarity: 0.65,
                    },
                    None,
                ),
                -1.0,
            ),
        ];
        let ids: Vec<i64> = fuse_scores(vector, keyword, 0.6)
            .iter()
            .map(|k| k.0.id)
            .collect();
        // 9: 0.2 + 0.4 = 0.6; 2: 0.65 + 0.1 = 0.75; 1: 0.7.
        assert_eq!(ids, [2, 1, 9]);
    }

    #[test]
    fn phrase_matches_are_all_kept_the_ones_with_more_words_first() {
        let phrased = vec![
            (
                Neighbour {
                    id: 1,
                    similarity: 0.9,
                },
                None,
            ),
            (
                Neighbour {
                    id: 2,
                    similarity: 0.1,
                },
                None,
            ),
            (
                Neighbour {
                    id: 3,
                    similarity: 0.5,
                },
                None,
            ),
        ];
        // Image 2 also holds the unquoted words.
        let keyword = vec![(
            Neighbour {
                id: 2,
                similarity: 0.1,
            },
            None,
        )];
        let ids: Vec<i64> = fuse_phrased(phrased, &keyword)
            .iter()
            .map(|k| k.0.id)
            .collect();
        assert_eq!(ids, [2, 1, 3]);
    }
}
