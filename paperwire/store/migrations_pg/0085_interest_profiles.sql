-- Named interest profiles (migrations/0085_interest_profiles.sql).
CREATE TABLE interest_profiles (
    profile_key TEXT PRIMARY KEY,
    owner_key   TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (owner_key, name)
);
CREATE INDEX interest_profiles_owner ON interest_profiles(owner_key, created_at);
