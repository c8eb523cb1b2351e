-- Hidden papers are few; search drops them from vector candidates with this tiny partial
-- index instead of joining every candidate to its (large) papers row.
CREATE INDEX search_papers_hidden ON papers(id) WHERE hidden = 1;
