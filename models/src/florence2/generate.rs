//! Text generation as transformers 5.23 does it (`generation/utils.py`: `_sample` without
//! sampling, and the vectorised `_beam_search`), with the logits processors Florence-2's
//! `generation_config.json` turns on: no repeated n-grams, a forced first token, a forced
//! last token. Token-for-token equality with `generate()` is the goal, so the arithmetic
//! follows the reference step by step (f32 scores, -1e9 for dead candidates, the same top-k
//! candidate pool and finishing rules).
//!
//! The model is behind [`Step`]: given the last token of each row, the next-token logits of
//! each row; beam search also tells it how rows were reordered.

use super::config::GenerationConfig;

/// The score transformers gives candidates that must not win.
const DEAD: f32 = -1.0e9;

/// The decoder, one token per row at a time.
pub trait Step {
    /// The error the model can fail with.
    type Error;
    /// Appends `tokens[i]` to row `i` and returns each row's next-token logits.
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>, Self::Error>;
    /// Keeps rows `rows`, in that order (beam search's reordering of its cache).
    fn reorder(&mut self, rows: &[usize]);
}

/// The settings one generation runs with, resolved from the generation config.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Beams (1: greedy).
    pub num_beams: usize,
    /// Ban repeating n-grams of this length (0: off).
    pub no_repeat_ngram_size: usize,
    /// Stop once every beam slot holds a finished hypothesis.
    pub early_stopping: bool,
    /// Forced first generated token.
    pub forced_bos: Option<u32>,
    /// Forced token at the last position.
    pub forced_eos: Option<u32>,
    /// The decoder's first token.
    pub start: u32,
    /// End of sequence.
    pub eos: Option<u32>,
    /// A finished beam's score is divided by its generated length to this power.
    pub length_penalty: f32,
    /// Most new tokens.
    pub max_new_tokens: usize,
}

impl Settings {
    /// The generation config's settings (`start` and `eos` fall back to the model's).
    pub fn from_config(cfg: &GenerationConfig, start: u32, eos: u32) -> Self {
        Settings {
            num_beams: cfg.num_beams.max(1),
            no_repeat_ngram_size: cfg.no_repeat_ngram_size,
            early_stopping: cfg.early_stopping,
            forced_bos: cfg.forced_bos_token_id,
            forced_eos: cfg.forced_eos_token_id,
            start: cfg.decoder_start_token_id.unwrap_or(start),
            eos: Some(cfg.eos_token_id.unwrap_or(eos)),
            length_penalty: cfg.length_penalty as f32,
            // transformers' default max_length is 20 (the start token counts).
            max_new_tokens: cfg.max_new_tokens.unwrap_or(19),
        }
    }

    fn max_length(&self) -> usize {
        self.max_new_tokens + 1
    }
}

/// Applies the logits processors to one row's scores (`seq`: that row's tokens so far).
fn process(s: &Settings, seq: &[u32], scores: &mut [f32]) {
    let n = s.no_repeat_ngram_size;
    let cur = seq.len();
    if n > 0 && cur >= n {
        let prefix = &seq[cur + 1 - n..];
        for i in 0..=(cur - n) {
            if &seq[i..i + n - 1] == prefix {
                if let Some(x) = scores.get_mut(seq[i + n - 1] as usize) {
                    *x = f32::NEG_INFINITY;
                }
            }
        }
    }
    let force = |scores: &mut [f32], token: u32| {
        scores.iter_mut().for_each(|x| *x = f32::NEG_INFINITY);
        if let Some(x) = scores.get_mut(token as usize) {
            *x = 0.0;
        }
    };
    if let (1, Some(bos)) = (cur, s.forced_bos) {
        force(scores, bos);
    }
    if let Some(eos) = s.forced_eos {
        if cur == s.max_length() - 1 {
            force(scores, eos);
        }
    }
}

/// `log_softmax` in f32, as torch computes it: `x - max - log(sum(exp(x - max)))`.
fn log_softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return;
    }
    let sum: f32 = x.iter().map(|v| (v - max).exp()).sum();
    let log = sum.ln();
    x.iter_mut().for_each(|v| *v = *v - max - log);
}

/// The first index of the largest value (torch's `argmax`).
fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in x.iter().enumerate() {
        if *v > x[best] {
            best = i;
        }
    }
    best
}

/// Indices of the `k` largest values, largest first (ties: lower index first).
fn top_k(x: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    let k = k.min(x.len());
    let cmp = |a: &usize, b: &usize| x[*b].total_cmp(&x[*a]).then(a.cmp(b));
    if k < idx.len() {
        idx.select_nth_unstable_by(k, cmp);
        idx.truncate(k);
    }
    idx.sort_by(cmp);
    idx
}

/// Greedy decoding: the start token, then the best next token until EOS or the length limit.
pub fn greedy<S: Step>(s: &Settings, model: &mut S) -> Result<Vec<u32>, S::Error> {
    let mut seq = vec![s.start];
    while seq.len() < s.max_length() {
        let last = *seq.last().expect("never empty");
        let mut scores = model.step(&[last])?.swap_remove(0);
        process(s, &seq, &mut scores);
        let next = argmax(&scores) as u32;
        seq.push(next);
        if Some(next) == s.eos {
            break;
        }
    }
    Ok(seq)
}

/// One finished-hypothesis slot.
#[derive(Debug, Clone)]
struct Finished {
    seq: Vec<u32>,
    score: f32,
    done: bool,
}

/// Beam search with `s.num_beams` beams; returns the best finished hypothesis.
pub fn beam_search<S: Step>(s: &Settings, model: &mut S) -> Result<Vec<u32>, S::Error> {
    let beams = s.num_beams;
    let keep = 2usize.max(1 + usize::from(s.eos.is_some())) * beams;
    let max_length = s.max_length();
    let mut running: Vec<Vec<u32>> = vec![vec![s.start]; beams];
    let mut running_scores: Vec<f32> = (0..beams)
        .map(|b| if b == 0 { 0.0 } else { DEAD })
        .collect();
    let mut finished: Vec<Finished> = vec![
        Finished {
            seq: vec![s.start],
            score: DEAD,
            done: false,
        };
        beams
    ];
    let mut improvable = true;
    let mut cur = 1usize;
    loop {
        let last: Vec<u32> = running
            .iter()
            .map(|r| *r.last().expect("never empty"))
            .collect();
        let logits = model.step(&last)?;
        let vocab = logits[0].len();
        let mut all = Vec::with_capacity(beams * vocab);
        for (b, mut row) in logits.into_iter().enumerate() {
            log_softmax(&mut row);
            process(s, &running[b], &mut row);
            all.extend(row.into_iter().map(|v| v + running_scores[b]));
        }
        // The candidate pool: the best `keep` continuations over all beams.
        let pool: Vec<(f32, usize, u32)> = top_k(&all, keep)
            .into_iter()
            .map(|i| (all[i], i / vocab, (i % vocab) as u32))
            .collect();
        let hits: Vec<bool> = pool
            .iter()
            .map(|&(_, _, t)| Some(t) == s.eos || cur + 1 >= max_length)
            .collect();
        // Next running beams: the best candidates that did not finish.
        let run_scores: Vec<f32> = pool
            .iter()
            .zip(&hits)
            .map(|(&(v, _, _), &h)| if h { v + DEAD } else { v })
            .collect();
        let next = top_k(&run_scores, beams);
        // Finished slots: the old ones and the candidates among the first `beams` that hit a
        // stop, length-normalised; the best `beams` stay.
        let full = s.early_stopping && finished.iter().all(|f| f.done);
        let divisor = (cur as f32).powf(s.length_penalty);
        let mut merged: Vec<Finished> = finished.clone();
        for (i, &(v, beam, token)) in pool.iter().enumerate() {
            let did = hits[i] && i < beams;
            let mut score = v / divisor;
            if full {
                score += DEAD;
            }
            if !improvable {
                score += DEAD;
            }
            if !did {
                score += DEAD;
            }
            let mut seq = running[beam].clone();
            seq.push(token);
            merged.push(Finished {
                seq,
                score,
                done: did,
            });
        }
        let scores: Vec<f32> = merged.iter().map(|f| f.score).collect();
        finished = top_k(&scores, beams)
            .into_iter()
            .map(|i| merged[i].clone())
            .collect();
        // Reorder the model's rows to the chosen beams.
        let rows: Vec<usize> = next.iter().map(|&i| pool[i].1).collect();
        running = next
            .iter()
            .map(|&i| {
                let (_, beam, token) = pool[i];
                let mut seq = running[beam].clone();
                seq.push(token);
                seq
            })
            .collect();
        running_scores = next.iter().map(|&i| run_scores[i]).collect();
        model.reorder(&rows);
        cur += 1;
        // Can a running beam still beat the worst finished one?
        let all_done = finished.iter().all(|f| f.done);
        let best_possible = running_scores[0] / ((cur - 1) as f32).powf(s.length_penalty);
        let worst = if all_done {
            finished
                .iter()
                .map(|f| f.score)
                .fold(f32::INFINITY, f32::min)
        } else {
            DEAD
        };
        improvable = improvable && best_possible > worst;
        let open = !(all_done && s.early_stopping);
        let can_continue = !hits.iter().all(|&h| h);
        if !(improvable && open && can_continue) || cur >= max_length {
            break;
        }
    }
    Ok(finished.swap_remove(0).seq)
}
