-- Pending authorization requests are bound to the browser that started
-- them, and record who authenticated and who consented on them, so that a
-- request cannot be finished by another browser or another user.
-- consent_user_id and error replace consent_given and denied.
ALTER TABLE auth_requests ADD COLUMN browser_hash    TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN auth_user_id    TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN auth_methods    TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_requests ADD COLUMN consent_user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests DROP COLUMN consent_given;
ALTER TABLE auth_requests DROP COLUMN denied;

-- The authentication methods of a login (amr) travel with its code and
-- refresh tokens into ID tokens; a request keeps its acr_values.
ALTER TABLE auth_requests  ADD COLUMN acr_values TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_codes     ADD COLUMN amr        TEXT NOT NULL DEFAULT '[]';
ALTER TABLE refresh_tokens ADD COLUMN amr        TEXT NOT NULL DEFAULT '[]';
