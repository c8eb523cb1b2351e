"""Ranking: trending, recommendations, GitHub stars and reading libraries."""
