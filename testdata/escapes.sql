-- Escape attempts: statements a tenant sends to reach data, files or engine
-- state outside its scope. One statement per line (a line may hold several
-- statements); lines starting with -- are comments. Placeholders, filled in
-- by the tests: {dir} the server's data directory (absolute), {other} the
-- other tenant, {me} the caller's tenant.
--
-- Every front end runs every line with every role; the answer (rows or
-- error) must hold nothing of {other}, of the audit log, of hidden fields,
-- and no absolute server path. Statements before the @may-run line must be
-- refused by the statement guard (see @pg-catalog for the Postgres front end).
--
-- file functions
SELECT * FROM read_parquet('{dir}/warehouse/tenant={other}/*/*.parquet')
SELECT * FROM read_parquet(['{dir}/warehouse/tenant={other}/*/*.parquet'])
SELECT * FROM parquet_scan('{dir}/warehouse/tenant={other}/*/*.parquet')
SELECT * FROM read_parquet('{dir}/warehouse/**/*.parquet', hive_partitioning=true)
SELECT * FROM parquet_metadata('{dir}/warehouse/tenant={other}/*/*.parquet')
SELECT * FROM parquet_schema('{dir}/warehouse/tenant={other}/*/*.parquet')
SELECT * FROM parquet_file_metadata('{dir}/warehouse/tenant={other}/*/*.parquet')
SELECT * FROM parquet_kv_metadata('{dir}/warehouse/tenant={other}/*/*.parquet')
SELECT * FROM read_csv('/etc/passwd')
SELECT * FROM read_csv_auto('/etc/passwd')
SELECT * FROM read_csv('{dir}/auth/keys.json', sep='|')
SELECT * FROM read_json('{dir}/auth/keys.json')
SELECT * FROM read_json_auto('{dir}/auth/users.json')
SELECT * FROM read_json_objects('{dir}/auth/keys.json')
SELECT * FROM read_ndjson('{dir}/auth/keys.json')
SELECT * FROM read_ndjson_objects('{dir}/projections/{other}/*/checkpoint.json')
SELECT * FROM read_text('{dir}/auth/keys.json')
SELECT * FROM read_blob('{dir}/catalog.duckdb')
SELECT * FROM read_text('{dir}/wal/*')
SELECT * FROM read_blob('{dir}/wal/*')
SELECT * FROM glob('{dir}/**')
SELECT glob('{dir}/*')
SELECT * FROM sniff_csv('/etc/passwd')
SELECT sniff_csv('/etc/passwd')
SELECT * FROM read_parquet('{dir}/projections/{other}/*/*.parquet')
SELECT * FROM read_json('{dir}/projections/{other}/*/checkpoint.json')
SELECT * FROM read_parquet('{dir}/warehouse/tenant=_audit/*/*.parquet')
SELECT (SELECT count(*) FROM read_parquet('{dir}/warehouse/tenant={other}/*/*.parquet'))
SELECT * FROM events WHERE seq IN (SELECT seq FROM read_parquet('{dir}/warehouse/tenant={other}/*/*.parquet'))
SELECT * FROM events, LATERAL read_text('{dir}/auth/keys.json')
SELECT * FROM read_csv('/proc/self/environ')
SELECT * FROM read_text('/proc/self/cmdline')
SELECT * FROM read_text('file://{dir}/auth/keys.json')
SELECT * FROM read_text('../auth/keys.json')
-- replacement scans: a quoted name or string read as a file
SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet'
SELECT * FROM "{dir}/warehouse/tenant={other}/*/*.parquet"
SELECT tenant_id, payload FROM "warehouse/tenant={other}/*/*.parquet"
SELECT * FROM 'data/warehouse/tenant={other}/*/*.parquet'
SELECT * FROM '/etc/passwd'
SELECT * FROM "/etc/passwd"
SELECT * FROM '{dir}/auth/keys.json'
SELECT * FROM "{dir}/auth/users.json"
SELECT * FROM '{dir}/projections/{other}/*/*.parquet'
SELECT * FROM 'keys.json'
SELECT * FROM "x.csv"
SELECT * FROM events e JOIN '{dir}/warehouse/tenant={other}/*/*.parquet' o ON true
SELECT * FROM events UNION ALL SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet'
SELECT * FROM events WHERE EXISTS (SELECT 1 FROM "{dir}/warehouse/tenant={other}/*/*.parquet")
FROM '{dir}/warehouse/tenant={other}/*/*.parquet'
SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet' USING SAMPLE 10
-- CTE and subquery scoping tricks
WITH a AS (SELECT * FROM "{dir}/warehouse/tenant={other}/*/*.parquet"), "{dir}/warehouse/tenant={other}/*/*.parquet" AS (SELECT 1) SELECT tenant_id, payload FROM a
WITH a AS (SELECT * FROM "warehouse/tenant={other}/*/*.parquet"), "warehouse/tenant={other}/*/*.parquet" AS (SELECT 1) SELECT tenant_id, payload FROM a
WITH "{dir}/warehouse/tenant={other}/*/*.parquet" AS (SELECT 1) SELECT * FROM (SELECT * FROM "{dir}/warehouse/tenant={other}/*/*.parquet")
SELECT (WITH x AS (SELECT 1) SELECT count(*) FROM "{dir}/warehouse/tenant={other}/*/*.parquet")
SELECT * FROM (WITH p AS (SELECT 1) SELECT * FROM p) s, "{dir}/warehouse/tenant={other}/*/*.parquet"
WITH a AS (SELECT * FROM pg_class) , pg_class AS (SELECT 1) SELECT * FROM a
WITH a AS (SELECT * FROM duckdb_tables), duckdb_tables AS (SELECT 1) SELECT * FROM a
WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r, "{dir}/auth/keys.json"
WITH a AS (SELECT 1) SELECT * FROM a UNION ALL SELECT count(*) FROM "{dir}/warehouse/tenant={other}/*/*.parquet"
SELECT * FROM events WHERE entity_id IN (WITH z AS (SELECT 1) SELECT entity_id FROM "{dir}/warehouse/tenant={other}/*/*.parquet")
WITH "_hot" AS (SELECT 1) SELECT * FROM _hot.gen_1
WITH gen_1 AS (SELECT 1) SELECT * FROM _hot.gen_1
WITH events AS (SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet') SELECT * FROM events
WITH x AS MATERIALIZED (SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet') SELECT * FROM x
SELECT * FROM (SELECT * FROM events) AS "{dir}/warehouse/tenant={other}/*/*.parquet", "{dir}/warehouse/tenant={other}/*/*.parquet"
-- the engine's internal tables and the other tenant's projections
SELECT * FROM _hot.gen_1
SELECT * FROM _hot.gen_2
SELECT * FROM "_hot"."gen_1"
SELECT * FROM "_HOT".gen_1
SELECT * FROM memory._hot.gen_1
SELECT * FROM _proj.p_62657461_counts_1
SELECT * FROM "_proj"."p_x"
SELECT * FROM main.events
SELECT * FROM temp.main.events
SELECT * FROM system.main.events
SELECT * FROM memory.main.events
SELECT * FROM projections."../{other}/counts"
SELECT * FROM projections."{other}.counts"
-- catalog functions and views
SELECT * FROM duckdb_tables()
SELECT * FROM duckdb_tables
SELECT table_name, estimated_size FROM duckdb_tables()
SELECT * FROM duckdb_views()
SELECT sql FROM duckdb_views()
SELECT * FROM duckdb_columns()
SELECT * FROM duckdb_settings()
SELECT * FROM duckdb_settings
SELECT * FROM duckdb_databases()
SELECT * FROM duckdb_schemas()
SELECT * FROM duckdb_functions()
SELECT * FROM duckdb_extensions()
SELECT * FROM duckdb_temporary_files()
SELECT * FROM duckdb_memory()
SELECT * FROM duckdb_dependencies()
SELECT * FROM duckdb_indexes()
SELECT * FROM duckdb_sequences()
SELECT * FROM duckdb_secrets()
SELECT * FROM duckdb_log_contexts()
SELECT * FROM pragma_table_info('_hot.gen_1')
SELECT * FROM pragma_storage_info('_hot.gen_1')
SELECT * FROM pragma_database_size()
SELECT * FROM pragma_show('_hot.gen_1')
SELECT * FROM pragma_metadata_info()
SELECT * FROM sqlite_master
SELECT * FROM duckdb_constraints()
-- settings and environment
SELECT current_setting('allowed_directories')
SELECT current_setting('temp_directory')
SELECT current_setting('memory_limit')
SELECT current_setting('home_directory')
SELECT getenv('HOME')
SELECT getvariable('x')
SET enable_external_access = true
SET allowed_directories = ['/']
SET lock_configuration = false
RESET allowed_directories
PRAGMA enable_external_access
PRAGMA database_list
PRAGMA show_tables
CALL pragma_database_size()
SELECT * FROM which_secret('s3://x', 's3')
-- statements other than SELECT
ATTACH '{dir}/catalog.duckdb' AS c
ATTACH ':memory:' AS m
DETACH DATABASE memory
COPY (SELECT 1) TO '{dir}/pwn.csv'
COPY events TO '/tmp/allsource-escape.csv'
COPY (SELECT * FROM read_text('{dir}/auth/keys.json')) TO STDOUT
EXPORT DATABASE '/tmp/allsource-escape'
IMPORT DATABASE '{dir}'
INSTALL httpfs
LOAD httpfs
LOAD '/tmp/evil.duckdb_extension'
CREATE TABLE x AS SELECT * FROM read_parquet('{dir}/warehouse/tenant={other}/*/*.parquet')
CREATE VIEW v AS SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet'
CREATE MACRO m() AS TABLE SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet'
CREATE SECRET s (TYPE s3)
INSERT INTO events SELECT * FROM events
DELETE FROM events
UPDATE events SET payload = '{}'
DROP VIEW events
CHECKPOINT
VACUUM
USE memory
DESCRIBE _hot.gen_1
SUMMARIZE '{dir}/warehouse/tenant={other}/*/*.parquet'
SHOW TABLES
SHOW ALL TABLES
SELECT * FROM (SUMMARIZE SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet')
SELECT * FROM (DESCRIBE SELECT * FROM '{dir}/warehouse/tenant={other}/*/*.parquet')
SELECT * FROM (SHOW ALL TABLES)
-- SQL that runs other SQL
SELECT * FROM query('SELECT * FROM read_text(''{dir}/auth/keys.json'')')
SELECT * FROM query_table('_hot.gen_1')
SELECT json_execute_serialized_sql(json_serialize_sql('SELECT * FROM duckdb_tables()'))
SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))
SELECT json_deserialize_sql(json_serialize_sql('SELECT 1'))
SELECT * FROM (SELECT 1) t, query('SELECT * FROM _hot.gen_1')
-- quoted and look-alike names
SELECT * FROM "еvents"
SELECT * FROM "events "
SELECT * FROM "_hоt".gen_1
SELECT * FROM "／etc／passwd"
SELECT * FROM "..\\auth\\keys.json"
SELECT * FROM "C:\\x.csv"
SELECT * FROM "s3://bucket/x.parquet"
SELECT * FROM "https://example.invalid/x.parquet"
SELECT * FROM 'file:{dir}/auth/keys.json'
SELECT * FROM "tenant={other}"
SELECT * FROM "~/.bash_history"
-- several statements in one
SELECT 1; SELECT * FROM read_text('{dir}/auth/keys.json')
SELECT 1; ATTACH '{dir}/catalog.duckdb' AS c
SELECT 1; SET enable_external_access = true
SELECT 1; CREATE TABLE x AS SELECT 1
SELECT * FROM events; SELECT * FROM _hot.gen_1
-- @pg-catalog: the Postgres catalog's names. The guard refuses them (over
-- HTTP they would be the engine's own catalog); the Postgres front end
-- answers them from its synthetic catalog, which lists the caller's
-- relations only.
SELECT * FROM information_schema.tables
SELECT * FROM information_schema.columns WHERE table_schema = '_proj'
SELECT * FROM information_schema.schemata
SELECT * FROM pg_catalog.pg_tables
SELECT * FROM pg_tables
SELECT * FROM pg_class
SELECT * FROM pg_catalog.pg_namespace
SELECT relname FROM pg_catalog.pg_class WHERE relname LIKE 'p\_%'
SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'p_%'
-- @may-run: the statements below may run (the guard lets them through);
-- their answers still must not leak.
-- the tenant scope of events
WITH pg_class AS (SELECT 1 AS x) SELECT * FROM (SELECT 1) s, (WITH y AS (SELECT 1) SELECT * FROM pg_class) t
SELECT * FROM "EVENTS"
SELECT * FROM projections.counts_{other}
SELECT * FROM "projections"."counts"
SELECT * FROM pgcat.pg_class
SELECT * FROM events WHERE tenant_id = '{other}'
SELECT count(*) FROM events WHERE tenant_id <> '{me}'
SELECT DISTINCT tenant_id FROM events
SELECT * FROM events WHERE tenant_id = '_audit'
SELECT payload FROM events WHERE event_type = 'audit'
SELECT * FROM events WHERE payload->>'secret' IS NOT NULL
SELECT json_extract_string(payload, '$.ssn') FROM events
SELECT payload->>'$.ssn' FROM events
SELECT * FROM events, (SELECT 1) x WHERE events.tenant_id = '{other}'
-- error text naming engine internals
SELECT * FROM gen_1
SELECT * FROM hot
SELECT * FROM proj
SELECT nosuchcolumn FROM events
SELECT * FROM _hot.nosuch
