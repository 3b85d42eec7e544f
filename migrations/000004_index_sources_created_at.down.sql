DROP INDEX CONCURRENTLY IF EXISTS sources_created_at_idx;
