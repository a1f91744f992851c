-- columns: book, reader, days
SELECT "b"."entity_id" AS "book", json_extract("r"."payload", '$.name') AS "reader", TRY_CAST(trunc(TRY_CAST(json_extract_string("b"."payload", '$.days') AS DOUBLE)) AS BIGINT) AS "days" FROM events AS "b", events AS "r" WHERE ((("b"."event_type" = 'book.borrowed') AND ("r"."event_type" = 'reader.registered')) AND (json_extract_string("b"."payload", '$.reader') = "r"."entity_id")) ORDER BY "b"."timestamp" ASC;

-- doc
SELECT CAST(json_object('book', to_json("b"."entity_id"), 'reader', json_extract("r"."payload", '$.name'), 'days', to_json(TRY_CAST(trunc(TRY_CAST(json_extract_string("b"."payload", '$.days') AS DOUBLE)) AS BIGINT))) AS VARCHAR) AS doc FROM events AS "b", events AS "r" WHERE ((("b"."event_type" = 'book.borrowed') AND ("r"."event_type" = 'reader.registered')) AND (json_extract_string("b"."payload", '$.reader') = "r"."entity_id")) ORDER BY "b"."timestamp" ASC;
