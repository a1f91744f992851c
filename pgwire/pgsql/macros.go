package pgsql

// macroDDL are the helper macros Rewrite routes PostgreSQL functions to.
// Parameters are named with a leading underscore so they never collide
// with catalog column names inside the macro bodies.
var macroDDL = []string{
	`CREATE OR REPLACE MACRO pgcat.format_type(_typ, _m) AS (
		CASE WHEN _typ IS NULL THEN NULL ELSE coalesce((
			SELECT CASE
				WHEN _m IS NULL OR _m < 0 THEN _f.pre || _f.post
				WHEN _f.modkind = 'len' THEN _f.pre || '(' || CAST(_m - 4 AS VARCHAR) || ')' || _f.post
				WHEN _f.modkind IN ('len0', 'prec') THEN _f.pre || '(' || CAST(_m AS VARCHAR) || ')' || _f.post
				WHEN _f.modkind = 'num' THEN _f.pre || '(' || CAST(((_m - 4) >> 16) & 65535 AS VARCHAR) || ',' || CAST((_m - 4) & 65535 AS VARCHAR) || ')' || _f.post
				ELSE _f.pre || _f.post END
			FROM pgcat._typfmt _f WHERE _f.oid = _typ),
			(SELECT _t.typname FROM pgcat.pg_type _t WHERE _t.oid = _typ),
			'???') END)`,
	`CREATE OR REPLACE MACRO pgcat.pg_get_userbyid(_o, _user) AS (
		CASE WHEN _o IS NULL THEN NULL WHEN _o = 10 THEN _user ELSE 'unknown (OID=' || CAST(_o AS VARCHAR) || ')' END)`,
	`CREATE OR REPLACE MACRO pgcat.pg_table_is_visible(_o) AS (
		EXISTS (SELECT 1 FROM pgcat.pg_class _c WHERE _c.oid = _o AND _c.relnamespace IN (11, 2200)))`,
	`CREATE OR REPLACE MACRO pgcat.obj_description(_o, _cls) AS (
		SELECT _d.description FROM pgcat.pg_description _d
		WHERE _d.objoid = _o AND _d.objsubid = 0
		  AND (_cls IS NULL OR _d.classoid = (SELECT _c.oid FROM pgcat.pg_class _c WHERE _c.relname = _cls AND _c.relnamespace = 11))
		LIMIT 1)`,
	`CREATE OR REPLACE MACRO pgcat.col_description(_o, _num) AS (
		SELECT _d.description FROM pgcat.pg_description _d WHERE _d.objoid = _o AND _d.classoid = 1259 AND _d.objsubid = _num LIMIT 1)`,
	`CREATE OR REPLACE MACRO pgcat.shobj_description(_o, _cls) AS (
		SELECT _d.description FROM pgcat.pg_shdescription _d WHERE _d.objoid = _o LIMIT 1)`,
	`CREATE OR REPLACE MACRO pgcat.regclass_name(_x) AS (
		coalesce((SELECT CASE WHEN _n.nspname IN ('pg_catalog', 'public') THEN _c.relname ELSE _n.nspname || '.' || _c.relname END
			FROM pgcat.pg_class _c JOIN pgcat.pg_namespace _n ON _n.oid = _c.relnamespace
			WHERE CAST(_c.oid AS VARCHAR) = CAST(_x AS VARCHAR)), CAST(_x AS VARCHAR)))`,
	`CREATE OR REPLACE MACRO pgcat.regclass_oid(_x) AS (
		SELECT _c.oid FROM pgcat.pg_class _c JOIN pgcat.pg_namespace _n ON _n.oid = _c.relnamespace
		WHERE CAST(_c.oid AS VARCHAR) = CAST(_x AS VARCHAR)
		   OR (_c.relname = replace(CAST(_x AS VARCHAR), '"', '') AND _n.nspname IN ('pg_catalog', 'public'))
		   OR _n.nspname || '.' || _c.relname = replace(CAST(_x AS VARCHAR), '"', '')
		ORDER BY _c.oid LIMIT 1)`,
	`CREATE OR REPLACE MACRO pgcat.regtype_oid(_x) AS (
		SELECT _f.oid FROM pgcat._typfmt _f
		WHERE CAST(_f.oid AS VARCHAR) = CAST(_x AS VARCHAR) OR _f.typname = lower(CAST(_x AS VARCHAR)) OR _f.pre || _f.post = lower(CAST(_x AS VARCHAR))
		ORDER BY _f.oid LIMIT 1)`,
	`CREATE OR REPLACE MACRO pgcat.pg_get_function_arguments(_o) AS (SELECT _s.args FROM pgcat._procsig _s WHERE _s.oid = _o)`,
	`CREATE OR REPLACE MACRO pgcat.pg_get_function_identity_arguments(_o) AS (SELECT _s.args FROM pgcat._procsig _s WHERE _s.oid = _o)`,
	`CREATE OR REPLACE MACRO pgcat.pg_get_function_result(_o) AS (SELECT _s.result FROM pgcat._procsig _s WHERE _s.oid = _o)`,
	`CREATE OR REPLACE MACRO pgcat.pg_get_functiondef(_o) AS (SELECT _s.def FROM pgcat._procsig _s WHERE _s.oid = _o)`,
	`CREATE OR REPLACE MACRO pgcat.pg_options_to_table(_o) AS TABLE
		SELECT split_part(_x.o, '=', 1) AS option_name, substr(_x.o, strpos(_x.o, '=') + 1) AS option_value FROM (SELECT unnest(_o) AS o) _x`,
	`CREATE OR REPLACE MACRO pgcat.array_remove(_l, _v) AS (list_filter(_l, _e -> _e IS DISTINCT FROM _v))`,
	`CREATE OR REPLACE MACRO pgcat.regtype_names(_l) AS (
		SELECT list(pgcat.format_type(_u.e, NULL) ORDER BY _u.i) FROM (SELECT unnest(_l) AS e, generate_subscripts(_l, 1) AS i) _u)`,
	// An array as PostgreSQL's text output prints it: {a,b,"c d",NULL}.
	`CREATE OR REPLACE MACRO pgcat.array_text(_l) AS (
		CASE WHEN _l IS NULL THEN NULL ELSE '{' || array_to_string(list_transform(_l, _e ->
			CASE WHEN _e IS NULL THEN 'NULL'
				WHEN CAST(_e AS VARCHAR) = '' OR upper(CAST(_e AS VARCHAR)) = 'NULL' OR regexp_matches(CAST(_e AS VARCHAR), '[{},"\\\s]')
				THEN '"' || replace(replace(CAST(_e AS VARCHAR), '\', '\\'), '"', '\"') || '"'
				ELSE CAST(_e AS VARCHAR) END), ',') || '}' END)`,
	`CREATE OR REPLACE MACRO pgcat.regnamespace_name(_x) AS (
		coalesce((SELECT _n.nspname FROM pgcat.pg_namespace _n WHERE CAST(_n.oid AS VARCHAR) = CAST(_x AS VARCHAR)), CAST(_x AS VARCHAR)))`,
	`CREATE OR REPLACE MACRO pgcat.regnamespace_oid(_x) AS (
		SELECT _n.oid FROM pgcat.pg_namespace _n WHERE CAST(_n.oid AS VARCHAR) = CAST(_x AS VARCHAR) OR _n.nspname = CAST(_x AS VARCHAR) LIMIT 1)`,
	`CREATE OR REPLACE MACRO pgcat.pg_encoding_to_char(_e) AS (
		CASE _e WHEN 0 THEN 'SQL_ASCII' WHEN 6 THEN 'UTF8' WHEN 8 THEN 'LATIN1' ELSE '' END)`,
	`CREATE OR REPLACE MACRO pgcat.pg_char_to_encoding(_s) AS (
		CASE upper(_s) WHEN 'SQL_ASCII' THEN 0 WHEN 'UTF8' THEN 6 WHEN 'UTF-8' THEN 6 WHEN 'LATIN1' THEN 8 ELSE -1 END)`,
	`CREATE OR REPLACE MACRO pgcat.pg_size_pretty(_b) AS (
		CASE WHEN _b IS NULL THEN NULL
			WHEN abs(_b) < 10240 THEN CAST(CAST(_b AS BIGINT) AS VARCHAR) || ' bytes'
			WHEN abs(_b) < 10240 * 1024 THEN CAST(CAST(round(_b / 1024) AS BIGINT) AS VARCHAR) || ' kB'
			WHEN abs(_b) < 10240 * 1024 * 1024 THEN CAST(CAST(round(_b / 1048576) AS BIGINT) AS VARCHAR) || ' MB'
			WHEN abs(_b) < 10240 * 1024 * 1024 * 1024 THEN CAST(CAST(round(_b / 1073741824) AS BIGINT) AS VARCHAR) || ' GB'
			ELSE CAST(CAST(round(_b / 1099511627776) AS BIGINT) AS VARCHAR) || ' TB' END)`,
	`CREATE OR REPLACE MACRO pgcat.quote_ident(_s) AS (
		CASE WHEN _s IS NULL THEN NULL
			WHEN regexp_full_match(CAST(_s AS VARCHAR), '[a-z_][a-z0-9_$]*')
				AND NOT EXISTS (SELECT 1 FROM pgcat._keywords _k WHERE _k.word = CAST(_s AS VARCHAR) AND _k.catcode <> 'U')
			THEN CAST(_s AS VARCHAR)
			ELSE '"' || replace(CAST(_s AS VARCHAR), '"', '""') || '"' END)`,
	`CREATE OR REPLACE MACRO pgcat.quote_literal(_s) AS (
		'''' || replace(CAST(_s AS VARCHAR), '''', '''''') || '''')`,
	`CREATE OR REPLACE MACRO pgcat.quote_nullable(_s) AS (
		CASE WHEN _s IS NULL THEN 'NULL' ELSE '''' || replace(CAST(_s AS VARCHAR), '''', '''''') || '''' END)`,
	`CREATE OR REPLACE MACRO pgcat.parse_ident(_s) AS (
		list_transform(string_split(_s, '.'), lambda p:
			CASE WHEN trim(p) LIKE '"%"' THEN replace(substr(trim(p), 2, length(trim(p)) - 2), '""', '"') ELSE lower(trim(p)) END))`,
	`CREATE OR REPLACE MACRO pgcat.array_lower(_a, _d) AS (
		CASE WHEN _a IS NULL OR len(_a) = 0 OR _d <> 1 THEN NULL ELSE 1 END)`,
	`CREATE OR REPLACE MACRO pgcat.array_upper(_a, _d) AS (
		CASE WHEN _a IS NULL OR len(_a) = 0 OR _d <> 1 THEN NULL ELSE len(_a) END)`,
	`CREATE OR REPLACE MACRO pgcat.array_length(_a, _d) AS (
		CASE WHEN _a IS NULL OR len(_a) = 0 OR _d <> 1 THEN NULL ELSE len(_a) END)`,
	`CREATE OR REPLACE MACRO pgcat.cardinality(_a) AS (len(_a))`,
	`CREATE OR REPLACE MACRO pgcat.pg_typeof(_x) AS (
		CASE typeof(_x)
			WHEN 'BOOLEAN' THEN 'boolean' WHEN 'SMALLINT' THEN 'smallint' WHEN 'INTEGER' THEN 'integer'
			WHEN 'BIGINT' THEN 'bigint' WHEN 'HUGEINT' THEN 'numeric' WHEN 'FLOAT' THEN 'real' WHEN 'DOUBLE' THEN 'double precision'
			WHEN 'VARCHAR' THEN 'text' WHEN 'BLOB' THEN 'bytea' WHEN 'DATE' THEN 'date' WHEN 'TIME' THEN 'time without time zone'
			WHEN 'TIMESTAMP' THEN 'timestamp without time zone' WHEN 'TIMESTAMP WITH TIME ZONE' THEN 'timestamp with time zone'
			WHEN 'INTERVAL' THEN 'interval' WHEN 'JSON' THEN 'json' WHEN 'UUID' THEN 'uuid' WHEN '"NULL"' THEN 'unknown'
			ELSE CASE WHEN typeof(_x) LIKE 'DECIMAL%' THEN 'numeric' WHEN typeof(_x) LIKE '%[]' THEN 'anyarray' ELSE lower(typeof(_x)) END END)`,
	`CREATE OR REPLACE MACRO pgcat._pg_expandarray(_a) AS (
		list_transform(range(1, len(_a) + 1), _i -> {'x': _a[_i], 'n': _i}))`,
	`CREATE OR REPLACE MACRO pgcat.pg_get_keywords() AS TABLE
		SELECT word, catcode, barelabel, catdesc, baredesc FROM pgcat._keywords`,
}
