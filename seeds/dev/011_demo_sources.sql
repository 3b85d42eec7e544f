-- One server source per demo organisation.
INSERT INTO sources (organisation_id, name, kind)
SELECT id, 'Backend', 'server'
FROM organisations
WHERE slug IN ('acme', 'globex', 'initech')
ON CONFLICT (organisation_id, name) DO NOTHING;
