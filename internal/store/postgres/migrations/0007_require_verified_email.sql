-- Applications may hold logins back until the user's email is verified.
ALTER TABLE clients ADD COLUMN require_verified_email boolean NOT NULL DEFAULT false;
