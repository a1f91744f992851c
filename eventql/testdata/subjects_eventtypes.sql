-- columns: subject, type
SELECT "s"."value" AS "subject", "t"."value" AS "type" FROM (SELECT DISTINCT entity_id AS value FROM events) AS "s", (SELECT DISTINCT event_type AS value FROM events) AS "t" WHERE (starts_with("s"."value", 'book') AND suffix("t"."value", 'acquired'));

-- doc
SELECT CAST(json_object('subject', to_json("s"."value"), 'type', to_json("t"."value")) AS VARCHAR) AS doc FROM (SELECT DISTINCT entity_id AS value FROM events) AS "s", (SELECT DISTINCT event_type AS value FROM events) AS "t" WHERE (starts_with("s"."value", 'book') AND suffix("t"."value", 'acquired'));
