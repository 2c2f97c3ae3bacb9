//! Live counters of a crawl, shared by its threads, the command line's progress line and the
//! status the web page streams.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Live counters of a crawl, shared with the progress display and the status API.
#[derive(Debug)]
pub struct Progress {
    started: Mutex<Option<Instant>>,
    first_embed: Mutex<Option<Instant>>,
    /// When the embedding stage ended (the rate stops there).
    embed_ended: Mutex<Option<Instant>>,
    /// When the crawl ended: its time stops there.
    ended: Mutex<Option<Instant>>,
    /// How long each stage of the embedding pipeline worked.
    pub busy: Busy,
    /// Image files found so far.
    pub seen: AtomicU64,
    /// Unchanged since the last crawl.
    pub unchanged: AtomicU64,
    /// New or changed files whose content was already embedded (moves, copies).
    pub reused: AtomicU64,
    /// Newly embedded.
    pub embedded: AtomicU64,
    /// Skipped (new reasons this crawl, plus unchanged files skipped before).
    pub skipped: AtomicU64,
    /// Files forgotten because they are gone.
    pub removed: AtomicU64,
    /// Whether the walk has finished (so the total is known).
    pub walked: AtomicBool,
    /// Whether the crawl is running.
    pub running: AtomicBool,
    /// Whether the crawl is reading the words in pictures (after embedding).
    pub reading_text: AtomicBool,
    /// When reading text began.
    text_started: Mutex<Option<Instant>>,
    /// Images the text pass has to read.
    pub text_total: AtomicU64,
    /// Images it has read.
    pub text_read: AtomicU64,
    /// Of those, images with words.
    pub text_found: AtomicU64,
    /// The tag pass (after embedding, before the words are read).
    pub tags: Pass,
    /// The caption pass (last).
    pub captions: Pass,
}

/// How long each stage of the embedding pipeline spent working rather than waiting for work
/// or for room downstream, summed over its threads, in nanoseconds: where the time goes, and
/// whether the slowest stage is kept busy.
#[derive(Debug, Default)]
pub struct Busy {
    /// Decoder threads running.
    pub decoders: AtomicU64,
    /// Reading, hashing, decoding, thumbnails and preprocessing.
    pub decode_ns: AtomicU64,
    /// The model.
    pub embed_ns: AtomicU64,
    /// Catalog transactions and vector index insertions.
    pub write_ns: AtomicU64,
}

impl Busy {
    /// Adds the time since `since` to `counter`.
    pub(super) fn add(counter: &AtomicU64, since: Instant) {
        let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(ns, Ordering::Relaxed);
    }
}

/// Each stage's working time in seconds, beside the embedding stage's length.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// From the first image embedded to the end of embedding.
    pub embedding_s: f64,
    /// Decoder threads.
    pub decoders: u64,
    /// Decoding, summed over the decoder threads.
    pub decode_s: f64,
    /// The model.
    pub embed_s: f64,
    /// Writing.
    pub write_s: f64,
}

/// The counters of one pass over the library after embedding (tags, captions).
#[derive(Debug, Default)]
pub struct Pass {
    started: Mutex<Option<Instant>>,
    /// Whether it is running.
    pub running: AtomicBool,
    /// Images it set out to handle.
    pub total: AtomicU64,
    /// Images handled.
    pub done: AtomicU64,
    /// Of those, images that got something (a tag, a caption).
    pub found: AtomicU64,
    /// Whether it is preparing (the tag pass: embedding the vocabulary, once per model).
    preparing: AtomicBool,
    /// Preparation steps done and in all.
    prepared: AtomicU64,
    to_prepare: AtomicU64,
}

impl Pass {
    fn reset(&self) {
        *lock(&self.started) = None;
        self.running.store(false, Ordering::Relaxed);
        self.preparing.store(false, Ordering::Relaxed);
        for c in [
            &self.total,
            &self.done,
            &self.found,
            &self.prepared,
            &self.to_prepare,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Notes that the pass has begun, with `total` images to handle.
    pub(super) fn start(&self, total: u64) {
        *lock(&self.started) = Some(Instant::now());
        self.total.store(total, Ordering::Relaxed);
        self.running.store(true, Ordering::Relaxed);
    }

    /// Notes how far the work before the first image has come (`done` of `total` steps).
    pub(super) fn preparing(&self, done: u64, total: u64) {
        self.prepared.store(done, Ordering::Relaxed);
        self.to_prepare.store(total, Ordering::Relaxed);
        self.preparing.store(true, Ordering::Relaxed);
    }

    /// Notes that the work before the first image is over.
    pub(super) fn prepared(&self) {
        self.preparing.store(false, Ordering::Relaxed);
    }

    /// Notes one image handled, and whether it got something.
    pub(super) fn one(&self, found: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if found {
            self.found.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self, end: Instant) -> TextProgress {
        let done = self.done.load(Ordering::Relaxed);
        let seconds =
            lock(&self.started).map_or(0.0, |t| end.saturating_duration_since(t).as_secs_f64());
        TextProgress {
            reading: self.running.load(Ordering::Relaxed),
            read: done,
            total: self.total.load(Ordering::Relaxed),
            with_words: self.found.load(Ordering::Relaxed),
            rate: if seconds > 0.5 {
                done as f64 / seconds
            } else {
                0.0
            },
            preparing: self.preparing.load(Ordering::Relaxed).then(|| {
                (
                    self.prepared.load(Ordering::Relaxed),
                    self.to_prepare.load(Ordering::Relaxed),
                )
            }),
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Mutex::new(None),
            first_embed: Mutex::new(None),
            embed_ended: Mutex::new(None),
            ended: Mutex::new(None),
            busy: Busy::default(),
            seen: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            embedded: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            removed: AtomicU64::new(0),
            walked: AtomicBool::new(false),
            running: AtomicBool::new(false),
            reading_text: AtomicBool::new(false),
            text_started: Mutex::new(None),
            text_total: AtomicU64::new(0),
            text_read: AtomicU64::new(0),
            text_found: AtomicU64::new(0),
            tags: Pass::default(),
            captions: Pass::default(),
        }
    }
}

/// A copy of the counters with rates, for display.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgressSnapshot {
    /// Whether a crawl is running.
    pub running: bool,
    /// Whether the walk has finished.
    pub walked: bool,
    /// Image files found.
    pub seen: u64,
    /// Files handled so far (unchanged, reused, embedded or skipped).
    pub done: u64,
    /// Unchanged files.
    pub unchanged: u64,
    /// Moved or copied content reused.
    pub reused: u64,
    /// Newly embedded.
    pub embedded: u64,
    /// Skipped.
    pub skipped: u64,
    /// Forgotten.
    pub removed: u64,
    /// Seconds since the crawl started.
    pub elapsed_s: f64,
    /// Images embedded per second.
    pub rate: f64,
    /// Estimated seconds left, once the walk has finished and a rate is known.
    pub eta_s: Option<f64>,
    /// The text pass: whether it is running, images read of those to read, with words.
    pub text: TextProgress,
    /// The tag pass: images tagged, of those to tag, with at least one tag.
    pub tags: TextProgress,
    /// The caption pass: images captioned, of those to caption, with a caption.
    pub captions: TextProgress,
    /// Where the embedding stage's time went.
    pub stages: StageTimes,
}

/// The counters of a pass after embedding: the text pass's (words read), and in the same
/// shape the tag and caption passes'.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TextProgress {
    /// Whether the crawl is reading text now.
    pub reading: bool,
    /// Images read this crawl.
    pub read: u64,
    /// Images this crawl's text pass set out to read.
    pub total: u64,
    /// Images read this crawl that had words.
    pub with_words: u64,
    /// Images read per second.
    pub rate: f64,
    /// While the pass prepares (the tag pass embedding its vocabulary): steps done and in all.
    pub preparing: Option<(u64, u64)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Progress {
    /// Zeroes the counters and marks a crawl as running (a crawl does it as it starts).
    pub fn reset(&self) {
        *lock(&self.started) = Some(Instant::now());
        *lock(&self.first_embed) = None;
        *lock(&self.embed_ended) = None;
        *lock(&self.ended) = None;
        for c in [
            &self.busy.decoders,
            &self.busy.decode_ns,
            &self.busy.embed_ns,
            &self.busy.write_ns,
            &self.seen,
            &self.unchanged,
            &self.reused,
            &self.embedded,
            &self.skipped,
            &self.removed,
            &self.text_total,
            &self.text_read,
            &self.text_found,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        *lock(&self.text_started) = None;
        self.tags.reset();
        self.captions.reset();
        self.walked.store(false, Ordering::Relaxed);
        self.reading_text.store(false, Ordering::Relaxed);
        self.running.store(true, Ordering::Relaxed);
    }

    /// Notes that the text pass has begun, with `total` images to read.
    pub(super) fn text_started(&self, total: u64) {
        *lock(&self.text_started) = Some(Instant::now());
        self.text_total.store(total, Ordering::Relaxed);
        self.reading_text.store(true, Ordering::Relaxed);
    }

    /// Marks the crawl as over, freezing its elapsed time and rate.
    pub(super) fn finish(&self) {
        *lock(&self.ended) = Some(Instant::now());
        self.running.store(false, Ordering::Relaxed);
        self.reading_text.store(false, Ordering::Relaxed);
        self.tags.running.store(false, Ordering::Relaxed);
        self.captions.running.store(false, Ordering::Relaxed);
    }

    /// Notes that embedding has begun (the rate counts from then, not from the walk's start).
    pub(super) fn embedding_started(&self) {
        let mut first_embed = lock(&self.first_embed);
        if first_embed.is_none() {
            *first_embed = Some(Instant::now());
        }
    }

    /// Notes that the embedding stage is over (the passes after it do not count in its rate).
    pub(super) fn embedding_finished(&self) {
        lock(&self.embed_ended).get_or_insert_with(Instant::now);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (seen, unchanged, reused, embedded, skipped) = (
            get(&self.seen),
            get(&self.unchanged),
            get(&self.reused),
            get(&self.embedded),
            get(&self.skipped),
        );
        let done = unchanged + reused + embedded + skipped;
        let end = lock(&self.ended).unwrap_or_else(Instant::now);
        let since = |t: Instant| end.saturating_duration_since(t).as_secs_f64();
        let elapsed_s = lock(&self.started).map_or(0.0, since);
        let embed_end = lock(&self.embed_ended).unwrap_or(end);
        let embedding_s = lock(&self.first_embed).map_or(0.0, |t| {
            embed_end.saturating_duration_since(t).as_secs_f64()
        });
        let rate = if embedding_s > 0.5 {
            embedded as f64 / embedding_s
        } else {
            0.0
        };
        let walked = self.walked.load(Ordering::Relaxed);
        let eta_s = (walked && rate > 0.0).then(|| seen.saturating_sub(done) as f64 / rate);
        let text_read = get(&self.text_read);
        let text_s = lock(&self.text_started).map_or(0.0, since);
        let text = TextProgress {
            reading: self.reading_text.load(Ordering::Relaxed),
            read: text_read,
            total: get(&self.text_total),
            with_words: get(&self.text_found),
            rate: if text_s > 0.5 {
                text_read as f64 / text_s
            } else {
                0.0
            },
            preparing: None,
        };
        ProgressSnapshot {
            running: self.running.load(Ordering::Relaxed),
            walked,
            seen,
            done,
            unchanged,
            reused,
            embedded,
            skipped,
            removed: get(&self.removed),
            elapsed_s,
            rate,
            eta_s,
            text,
            tags: self.tags.snapshot(end),
            captions: self.captions.snapshot(end),
            stages: StageTimes {
                embedding_s,
                decoders: get(&self.busy.decoders),
                decode_s: get(&self.busy.decode_ns) as f64 / 1e9,
                embed_s: get(&self.busy.embed_ns) as f64 / 1e9,
                write_s: get(&self.busy.write_ns) as f64 / 1e9,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_crawl_keeps_its_time() {
        let progress = Progress::default();
        progress.reset();
        assert!(progress.snapshot().running);
        std::thread::sleep(std::time::Duration::from_millis(20));
        progress.finish();
        let first = progress.snapshot();
        assert!(!first.running);
        assert!(first.elapsed_s >= 0.02, "{first:?}");
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_eq!(progress.snapshot().elapsed_s, first.elapsed_s);
        progress.reset();
        assert!(progress.snapshot().elapsed_s < first.elapsed_s);
    }

    #[test]
    fn the_embedding_rate_stops_where_embedding_ends() {
        let progress = Progress::default();
        progress.reset();
        progress.embedding_started();
        std::thread::sleep(std::time::Duration::from_millis(20));
        progress.embedded.store(10, Ordering::Relaxed);
        progress.embedding_finished();
        // The tag pass then embeds its vocabulary and starts again once it has.
        progress.tags.start(0);
        std::thread::sleep(std::time::Duration::from_millis(60));
        progress.tags.start(10);
        let s = progress.snapshot();
        // At least the 60 ms after embedding ended are left out (sleeps only ever run long).
        assert!(
            s.stages.embedding_s >= 0.02 && s.stages.embedding_s + 0.06 <= s.elapsed_s,
            "{:?} in {} s",
            s.stages,
            s.elapsed_s
        );
    }
}
