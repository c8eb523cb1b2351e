-- One definition of a paper's listing_rank keys: the per-paper refresh that the triggers of
-- migration 0090 call becomes the set-based fill of migration 0110 over that paper's rowid,
-- so a change to how papers are ranked (the evidence points, the vote sum) is made in
-- pw_listing_rank_range alone. (0090's own copy of the keys stays in its file, as every applied
-- migration does, but is no longer run.)
CREATE OR REPLACE FUNCTION pw_listing_rank_refresh(pid TEXT) RETURNS void LANGUAGE sql AS $$
    SELECT pw_listing_rank_range(p.rowid, p.rowid + 1) FROM papers p WHERE p.id = pid;
$$;
