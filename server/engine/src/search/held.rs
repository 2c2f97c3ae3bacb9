//! Where the query's terms are held: which matches hold them in their own words, names and
//! facts rather than only in a caption or tags, and which vector results hold some of them.
//! Both read the page's keyword rows and match as the keyword index does ([`super::why`]).

use std::collections::HashMap;

use super::Kept;
use crate::catalog::{Catalog, CatalogError};

/// The images of `head` (ids, best first) that hold some but not all of `terms` (with two
/// terms or more), with the share of the terms they hold, most first (then in head order).
pub fn partial_matches(
    catalog: &Catalog,
    head: &[i64],
    terms: &[String],
) -> Result<Vec<(i64, f64)>, CatalogError> {
    if terms.len() < 2 || head.is_empty() {
        return Ok(Vec::new());
    }
    let rows: HashMap<i64, String> = catalog
        .keyword_rows(head)?
        .into_iter()
        .map(|r| (r.image_id, format!("{}\n{}\n{}", r.words, r.names, r.facts)))
        .collect();
    let needles: Vec<Vec<char>> = terms.iter().map(|t| super::why::folded(t)).collect();
    let mut out: Vec<(usize, i64, f64)> = Vec::new();
    for (order, id) in head.iter().enumerate() {
        let Some(text) = rows.get(id) else {
            continue;
        };
        let hay = super::why::folded(text);
        let held = needles
            .iter()
            .filter(|n| super::why::holds_folded(&hay, n))
            .count();
        if held > 0 && held < terms.len() {
            out.push((order, *id, held as f64 / terms.len() as f64));
        }
    }
    out.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    Ok(out.into_iter().map(|(_, id, share)| (id, share)).collect())
}

/// `matches` split into those whose words, file names and facts hold every term, and those
/// that hold them only with their caption and tags (both in keyword order).
pub fn split_described(
    catalog: &Catalog,
    matches: Vec<Kept>,
    terms: &[String],
) -> Result<(Vec<Kept>, Vec<Kept>), CatalogError> {
    let ids: Vec<i64> = matches.iter().map(|k| k.0.id).collect();
    let rows: HashMap<i64, String> = catalog
        .keyword_rows(&ids)?
        .into_iter()
        .map(|r| (r.image_id, format!("{}\n{}\n{}", r.words, r.names, r.facts)))
        .collect();
    let needles: Vec<Vec<char>> = terms.iter().map(|t| super::why::folded(t)).collect();
    Ok(matches.into_iter().partition(|k| {
        rows.get(&k.0.id).is_some_and(|text| {
            let hay = super::why::folded(text);
            needles.iter().all(|n| super::why::holds_folded(&hay, n))
        })
    }))
}
