"""The digests' "For you" sections: every profiled subscriber's recommendations for a period,
one list for the main profile and one per named interest profile."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

from paperwire.config import Settings
from paperwire.ranking import recommend
from paperwire.store import subscriptions as subs
from paperwire.store.profiles import load_profiles, named_profiles_of, profile_keys, subscriber_key
from paperwire.store.sqlite import Store

log = logging.getLogger(__name__)


class Recommendations:
    """The "For you" papers of a subscriber: one list for the main profile and one per named
    interest profile. Only profiles with content (likes, imports, dismissals, follows) pay for
    recommendations; the builder gets them as data and stays pure.

    Subscribers whose window starts the day after the period's `since` (nearly all of them) are
    scored together before any digest is built: every profile at once, with the fused
    recommender's shared matrix products (Day.recommend_many), so forked build workers inherit
    the results. Anyone else (another window, another method) is scored on their own."""

    def __init__(self, store: Store, settings: Settings, since: str, until: str, have_papers: bool, engine=None):
        self.settings = settings
        self.engine = engine
        self.since = since
        self.until = until
        self.profiled = {k for k in profile_keys(store) if k.startswith("sub:")} if have_papers else set()
        self.named = named_profiles_of(store, "sub:") if self.profiled else {}
        self._done: dict[str, dict[str, list[tuple[str, str]]]] = {}
        if self.profiled and settings.rec_method == "fused":
            try:
                self._score_all(store, self._start(None))
            except Exception:  # one reader at a time still works
                log.exception("recommendations for all subscribers at once failed; scoring one by one")

    def _start(self, last_until: str | None) -> str:
        # the digest's window is (last_until, until]; the recommender's is inclusive
        return (date.fromisoformat(last_until or self.since) + timedelta(days=1)).isoformat()

    def _score_all(self, store: Store, start: str) -> None:
        day = recommend.prepare_day(store, self.settings, start, self.until, self.engine)
        profs = load_profiles(store, "sub:")
        keys = sorted(k for k in profs if k in self.profiled)
        now = datetime.now(timezone.utc)
        readers = [recommend.reader_from_profile(profs[k], now, self.settings.rec_half_life_days) for k in keys]
        got: dict[str, list[tuple[str, str]]] = {}
        for i, recs in day.recommend_many(readers, 20, self.settings):
            got[keys[i]] = [(r.paper_id, "; ".join(r.reasons)) for r in recs]
        self._done[start] = got

    def _for(self, store: Store, key: str, last_until: str | None) -> list[tuple[str, str]]:
        start = self._start(last_until)
        done = self._done.get(start)
        if done is not None and key in done:
            return done[key]
        ids, _scores, reasons = recommend.recommend_for(store, self.settings, key, start, limit=20,
                                                        window_end=self.until, engine=self.engine)
        return list(zip(ids, reasons))

    def __call__(self, store: Store, sub: subs.Subscriber) -> list[tuple[str, str]]:
        key = subscriber_key(sub.id)
        if key not in self.profiled:
            return []
        try:
            return self._for(store, key, sub.last_until)
        except Exception:  # a broken recommender must not cost anyone their digest
            log.exception("recommendations failed for subscriber %s", sub.id)
            return []

    def named_sections(self, store: Store, sub: subs.Subscriber) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """(profile name, slug, recommendations) for each of the subscriber's named profiles."""
        out = []
        for key, name in self.named.get(subscriber_key(sub.id), []):
            if key not in self.profiled:
                continue
            try:
                out.append((name, key.split("/", 1)[1], self._for(store, key, sub.last_until)))
            except Exception:
                log.exception("recommendations failed for subscriber %s, profile %s", sub.id, name)
        return out
