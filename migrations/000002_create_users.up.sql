CREATE TYPE user_role AS ENUM ('owner', 'admin', 'member');

CREATE TABLE users (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organisation_id  bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  -- Stored lower-case, so a plain unique constraint covers it (and seeds can key on it).
  email            text NOT NULL UNIQUE CHECK (email = lower(email)),
  name             text NOT NULL DEFAULT '',
  password_hash    text NOT NULL,
  role             user_role NOT NULL DEFAULT 'member',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX users_organisation_id_idx ON users (organisation_id);

CREATE TRIGGER users_set_updated_at
  BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
