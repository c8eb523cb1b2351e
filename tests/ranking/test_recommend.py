"""Recommenders on the demo listings (3,000 real arXiv records): ranking behaviour, reasons,
exclusions, the trending prior, and feedback changing the next recommendations."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from paperwire.config import Settings
from paperwire.ingest import import_file
from paperwire.ranking import recommend
from paperwire.ranking import trending as rank
from paperwire.store import open_store, profiles

DEMO = Path(__file__).parents[2] / "demo" / "records.jsonl.gz"
WINDOW = "2026-06-26"  # candidates: papers listed 2026-06-26 .. 2026-07-01
NOW = datetime(2026, 7, 1, 23, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "demo.db"
    st = open_store(path)
    import_file(st, DEMO, "listing")
    s = Settings.load(env={}, db=str(path))
    yield st, s
    st.close()


def ids_where(st, sql_cond: str, params=(), limit=8) -> list[str]:
    return [r[0] for r in st.query(f"SELECT id FROM papers WHERE listed < ? AND {sql_cond} ORDER BY id LIMIT ?",
                                   (WINDOW, *params, limit))]


def dismiss_the_top(st, s, key, method: str, limit: int, source=None):
    """Recommend for `key`, mark the top paper "not interested", recommend again:
    (the first recommendations, the dismissed paper's id, the second recommendations)."""
    first = recommend.recommend(st, s, key, WINDOW, limit=limit, method=method, now=NOW)
    top = first[0].paper_id
    profiles.add_items(st, key, [top], "dismiss", source=source)
    return first, top, recommend.recommend(st, s, key, WINDOW, limit=limit, method=method, now=NOW)


def primary(st, pid):
    return st.query_one("SELECT primary_category FROM papers WHERE id=?", (pid,))[0]


def title(st, pid):
    return st.query_one("SELECT title_display FROM papers WHERE id=?", (pid,))[0].lower()


@pytest.mark.parametrize("method", recommend.METHODS)
def test_profile_topic_drives_recommendations(demo, method):
    st, s = demo
    cv = ids_where(st, "primary_category='cs.CV' AND (title_display LIKE '%segmentation%')")
    cl = ids_where(st, "primary_category='cs.CL' AND (title_display LIKE '%translation%' OR title_display LIKE '%speech%')")
    assert len(cv) >= 4 and len(cl) >= 4
    profiles.add_items(st, f"user:cv-{method}", cv, "save")
    profiles.add_items(st, f"user:cl-{method}", cl, "save")
    got_cv = recommend.recommend(st, s, f"user:cv-{method}", WINDOW, limit=10, method=method, now=NOW)
    got_cl = recommend.recommend(st, s, f"user:cl-{method}", WINDOW, limit=10, method=method, now=NOW)
    assert len(got_cv) == 10 and len(got_cl) == 10
    n_cv = sum(primary(st, r.paper_id) == "cs.CV" for r in got_cv)
    n_cv_in_cl = sum(primary(st, r.paper_id) == "cs.CV" for r in got_cl)
    assert n_cv >= 7 and n_cv_in_cl <= 3
    assert sum("segment" in title(st, r.paper_id) for r in got_cv) >= 3
    for r in got_cv:
        day = st.query_one("SELECT listed FROM papers WHERE id=?", (r.paper_id,))[0]
        assert day >= WINDOW  # only the window's papers
        assert r.paper_id not in cv  # never the reader's own papers
        assert r.reasons
    scores = [r.score for r in got_cv]
    assert scores == sorted(scores, reverse=True)
    near = [x for r in got_cv for x in r.reasons if x.startswith("close to your saved ")]
    # the reason names the profile paper by its title, not a bare id
    saved_titles = {f"“{st.query_one('SELECT title_display FROM papers WHERE id=?', (p,))[0]}”" for p in cv}
    assert near and all(x[len("close to your saved "):] in saved_titles for x in near)


def test_recommend_for_shape_and_errors(demo):
    st, s = demo
    profiles.add_items(st, "sub:42", ids_where(st, "primary_category='cs.CL'", limit=5), "import")
    ids, scores, reasons = recommend.recommend_for(st, s, "sub:42", WINDOW, limit=7)
    assert len(ids) == len(scores) == len(reasons) == 7 and len(set(ids)) == 7
    assert all(isinstance(r, str) and r for r in reasons)
    assert any("close to your imported" in r for r in reasons)
    with pytest.raises(ValueError, match="method"):
        recommend.recommend_for(st, s, "sub:42", WINDOW, method="magic")
    with pytest.raises(ValueError, match="profile key"):
        recommend.recommend_for(st, s, "nobody", WINDOW)


def test_follows_give_reasons_and_lift(demo):
    st, s = demo
    profiles.follow(st, "user:f1", "category", "cs.RO")
    recs = recommend.recommend(st, s, "user:f1", WINDOW, limit=10, method="blend", now=NOW)
    assert recs and all(primary(st, r.paper_id) == "cs.RO" or "cs.RO" in
                        st.query_one("SELECT categories FROM papers WHERE id=?", (r.paper_id,))[0] for r in recs)
    assert all("you follow cs.RO" in r.reasons for r in recs)


def test_feedback_changes_next_recommendations(demo):
    st, s = demo
    key = "user:fb"
    profiles.add_items(st, key, ids_where(st, "primary_category='cs.CV' AND title_display LIKE '%video%'"), "like")
    # "not interested" in the top paper: it is gone, and so are its closest look-alikes' ranks
    _, top, after = dismiss_the_top(st, s, key, "blend", 10, source="digest")
    assert top not in [r.paper_id for r in after]
    # thumbs up on papers of another topic brings that topic in
    speech = ids_where(st, "title_display LIKE '%speech%'", limit=6)
    profiles.add_items(st, key, speech, "like")
    mixed = recommend.recommend(st, s, key, WINDOW, limit=10, method="blend", now=NOW)
    assert sum("speech" in title(st, r.paper_id) for r in mixed) > sum("speech" in title(st, r.paper_id) for r in after)
    # and a later thumbs-up on the dismissed paper undoes the dismissal
    profiles.add_items(st, key, [top], "like")
    assert top not in profiles.load_profile(st, key).negatives


def test_dismissals_push_similar_papers_down(demo):
    st, s = demo
    key = "user:neg"
    liked = ids_where(st, "primary_category='cs.CL'", limit=8)
    profiles.add_items(st, key, liked, "like")
    first, _, again = dismiss_the_top(st, s, key, "similarity", 30)
    second = {r.paper_id: r.score for r in again}
    common = [r for r in first[1:] if r.paper_id in second]
    assert common and all(second[r.paper_id] <= r.score + 1e-12 for r in common)
    assert any(second[r.paper_id] < r.score - 1e-6 for r in common)


def test_recent_actions_weigh_more(demo):
    st, s = demo
    a = ids_where(st, "title_display LIKE '%segmentation%'", limit=1)[0]
    b = ids_where(st, "title_display LIKE '%speech%'", limit=1)[0]
    profiles.add_items(st, "user:old-a", [a], "save", at="2025-01-01T00:00:00Z")
    profiles.add_items(st, "user:old-a", [b], "save", at="2026-06-30T00:00:00Z")
    profiles.add_items(st, "user:old-b", [a], "save", at="2026-06-30T00:00:00Z")
    profiles.add_items(st, "user:old-b", [b], "save", at="2025-01-01T00:00:00Z")
    ra = recommend.recommend(st, s, "user:old-a", WINDOW, limit=10, method="similarity", now=NOW)
    rb = recommend.recommend(st, s, "user:old-b", WINDOW, limit=10, method="similarity", now=NOW)
    assert sum("speech" in title(st, r.paper_id) for r in ra) > sum("speech" in title(st, r.paper_id) for r in rb)


def test_empty_profile_gets_trending_order(demo):
    st, s = demo
    recs = recommend.recommend(st, s, "user:nobody", WINDOW, limit=5, method="blend", now=NOW)
    day = recommend.prepare_day(st, s, WINDOW)
    expected = sorted(day.cand_ids, key=lambda i: (-day.trend_vec[day.cand_index[i]], i))[:5]
    assert [r.paper_id for r in recs] == expected
    assert rank.trending(st, "week", rank.latest_now(st), limit=1)  # the prior is the trending ranking


class CategoryEngine:
    """Stands in for the process's search engine: a paper's vector is its primary category
    (one-hot), so a reader of cs.CV papers is closest to the window's cs.CV papers."""

    def __init__(self, st):
        self.st = st
        self.cats: dict[str, int] = {}
        self.asked = 0

    def _vector(self, category: str) -> np.ndarray:
        v = np.zeros(64, np.float32)
        v[self.cats.setdefault(category, len(self.cats))] = 1.0
        return v

    def paper_vectors(self, ids):
        self.asked += len(ids)
        return {pid: self._vector(primary(self.st, pid)) for pid in ids}

    def encode(self, texts):
        return np.stack([self._vector("?") for _ in texts])


def test_embedding_features_come_from_the_engine_passed_in(demo):
    st, s = demo
    s = dataclasses.replace(s, rec_features="embeddings")
    cv = ids_where(st, "primary_category='cs.CV'")
    profiles.add_items(st, "user:emb", cv, "save")
    engine = CategoryEngine(st)
    recs = recommend.recommend(st, s, "user:emb", WINDOW, limit=10, method="similarity", now=NOW, engine=engine)
    assert engine.asked and len(recs) == 10
    assert all(primary(st, r.paper_id) == "cs.CV" for r in recs)
    # without an engine the recommenders fall back to TF-IDF rather than build one themselves
    day = recommend.prepare_day(st, s, WINDOW)
    assert isinstance(day.features, recommend.TfidfFeatures)


def test_fused_uses_not_interested(demo):
    st, s = demo
    key = "user:fused-dismiss"
    profiles.add_items(st, key, ids_where(st, "primary_category='cs.CV' AND title_display LIKE '%segmentation%'"), "save")
    first, top, second = dismiss_the_top(st, s, key, "fused", 30)
    assert top not in [r.paper_id for r in second]
    # papers like the dismissed one lose ground: their scores fall relative to the rest
    before = {r.paper_id: r.score for r in first}
    after = {r.paper_id: r.score for r in second}
    common = [p for p in before if p in after and p != top]
    drops = sorted(common, key=lambda p: before[p] - after[p], reverse=True)
    assert before[drops[0]] - after[drops[0]] > 0.2


def test_digest_path_agrees_with_the_page(demo):
    """Day.recommend_many (digests, batch mode: blocks of readers, shared products) gives each
    reader the same papers, scores and reasons as their For-you page (Day.recommend)."""
    st, s = demo
    day = recommend.prepare_day(st, s, WINDOW)
    readers = [recommend.Reader({p: 1.0 for p in ids_where(st, cond, limit=6)}, {})
               for cond in ("primary_category='cs.CV' AND title_display LIKE '%segmentation%'",
                            "primary_category='cs.CL'", "primary_category='cs.IT'", "primary_category='cs.GT'",
                            "title_display LIKE '%agent%'")]
    readers.append(recommend.Reader({}, {}, categories=["cs.CL"]))  # follows only
    readers[1].negatives = [day.cand_ids[0]]
    many = dict(day.recommend_many(readers, 15, s, block=2))
    assert sorted(many) == list(range(len(readers)))
    for k, rd in enumerate(readers):
        one = day.recommend(rd, "fused", 15, s)
        assert [r.paper_id for r in many[k]] == [r.paper_id for r in one]
        assert np.allclose([r.score for r in many[k]], [r.score for r in one], atol=1e-4)
        assert [r.reasons for r in many[k]] == [r.reasons for r in one]
    assert day.cand_ids[0] not in [r.paper_id for r in many[1]]
    assert any("close to your liked" in r.reasons[0] for r in many[0])

