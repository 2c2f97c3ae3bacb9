-- Version 2: each model's fingerprint (BLAKE3 of its config.json and model.safetensors), so
-- that embeddings made by other weights under the same name (an updated model, the demo model
-- of another Trove version) are forgotten rather than mixed with new ones.
ALTER TABLE models ADD COLUMN fingerprint TEXT;
