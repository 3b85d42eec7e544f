-- Built CONCURRENTLY so writes to sources are not blocked on a large table. PostgreSQL
-- refuses CONCURRENTLY inside a transaction block: strata sees that with the parser and
-- runs this file outside one, under golang-migrate's dirty protocol.
CREATE INDEX CONCURRENTLY IF NOT EXISTS sources_created_at_idx ON sources (created_at);
