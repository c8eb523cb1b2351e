-- Curated days and every field Hugging Face reports about a daily paper (migrations/0060).
CREATE TABLE hf_featured (
    day      TEXT NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    PRIMARY KEY (day, paper_id)
);
CREATE INDEX hf_featured_paper ON hf_featured(paper_id);
INSERT INTO hf_featured(day, paper_id)
    SELECT featured_on, paper_id FROM hf_daily WHERE featured_on IS NOT NULL
    ON CONFLICT DO NOTHING;

ALTER TABLE hf_daily ADD COLUMN item TEXT;
ALTER TABLE hf_daily ADD COLUMN ai_summary TEXT;
ALTER TABLE hf_daily ADD COLUMN ai_keywords TEXT;
ALTER TABLE hf_daily ADD COLUMN organization TEXT;
ALTER TABLE hf_daily ADD COLUMN num_comments INTEGER;
