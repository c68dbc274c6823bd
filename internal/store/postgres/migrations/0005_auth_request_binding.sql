-- Pending authorization requests are bound to the browser that started
-- them, and record who authenticated and who consented on them, so that a
-- request cannot be finished by another browser or another user.
ALTER TABLE auth_requests
	ADD COLUMN browser_hash    text  NOT NULL DEFAULT '',
	ADD COLUMN auth_user_id    text  NOT NULL DEFAULT '',
	ADD COLUMN auth_methods    jsonb NOT NULL DEFAULT '[]',
	ADD COLUMN consent_user_id text  NOT NULL DEFAULT '',
	DROP COLUMN consent_given,
	DROP COLUMN denied;

-- The authentication methods of a login (amr) travel with its code and
-- refresh tokens into ID tokens; a request keeps its acr_values.
ALTER TABLE auth_requests  ADD COLUMN acr_values jsonb NOT NULL DEFAULT '[]';
ALTER TABLE auth_codes     ADD COLUMN amr        jsonb NOT NULL DEFAULT '[]';
ALTER TABLE refresh_tokens ADD COLUMN amr        jsonb NOT NULL DEFAULT '[]';
