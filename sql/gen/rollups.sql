-- gen-data, fast path, phase rollups: the rollups rebuilt from the ledger (the trigger path kept
-- them up to date row by row).
SET LOCAL work_mem = '512MB';
DO $$ BEGIN PERFORM rollups_rebuild_all(); END $$;
SELECT (SELECT count(*) FROM monthly_volunteer_totals) || ' monthly volunteer rows';
