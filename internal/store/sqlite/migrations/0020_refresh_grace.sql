-- Rotation grace period: a used token names the successor its rotation
-- stored, and an unused successor keeps its own value sealed (cleared by
-- its rotation), so that a retry of the used token within the grace period
-- gets the same successor back.
ALTER TABLE refresh_tokens ADD COLUMN successor_id TEXT;
ALTER TABLE refresh_tokens ADD COLUMN sealed_value BLOB;
