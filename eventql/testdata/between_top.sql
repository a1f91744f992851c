-- columns: n, t
SELECT ((-("e"."seq" + 1)) * 2) AS "n", CASE WHEN ("e"."version" = 1) THEN 'first' ELSE lower("e"."event_type") END AS "t" FROM events AS "e" WHERE "e"."timestamp" >= TIMESTAMPTZ '2024-01-02 00:00:00+00' AND "e"."timestamp" <= TIMESTAMPTZ '2024-01-06 00:00:00+00' ORDER BY "e"."seq" DESC LIMIT 10 OFFSET 1;

-- doc
SELECT CAST(json_object('n', to_json(((-("e"."seq" + 1)) * 2)), 't', to_json(CASE WHEN ("e"."version" = 1) THEN 'first' ELSE lower("e"."event_type") END)) AS VARCHAR) AS doc FROM events AS "e" WHERE "e"."timestamp" >= TIMESTAMPTZ '2024-01-02 00:00:00+00' AND "e"."timestamp" <= TIMESTAMPTZ '2024-01-06 00:00:00+00' ORDER BY "e"."seq" DESC LIMIT 10 OFFSET 1;
