//! CTC greedy decoding with the recogniser's own character list (PaddleOCR `CTCLabelDecode`):
//! the most likely class per step, repeats merged, blanks dropped; the confidence is the mean
//! probability of the steps kept.

/// The recogniser's classes: 0 is CTC's blank, then the model's characters, then a space.
#[derive(Debug, Clone)]
pub struct Alphabet {
    chars: Vec<String>,
}

impl Alphabet {
    /// From the character list (one entry per line of the recogniser's `character` metadata).
    pub fn new(chars: Vec<String>) -> Self {
        Alphabet { chars }
    }

    /// The number of classes the recogniser must output.
    pub fn classes(&self) -> usize {
        self.chars.len() + 2
    }

    fn label(&self, class: usize) -> &str {
        match class {
            0 => "",
            c if c <= self.chars.len() => &self.chars[c - 1],
            _ => " ",
        }
    }

    /// Decodes one line's `[steps × classes]` probabilities: `(text, confidence)`.
    pub fn decode(&self, probs: &[f32], classes: usize) -> (String, f32) {
        let mut text = String::new();
        let (mut sum, mut kept) = (0.0f64, 0usize);
        let mut previous = usize::MAX;
        for step in probs.chunks_exact(classes) {
            let (best, p) =
                step.iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |(bi, bp), (i, &p)| {
                        if p > bp {
                            (i, p)
                        } else {
                            (bi, bp)
                        }
                    });
            if best != previous && best != 0 {
                text.push_str(self.label(best));
                sum += f64::from(p);
                kept += 1;
            }
            previous = best;
        }
        let confidence = if kept == 0 {
            0.0
        } else {
            (sum / kept as f64) as f32
        };
        (text, confidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_merge_blanks_split_and_confidence_is_the_mean_of_kept_steps() {
        let alphabet = Alphabet::new(vec!["a".into(), "b".into()]);
        // classes: blank, a, b, space
        let step = |c: usize, p: f32| {
            let mut v = vec![(1.0 - p) / 3.0; 4];
            v[c] = p;
            v
        };
        let probs: Vec<f32> = [
            step(1, 0.9),
            step(1, 0.8),
            step(0, 0.9),
            step(1, 0.7),
            step(3, 0.6),
            step(2, 0.5),
        ]
        .concat();
        let (text, confidence) = alphabet.decode(&probs, 4);
        assert_eq!(text, "aa b");
        assert!((confidence - (0.9 + 0.7 + 0.6 + 0.5) / 4.0).abs() < 1e-6);
        assert_eq!(alphabet.decode(&step(0, 0.9), 4), (String::new(), 0.0));
    }
}
