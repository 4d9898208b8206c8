-- Room on each page for the next versions of its rows. A run's row is updated three times
-- (pushed, claimed, ended) and each of its steps once (done): on pages the acceptance left
-- full, every new version went to another page, extending the table under its extension
-- lock (against the acceptances extending it too) and adding an entry to every index; the
-- steps' updates change no indexed column, so with room on the page they are HOT (no index
-- entry at all). Applies to pages written from now on.
ALTER TABLE runs SET (fillfactor = 50);
ALTER TABLE run_steps SET (fillfactor = 50);
