-- Curated days and every field Hugging Face reports about a daily paper.
--
-- A paper keeps its arXiv listing and publication dates forever; being featured on Hugging
-- Face's daily list adds a curated day to it (and a site submission adds one through the
-- `submissions` table). hf_daily.featured_on holds only the first such day, and a paper can be
-- featured on more than one day (the real lists repeat a few), so the days get their own table.
CREATE TABLE hf_featured (
    day      TEXT NOT NULL,                 -- YYYY-MM-DD of submittedOnDailyAt
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    PRIMARY KEY (day, paper_id)
) WITHOUT ROWID;
CREATE INDEX hf_featured_paper ON hf_featured(paper_id);
INSERT OR IGNORE INTO hf_featured(day, paper_id)
    SELECT featured_on, paper_id FROM hf_daily WHERE featured_on IS NOT NULL;

-- The API item as Hugging Face sent it (JSON; every field kept, including those paperwire does
-- not use yet), and the fields the site shows, as columns.
ALTER TABLE hf_daily ADD COLUMN item TEXT;
ALTER TABLE hf_daily ADD COLUMN ai_summary TEXT;
ALTER TABLE hf_daily ADD COLUMN ai_keywords TEXT;      -- JSON list of strings
ALTER TABLE hf_daily ADD COLUMN organization TEXT;     -- JSON object {name, fullname, avatar, ...}
ALTER TABLE hf_daily ADD COLUMN num_comments INTEGER;
