-- columns: seq, id, tenant_id, entity_id, event_type, version, timestamp, ingested_at, payload, metadata
SELECT "e"."seq" AS "seq", "e"."id" AS "id", "e"."tenant_id" AS "tenant_id", "e"."entity_id" AS "entity_id", "e"."event_type" AS "event_type", "e"."version" AS "version", "e"."timestamp" AS "timestamp", "e"."ingested_at" AS "ingested_at", "e"."payload" AS "payload", "e"."metadata" AS "metadata" FROM events AS "e";

-- doc
SELECT CAST(json_object('specversion', '1.0', 'id', "e"."id", 'time', strftime(timezone('UTC', "e"."timestamp"), '%Y-%m-%dT%H:%M:%S.%fZ'), 'source', 'allsource', 'subject', "e"."entity_id", 'type', "e"."event_type", 'datacontenttype', 'application/json', 'data', "e"."payload", 'seq', "e"."seq", 'version', "e"."version", 'tenant', "e"."tenant_id", 'metadata', "e"."metadata") AS VARCHAR) AS doc FROM events AS "e";
