-- columns: value
SELECT DISTINCT "s"."value" AS value FROM events AS "e", (SELECT DISTINCT entity_id AS value FROM events) AS "s" WHERE "e"."timestamp" >= (now() - INTERVAL '7 days') AND "e"."timestamp" <= TIMESTAMPTZ '2030-01-01 00:00:00+00' AND ("e"."entity_id" = "s"."value");

-- doc
SELECT DISTINCT coalesce(CAST(to_json("s"."value") AS VARCHAR), 'null') AS doc FROM events AS "e", (SELECT DISTINCT entity_id AS value FROM events) AS "s" WHERE "e"."timestamp" >= (now() - INTERVAL '7 days') AND "e"."timestamp" <= TIMESTAMPTZ '2030-01-01 00:00:00+00' AND ("e"."entity_id" = "s"."value");
