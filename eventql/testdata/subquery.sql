-- columns: orderId, value
SELECT "e"."orderId" AS "orderId", "e"."value" AS "value" FROM (SELECT json_extract("e"."payload", '$.title') AS "orderId", json_extract("e"."payload", '$.price') AS "value" FROM events AS "e" WHERE ("e"."event_type" = 'book.acquired')) AS "e" WHERE (TRY_CAST(json_extract_string("e"."value", '$') AS DOUBLE) > 10);

-- doc
SELECT CAST(json_object('orderId', "e"."orderId", 'value', "e"."value") AS VARCHAR) AS doc FROM (SELECT json_extract("e"."payload", '$.title') AS "orderId", json_extract("e"."payload", '$.price') AS "value" FROM events AS "e" WHERE ("e"."event_type" = 'book.acquired')) AS "e" WHERE (TRY_CAST(json_extract_string("e"."value", '$') AS DOUBLE) > 10);
