-- gen-data, phase vacuum-analyze, outside a transaction block: hint bits, visibility map and
-- statistics of the freshly loaded tables, so that autovacuum does not do it during the first
-- minutes of use.
VACUUM (ANALYZE);
