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
