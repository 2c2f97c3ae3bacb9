//! The model in use and switching it. A switch loads the new model while the old one keeps
//! answering, then stops the crawl, swaps the two, keeps the choice in `<data>/model-choice`
//! for the next start, and crawls so every image gets the new model's embedding (embeddings
//! are kept per model, so switching back re-embeds nothing).

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use app::types::{ModelChoice, ModelList};
use trove_engine::model_store::{describe, ModelStore};
use trove_engine::Engine;

use super::error::ModelChoiceError;
use super::{wire, ActiveModel, Opening, ServiceError, Trove};
use crate::settings::{ModelSource, DEFAULT_MODEL, DEMO_MODEL};

/// How long a model change waits for the running crawl to finish its batch.
const CRAWL_STOP_WAIT: Duration = Duration::from_secs(120);

/// The model in use and every model that could replace it: the built-in demo model and the
/// folders in the store. The same list for the page, the API and `trove model list --json`.
pub fn model_list(
    store: &ModelStore,
    active: &str,
    source: ModelSource,
) -> Result<ModelList, ModelChoiceError> {
    let installed = store
        .list()
        .map_err(|e| ModelChoiceError::List(Box::new(e)))?;
    let demo = ModelChoice {
        id: DEMO_MODEL.to_owned(),
        family: Some("clip".into()),
        dim: None,
        image_size: None,
        bytes: 0,
        problem: None,
        active: active == DEMO_MODEL,
        demo: true,
    };
    let mut models = vec![demo];
    for m in installed.into_iter().filter(|m| m.id != DEMO_MODEL) {
        let is_active = m.id == active;
        models.push(wire::model_choice(m, is_active, false));
    }
    if !models.iter().any(|m| m.active) {
        // A model given as a folder, or one that failed to load.
        if let Ok(dir) = store.resolve(active) {
            models.push(wire::model_choice(
                describe(&dir, active.to_owned()),
                true,
                false,
            ));
        }
    }
    let chosen_by = match source {
        ModelSource::Chosen => "the configuration (--model, TROVE_MODEL or the config file)",
        ModelSource::Saved => "an admin, on this page (kept for the next start)",
        ModelSource::Default => "default: the standard model is installed",
        ModelSource::Demo => "default: no real model is installed yet",
    };
    Ok(ModelList {
        schema: app::types::SCHEMA,
        active: active.to_owned(),
        chosen_by: chosen_by.to_owned(),
        models,
        install_hint: format!(
            "install more with `trove model pull <hugging-face-id>` (e.g. {DEFAULT_MODEL} or google/siglip-base-patch16-224) where the internet is reachable, or copy a model folder (config.json, model.safetensors, tokenizer.json, preprocessor_config.json) to {}",
            store.root().join("<owner>--<name>").display()
        ),
    })
}

impl Trove {
    /// Whether the model in use is installed, in words.
    pub fn model_status(&self) -> String {
        let active = self.active();
        if active.model == DEMO_MODEL {
            return format!(
                "the built-in demo model, trained by Trove on its own generated images: it knows shapes, \
                 colours, counts and a few words on signs and memes, not real photos. For real photos \
                 run `trove model pull {DEFAULT_MODEL}` (or google/siglip-base-patch16-224) and restart"
            );
        }
        let store = ModelStore::new(&self.settings.data_dir);
        match store.resolve(&active.model) {
            Ok(dir) => {
                let model = describe(&dir, active.model.clone());
                match (model.family, model.dim, model.problem) {
                    (Some(family), Some(dim), None) => format!("installed: {family}, {dim}-d"),
                    (.., Some(problem)) => problem,
                    _ => format!("model folder {}", dir.display()),
                }
            }
            Err(e) => e.to_string(),
        }
    }

    /// The model in use and every model that could replace it (blocking: reads the folders).
    pub fn models(&self) -> Result<ModelList, ServiceError> {
        let active = self.active();
        let store = ModelStore::new(&self.settings.data_dir);
        Ok(model_list(&store, &active.model, active.source)?)
    }

    /// Switches to another model (blocking); the answer says what happened.
    pub fn select_model(&self, model: &str) -> Result<String, ServiceError> {
        let model = model.trim();
        if model.is_empty() {
            return Err(ModelChoiceError::Empty.into());
        }
        if self.active_model() == model {
            return Ok(format!("{model} is already in use"));
        }
        // Only an installed model's id is taken from the web, never a folder path.
        let store = ModelStore::new(&self.settings.data_dir);
        let installed = store
            .list()
            .map_err(|e| ModelChoiceError::List(Box::new(e)))?;
        if model != DEMO_MODEL && !installed.iter().any(|m| m.id == model) {
            return Err(ModelChoiceError::NotOffered(model.to_owned()).into());
        }
        if self.switching.swap(true, Ordering::SeqCst) {
            return Err(ModelChoiceError::Busy.into());
        }
        let result = self.switch_model(model);
        self.switching.store(false, Ordering::SeqCst);
        result
    }

    fn switch_model(&self, model: &str) -> Result<String, ServiceError> {
        let store = ModelStore::new(&self.settings.data_dir);
        let dir = store
            .resolve(model)
            .map_err(|e| ModelChoiceError::NotInstalled(Box::new(e)))?;
        if let Some(problem) = describe(&dir, model.to_owned()).problem {
            return Err(ModelChoiceError::Broken {
                model: model.to_owned(),
                problem,
            }
            .into());
        }
        let chosen = ActiveModel {
            model: model.to_owned(),
            source: ModelSource::Saved,
        };
        let engine =
            Engine::open(&self.settings_for(chosen.clone()).engine_config()).map_err(|e| {
                ModelChoiceError::Unusable {
                    model: model.to_owned(),
                    source: Box::new(e),
                }
            })?;
        crate::settings::save_model_choice(&self.settings.data_dir, model)
            .map_err(ModelChoiceError::Save)?;
        self.crawler.stop();
        let deadline = Instant::now() + CRAWL_STOP_WAIT;
        while self.crawler.is_running() {
            if Instant::now() > deadline {
                return Err(ModelChoiceError::CrawlDidNotStop.into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        *self.active.write().unwrap_or_else(PoisonError::into_inner) = chosen;
        self.set_opening(Opening::Ready(Arc::new(engine)));
        tracing::info!(model, "model changed");
        Ok(match self.start_crawl() {
            Ok(()) => format!(
                "now using {model}; a crawl is embedding the images it has not seen (search covers them as they are done)"
            ),
            Err(e) => format!(
                "now using {model}; no crawl started: {}",
                trove_engine::error_chain(&e)
            ),
        })
    }
}
