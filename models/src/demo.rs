//! The demo model: a small CLIP that Trove trained itself on its own synthetic images
//! (`models/scripts/train_demo.py`), built into the binary so search works on a fresh machine
//! with no network and no downloaded weights. It knows shapes, colours, counts, sizes,
//! positions, backgrounds and a few words on signs and memes, and nothing else.
//!
//! The demo captioner is its describing counterpart: Florence-2's architecture, tiny, trained
//! the same way (`models/scripts/train_captioner.py`) to write each generated picture's caption.

/// The model id that selects the demo model (`--model trove/demo-clip`).
pub const DEMO_MODEL: &str = "trove/demo-clip";

/// The demo model's files, as a Hugging Face model folder (the engine's model store installs
/// them as `trove/demo-clip`).
pub const FILES: [(&str, &[u8]); 4] = [
    (
        "config.json",
        include_bytes!("../assets/demo-clip/config.json"),
    ),
    (
        "model.safetensors",
        include_bytes!("../assets/demo-clip/model.safetensors"),
    ),
    (
        "tokenizer.json",
        include_bytes!("../assets/clip-tokenizer.json"),
    ),
    (
        "preprocessor_config.json",
        include_bytes!("../assets/demo-clip/preprocessor_config.json"),
    ),
];

/// The id that selects the demo captioner (`--captioner trove/demo-captioner`).
pub const DEMO_CAPTIONER: &str = "trove/demo-captioner";

/// The demo captioner's files, as a Hugging Face Florence-2 folder.
pub const CAPTIONER_FILES: [(&str, &[u8]); 5] = [
    (
        "config.json",
        include_bytes!("../assets/demo-captioner/config.json"),
    ),
    (
        "model.safetensors",
        include_bytes!("../assets/demo-captioner/model.safetensors"),
    ),
    (
        "tokenizer.json",
        include_bytes!("../assets/demo-captioner/tokenizer.json"),
    ),
    (
        "preprocessor_config.json",
        include_bytes!("../assets/demo-captioner/preprocessor_config.json"),
    ),
    (
        "generation_config.json",
        include_bytes!("../assets/demo-captioner/generation_config.json"),
    ),
];

/// The demo model's tag thresholds, calibrated on generated pictures with their precision and
/// recall (`trove model calibrate-tags --write models/assets/demo-clip/tags.json`), a
/// [`crate::tags::eval::TagCalibration`] as JSON.
pub const TAG_CALIBRATION: &str = include_str!("../assets/demo-clip/tags.json");
