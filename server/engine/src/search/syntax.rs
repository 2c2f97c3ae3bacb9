//! The query language of the one search box, parsed before any work.
//!
//! - plain words are looked for both ways: by meaning (the text model) and as substrings in
//!   the keyword index (words read in pictures, file and folder names, camera facts);
//! - `"quoted words"` must be printed in the picture (the words read from it);
//! - `-word` and `-"some words"` push the results away from that meaning and leave out images
//!   whose keyword row holds it;
//! - `folder:NAME` (a folder whose name holds NAME; an absolute path means that folder),
//!   `camera:NAME`, `after:DATE` (on or after), `before:DATE` (before), `type:FORMAT`, and
//!   `tag:NAME` (a tag the picture was given, whole, any case; repeatable) restrict;
//! - what an imported catalog (Lightroom) says restricts too: `rating:4`, `rating:>=4` (also
//!   `>`, `<=`, `<`), `pick:yes` / `pick:no` / `pick:rejected`, `label:red`,
//!   `collection:"Japan 2023"` and `keyword:Tokyo` (whole names, any case; repeatable);
//!   dates are `2024`, `2024-05` or `2024-05-17`, and values with spaces are quoted
//!   (`folder:"Japan 2023"`);
//! - `text:` asks the keyword index only, `like:` the meaning only.
//!
//! Anything else with a colon (`re:zero`, `12:30`) is a plain word.

/// Which signals a query asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Signal {
    /// Meaning and keywords, fused.
    #[default]
    Both,
    /// The keyword index only (`text:`).
    Words,
    /// The meaning only (`like:`).
    Looks,
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Plain words and `text:` / `like:` values, in order (keyword terms and the text to embed).
    pub words: Vec<String>,
    /// Quoted phrases the picture's words must hold.
    pub phrases: Vec<String>,
    /// `-word` and `-"words"`, each once (compared without case).
    pub negatives: Vec<String>,
    /// `folder:`: a folder name (or an absolute folder, starting with `/`).
    pub folder: Option<String>,
    /// `camera:`: part of the camera's make or model.
    pub camera: Option<String>,
    /// `after:`: the first day included (`YYYY-MM-DD`).
    pub after: Option<String>,
    /// `before:`: the first day left out (`YYYY-MM-DD`).
    pub before: Option<String>,
    /// `type:`: a file format as the catalog names it (`jpeg`, `png`, …).
    pub format: Option<String>,
    /// `tag:`: tags the picture must have, each once.
    pub tags: Vec<String>,
    /// `rating:`, `pick:`, `label:`, `collection:`, `keyword:`.
    pub catalog: crate::catalog::CatalogFilters,
    /// Which signals to ask.
    pub signal: Signal,
}

impl Parsed {
    /// What the text model embeds: the words and phrases, without operators.
    pub fn embed_text(&self) -> String {
        self.words
            .iter()
            .chain(&self.phrases)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether there is positive text (words or phrases).
    pub fn has_text(&self) -> bool {
        !self.words.is_empty() || !self.phrases.is_empty()
    }
}

/// One piece of the query text.
#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Phrase(String),
    Op(String, String),
}

/// Reads `text` into `(negated, token)` pieces.
fn tokens(text: &str) -> Vec<(bool, Token)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let quoted = |i: &mut usize| -> String {
        // At the opening quote: up to the closing one (or the end).
        *i += 1;
        let start = *i;
        while *i < chars.len() && chars[*i] != '"' {
            *i += 1;
        }
        let s: String = chars[start..*i].iter().collect();
        *i += 1;
        s
    };
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let next_is_text = chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
        let negated = chars[i] == '-' && next_is_text;
        if negated {
            i += 1;
        }
        if chars[i] == '"' {
            let phrase = quoted(&mut i);
            out.push((negated, Token::Phrase(phrase)));
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
            i += 1;
        }
        let bare: String = chars[start..i].iter().collect();
        let op = bare
            .split_once(':')
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .filter(|(name, _)| OPERATORS.contains(&name.as_str()));
        match op {
            Some((name, value)) if value.is_empty() && chars.get(i) == Some(&'"') => {
                let value = quoted(&mut i);
                out.push((negated, Token::Op(name, value)));
            }
            Some((name, value)) => out.push((negated, Token::Op(name, value))),
            None => out.push((negated, Token::Word(bare))),
        }
    }
    out
}

/// The operator names.
const OPERATORS: [&str; 13] = [
    "folder",
    "camera",
    "after",
    "before",
    "type",
    "tag",
    "text",
    "like",
    "rating",
    "pick",
    "label",
    "collection",
    "keyword",
];

/// Parses a query, or says what is wrong with it in words the user can act on.
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut signals = Vec::new();
    for (negated, token) in tokens(text) {
        match token {
            Token::Word(w) if negated => add_negative(&mut p, w),
            Token::Word(w) => p.words.push(w),
            Token::Phrase(s) => {
                let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
                if s.is_empty() {
                    continue;
                }
                if negated {
                    add_negative(&mut p, s);
                } else if !p.phrases.iter().any(|x| x.eq_ignore_ascii_case(&s)) {
                    p.phrases.push(s);
                }
            }
            Token::Op(name, _) if negated => {
                return Err(format!(
                    "{name}: cannot be negated; use -word to leave out images with a word"
                ))
            }
            Token::Op(name, value) => {
                let value = value.trim().to_owned();
                match name.as_str() {
                    "text" | "like" => {
                        let signal = if name == "text" {
                            Signal::Words
                        } else {
                            Signal::Looks
                        };
                        if !signals.contains(&signal) {
                            signals.push(signal);
                        }
                        if !value.is_empty() {
                            p.words.push(value);
                        }
                    }
                    _ if value.is_empty() => {
                        return Err(format!("{name}: needs a value, like {}", example(&name)))
                    }
                    "folder" => set(&mut p.folder, "folder", value)?,
                    "camera" => set(&mut p.camera, "camera", value)?,
                    "after" => set(&mut p.after, "after", first_day(&value, "after")?)?,
                    "before" => set(&mut p.before, "before", first_day(&value, "before")?)?,
                    "type" => set(&mut p.format, "type", super::formats::format_of(&value)?)?,
                    "tag" => {
                        let tag = value.split_whitespace().collect::<Vec<_>>().join(" ");
                        if !p.tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
                            p.tags.push(tag);
                        }
                    }
                    "rating" => {
                        let r = rating(&value)?;
                        match p.catalog.rating {
                            Some(old) if old != r => {
                                return Err("rating: is given twice; keep one".into())
                            }
                            _ => p.catalog.rating = Some(r),
                        }
                    }
                    "pick" => {
                        let flag = match value.to_ascii_lowercase().as_str() {
                            "yes" | "true" | "picked" | "pick" | "flagged" => 1,
                            "no" | "false" | "none" | "unflagged" => 0,
                            "rejected" | "reject" | "rejects" => -1,
                            _ => return Err(format!("pick: is yes, no or rejected, not {value}")),
                        };
                        match p.catalog.flag {
                            Some(old) if old != flag => {
                                return Err("pick: is given twice; keep one".into())
                            }
                            _ => p.catalog.flag = Some(flag),
                        }
                    }
                    "label" => set(&mut p.catalog.label, "label", value)?,
                    "collection" | "keyword" => {
                        let v = value.split_whitespace().collect::<Vec<_>>().join(" ");
                        let list = if name == "collection" {
                            &mut p.catalog.collections
                        } else {
                            &mut p.catalog.keywords
                        };
                        if !list.iter().any(|t| t.eq_ignore_ascii_case(&v)) {
                            list.push(v);
                        }
                    }
                    _ => unreachable!("OPERATORS lists the names handled here"),
                }
            }
        }
    }
    p.signal = match signals[..] {
        [] => Signal::Both,
        [one] => one,
        _ => {
            return Err(
                "text: asks the words only and like: the meaning only; use one of them".into(),
            )
        }
    };
    Ok(p)
}

fn add_negative(p: &mut Parsed, term: String) {
    if !p.negatives.iter().any(|n| n.eq_ignore_ascii_case(&term)) {
        p.negatives.push(term);
    }
}

fn set(slot: &mut Option<String>, name: &str, value: String) -> Result<(), String> {
    match slot {
        Some(old) if *old != value => Err(format!(
            "{name}: is given twice; keep one ({name}:{old} or {name}:{value})"
        )),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

fn example(name: &str) -> &'static str {
    match name {
        "folder" => "folder:memes or folder:\"Japan 2023\"",
        "camera" => "camera:fujifilm",
        "after" => "after:2023 or after:2023-05-17",
        "before" => "before:2024-01",
        "tag" => "tag:beach or tag:\"christmas tree\"",
        "rating" => "rating:5 or rating:>=4",
        "pick" => "pick:yes, pick:no or pick:rejected",
        "label" => "label:red",
        "collection" => "collection:\"Japan 2023\"",
        "keyword" => "keyword:Tokyo or keyword:\"Akiko Tanaka\"",
        _ => "type:png",
    }
}

/// Stars as a range: `4` (exactly), `>=4`, `>4`, `<=2`, `<2`, `=5`.
fn rating(value: &str) -> Result<(u8, u8), String> {
    let v = value.trim();
    let (op, n) = match v.find(|c: char| c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => ("", v),
    };
    let bad = || format!("rating: is 0 to 5 stars, like rating:4 or rating:>=4, not {value}");
    let n: u8 = n.trim().parse().ok().filter(|n| *n <= 5).ok_or_else(bad)?;
    match op.trim() {
        "" | "=" | "==" => Ok((n, n)),
        ">=" => Ok((n, 5)),
        ">" if n < 5 => Ok((n + 1, 5)),
        "<=" => Ok((0, n)),
        "<" if n > 0 => Ok((0, n - 1)),
        _ => Err(bad()),
    }
}

/// The first day of `2024`, `2024-05` or `2024-05-17` (also with `/` or `.`), as `YYYY-MM-DD`.
fn first_day(value: &str, name: &str) -> Result<String, String> {
    let parts: Vec<&str> = value.split(['-', '/', '.']).collect();
    let number = |s: &str, digits: usize, range: std::ops::RangeInclusive<u32>| {
        (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|n| range.contains(n))
    };
    let wrong = || {
        format!(
            "{name}: takes a year, a month or a day (2023, 2023-05 or 2023-05-17), not {value:?}"
        )
    };
    let year = parts
        .first()
        .and_then(|y| number(y, 4, 1000..=9999))
        .ok_or_else(wrong)?;
    let month = match parts.get(1) {
        Some(m) => number(m, 2, 1..=12)
            .or_else(|| number(m, 1, 1..=9))
            .ok_or_else(wrong)?,
        None => 1,
    };
    let day = match parts.get(2) {
        Some(d) => number(d, 2, 1..=31)
            .or_else(|| number(d, 1, 1..=9))
            .ok_or_else(wrong)?,
        None => 1,
    };
    if parts.len() > 3 {
        return Err(wrong());
    }
    Ok(format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn plain_words_phrases_and_negatives() {
        let p = parse(r#"monday  "Again  AND again" -cat -"bad day" -Cat dog"#).expect("parses");
        assert_eq!(p.words, words(&["monday", "dog"]));
        assert_eq!(p.phrases, words(&["Again AND again"]));
        assert_eq!(p.negatives, words(&["cat", "bad day"]));
        assert_eq!(p.signal, Signal::Both);
        assert_eq!(p.embed_text(), "monday dog Again AND again");
        // A lone dash and words with colons that are not operators stay words.
        let p = parse("re:zero - 12:30 http://x").expect("parses");
        assert_eq!(p.words, words(&["re:zero", "-", "12:30", "http://x"]));
        // An unclosed quote runs to the end.
        assert_eq!(parse(r#"a "b c"#).expect("parses").phrases, words(&["b c"]));
        assert_eq!(parse(r#""""#).expect("parses"), Parsed::default());
    }

    #[test]
    fn operators_restrict() {
        let p =
            parse(r#"sunset folder:"Japan 2023" CAMERA:fuji after:2023 before:2024-2 type:JPG"#)
                .expect("parses");
        assert_eq!(p.words, words(&["sunset"]));
        assert_eq!(p.folder.as_deref(), Some("Japan 2023"));
        assert_eq!(p.camera.as_deref(), Some("fuji"));
        assert_eq!(p.after.as_deref(), Some("2023-01-01"));
        assert_eq!(p.before.as_deref(), Some("2024-02-01"));
        assert_eq!(p.format.as_deref(), Some("jpeg"));
        assert_eq!(
            parse("after:2023/05/17").expect("parses").after.as_deref(),
            Some("2023-05-17")
        );
        assert_eq!(
            parse("type:.heif").expect("parses").format.as_deref(),
            Some("heic")
        );
        for (typed, format) in [
            ("NEF", "nef"),
            ("raw", "raw"),
            ("ppm", "pnm"),
            ("cr3", "cr3"),
        ] {
            let p = parse(&format!("type:{typed}")).expect("parses");
            assert_eq!(p.format.as_deref(), Some(format), "{typed}");
        }
        let p = parse(r#"tag:red tag:"Christmas  tree" TAG:Red dog"#).expect("parses");
        assert_eq!(p.tags, words(&["red", "Christmas tree"]));
        assert_eq!(p.words, words(&["dog"]));
        assert!(parse("tag:").is_err());
        assert!(parse("-tag:red").is_err());
        let p = parse(r#"rating:>=4 pick:yes label:Red collection:"Japan  2023" keyword:Tokyo"#)
            .expect("parses");
        assert_eq!(p.catalog.rating, Some((4, 5)));
        assert_eq!(p.catalog.flag, Some(1));
        assert_eq!(p.catalog.label.as_deref(), Some("Red"));
        assert_eq!(p.catalog.collections, words(&["Japan 2023"]));
        assert_eq!(p.catalog.keywords, words(&["Tokyo"]));
        assert!(p.words.is_empty());
        for (q, want) in [
            ("3", (3, 3)),
            (">3", (4, 5)),
            ("<=2", (0, 2)),
            ("<1", (0, 0)),
        ] {
            assert_eq!(
                parse(&format!("rating:{q}")).expect(q).catalog.rating,
                Some(want)
            );
        }
        for bad in [
            "rating:6",
            "rating:>5",
            "rating:<0",
            "rating:lots",
            "pick:maybe",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("pick:rejected").expect("parses").catalog.flag,
            Some(-1)
        );
    }

    #[test]
    fn one_signal_only() {
        let p = parse("text:monday again").expect("parses");
        assert_eq!(
            (p.signal, p.words),
            (Signal::Words, words(&["monday", "again"]))
        );
        let p = parse("like: red circle").expect("parses");
        assert_eq!(
            (p.signal, p.words),
            (Signal::Looks, words(&["red", "circle"]))
        );
        assert!(parse("text:a like:b")
            .expect_err("refused")
            .contains("use one"));
    }

    #[test]
    fn mistakes_are_explained() {
        for (q, says) in [
            ("after:yesterday", "takes a year"),
            ("before:2023-13", "takes a year"),
            ("after:2023-01-01-01", "takes a year"),
            ("type:psd", "type: is one of jpeg"),
            ("folder:", "needs a value"),
            ("folder:a folder:b", "given twice"),
            ("-folder:a", "cannot be negated"),
        ] {
            let err = parse(q).expect_err("refused");
            assert!(err.contains(says), "{q}: {err}");
        }
        // The same value twice is no conflict.
        assert!(parse("type:png type:png").is_ok());
    }
}
