-- Named interest profiles ("my thesis", "reading group"): besides their default profile
-- ('user:12', 'sub:7'), a reader can keep several named ones, each with its own papers, follows,
-- feedback and private feed token. A named profile's key is the owner's key, a slash and a slug
-- ('user:12/my-thesis'), so profile_items, profile_follows and profile_feed_tokens hold it like any other.
CREATE TABLE interest_profiles (
    profile_key TEXT PRIMARY KEY,
    owner_key   TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (owner_key, name)
) WITHOUT ROWID;
CREATE INDEX interest_profiles_owner ON interest_profiles(owner_key, created_at);
