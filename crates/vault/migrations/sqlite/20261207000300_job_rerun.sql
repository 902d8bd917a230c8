-- A run asked for while the job is leased (`Catalog::run_now`): the holder
-- cannot see the news its run started before, so finishing the lease runs
-- the job again at once instead of completing or sleeping.
ALTER TABLE jobs ADD COLUMN rerun_requested INTEGER NOT NULL DEFAULT 0;
