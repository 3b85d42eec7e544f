DROP TABLE IF EXISTS organisations;
DROP FUNCTION IF EXISTS set_updated_at();
