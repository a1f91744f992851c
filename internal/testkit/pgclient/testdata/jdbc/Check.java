// pgjdbc compatibility check, run by pgclient.RunJDBC: the driver calls that
// DBeaver and Metabase make, against a server holding pgclient.Fixture.
//
// Usage: java -cp postgresql.jar Check.java JDBC_URL FIXTURE_JSON
//
// JDBC_URL is jdbc:postgresql://HOST:PORT/DB?user=...; the program adds its
// own connection properties on a second connection (prepareThreshold,
// preferQueryMode). It runs in a single-file source launch (Java 11+), so it
// needs nothing but the JDK and the driver jar. Prints one "FAIL: ..." line
// per failed check and a summary line; exits 1 if any check failed, 3 if the
// driver is not on the class path.

import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TimeZone;
import java.util.TreeSet;

import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;
import org.postgresql.util.PGobject;

public class Check {
    /** One fixture event, as fixture.json holds it. */
    record Event(String entityId, String eventType, long version, Instant ts, String payload) {
        String key() {
            return entityId + " v" + version;
        }
    }

    /** The ten columns of events, in order, with the java.sql.Types and type name pgjdbc reports. */
    static final String[][] COLUMNS = {
        {"seq", "int8"}, {"id", "uuid"}, {"tenant_id", "text"}, {"entity_id", "text"},
        {"event_type", "text"}, {"version", "int8"}, {"timestamp", "timestamptz"},
        {"ingested_at", "timestamptz"}, {"payload", "json"}, {"metadata", "json"},
    };

    static String url;
    static List<Event> fixture;
    static List<Event> sorted;
    static List<String> entities;
    static String inList; // ('acct-1', 'acct-2', 'acct-3')
    static String fixtureSelect; // the fixture's rows, ordered by entity and version

    static int checks;
    static int failures;

    static void fail(String name, String msg) {
        failures++;
        System.out.println("FAIL: " + name + ": " + msg);
    }

    static void expect(String name, Object got, Object want) {
        checks++;
        if (!Objects.equals(got, want)) {
            fail(name, "got " + show(got) + ", want " + show(want));
        }
    }

    static void expectTrue(String name, boolean cond, String msg) {
        checks++;
        if (!cond) {
            fail(name, msg);
        }
    }

    static String show(Object o) {
        if (o instanceof String s) {
            return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + "\"";
        }
        return o == null ? "null" : o + " (" + o.getClass().getSimpleName() + ")";
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs one group of checks; an exception fails the group, not the run. */
    static void group(String name, Body body) {
        try {
            body.run();
        } catch (Exception e) {
            checks++;
            fail(name, describe(e));
        }
    }

    static String describe(Throwable e) {
        StringBuilder b = new StringBuilder(e.toString().replace("\n", " "));
        if (e instanceof SQLException s && s.getSQLState() != null) {
            b.append(" [SQLState ").append(s.getSQLState()).append("]");
        }
        for (StackTraceElement el : e.getStackTrace()) {
            if (el.getClassName().startsWith("Check")) {
                b.append(" at ").append(el);
                break;
            }
        }
        if (e.getCause() != null && e.getCause() != e) {
            b.append("; caused by ").append(e.getCause());
        }
        return b.toString();
    }

    /** Runs sql, which must fail, and checks the SQLSTATE. */
    static void expectSQLState(String name, Body body, String state) {
        try {
            body.run();
            checks++;
            fail(name, "no error raised");
        } catch (SQLException e) {
            expect(name + " SQLState", e.getSQLState(), state);
        } catch (Exception e) {
            checks++;
            fail(name, "want SQLException, got " + describe(e));
        }
    }

    static List<Event> ofEntity(String id) {
        return sorted.stream().filter(e -> e.entityId.equals(id)).toList();
    }

    public static void main(String[] args) throws Exception {
        // pgjdbc sends the JVM's time zone as TimeZone in the startup
        // packet, as libpq sends PGTZ for the other clients.
        TimeZone.setDefault(TimeZone.getTimeZone("UTC"));
        try {
            Class.forName("org.postgresql.Driver");
        } catch (ClassNotFoundException e) {
            System.out.println("MISSING DRIVER: " + e);
            System.exit(3);
        }
        url = args[0];
        fixture = new ArrayList<>();
        for (Object o : (List<?>) new Json(Files.readString(Path.of(args[1]), StandardCharsets.UTF_8)).parse()) {
            Map<?, ?> m = (Map<?, ?>) o;
            fixture.add(new Event((String) m.get("entity_id"), (String) m.get("event_type"),
                ((Number) m.get("version")).longValue(), Instant.parse((String) m.get("timestamp")),
                (String) m.get("payload")));
        }
        sorted = fixture.stream()
            .sorted(Comparator.comparing(Event::entityId).thenComparingLong(Event::version)).toList();
        entities = new ArrayList<>(new TreeSet<>(fixture.stream().map(Event::entityId).toList()));
        inList = "('" + String.join("', '", entities) + "')";
        fixtureSelect = "SELECT entity_id, event_type, version, \"timestamp\", payload FROM events "
            + "WHERE entity_id IN " + inList + " ORDER BY entity_id, version";

        String driver;
        try (Connection conn = DriverManager.getConnection(url)) {
            driver = conn.getMetaData().getDriverVersion();
            group("metadata", () -> metadata(conn));
            group("statement", () -> statement(conn));
            group("prepared statement", () -> prepared(conn));
            group("server-side prepared", () -> serverPrepared(conn, "default threshold"));
            group("fetch size", () -> fetchSize(conn));
            group("errors", () -> errors(conn));
            group("connect calls", () -> connectCalls(conn));
            group("copy out", () -> copyOut(conn));
            group("funnel with a bound parameter", () -> funnelParameter(conn));
        }
        group("prepareThreshold=1, extendedCacheEverything", () -> {
            String sep = url.contains("?") ? "&" : "?";
            try (Connection conn = DriverManager.getConnection(
                    url + sep + "prepareThreshold=1&preferQueryMode=extendedCacheEverything")) {
                expect("prepareThreshold property", conn.unwrap(PGConnection.class).getPrepareThreshold(), 1);
                serverPrepared(conn, "threshold 1");
                statement(conn);
                errors(conn);
                fetchSize(conn);
            }
        });

        System.out.printf("pgjdbc %s, Java %s: %d checks, %d failed%n",
            driver, System.getProperty("java.version"), checks, failures);
        System.exit(failures > 0 ? 1 : 0);
    }

    static void metadata(Connection conn) throws SQLException {
        DatabaseMetaData md = conn.getMetaData();
        expect("product name", md.getDatabaseProductName(), "PostgreSQL");
        String version = md.getDatabaseProductVersion();
        expectTrue("product version 15.x", version.startsWith("15."), "got " + show(version));
        expect("major version", md.getDatabaseMajorVersion(), 15);

        List<String> schemas = new ArrayList<>();
        try (ResultSet rs = md.getSchemas()) {
            while (rs.next()) {
                schemas.add(rs.getString("TABLE_SCHEM"));
            }
        }
        expectTrue("getSchemas has public", schemas.contains("public"), "got " + schemas);

        Map<String, String> tables = new LinkedHashMap<>();
        try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE", "VIEW"})) {
            while (rs.next()) {
                expect("getTables TABLE_SCHEM", rs.getString("TABLE_SCHEM"), "public");
                tables.put(rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
            }
        }
        expect("getTables events", tables.get("events"), "TABLE");

        List<String> names = new ArrayList<>();
        try (ResultSet rs = md.getColumns(null, "public", "events", null)) {
            for (int i = 0; rs.next(); i++) {
                String name = rs.getString("COLUMN_NAME");
                names.add(name);
                if (i >= COLUMNS.length) {
                    continue;
                }
                String what = "getColumns " + name;
                expect(what + " TABLE_NAME", rs.getString("TABLE_NAME"), "events");
                expect(what + " ORDINAL_POSITION", rs.getInt("ORDINAL_POSITION"), i + 1);
                expect(what + " TYPE_NAME", rs.getString("TYPE_NAME"), COLUMNS[i][1]);
                expectType(what + " DATA_TYPE", rs.getInt("DATA_TYPE"), COLUMNS[i][1]);
                expect(what + " NULLABLE", rs.getInt("NULLABLE"), DatabaseMetaData.columnNullable);
                expect(what + " IS_NULLABLE", rs.getString("IS_NULLABLE"), "YES");
            }
        }
        List<String> want = new ArrayList<>();
        for (String[] c : COLUMNS) {
            want.add(c[0]);
        }
        expect("getColumns names", names, want);

        // DBeaver reads these for every table; events has none of them,
        // but the queries must run. Each is a group of its own so that
        // one failure does not hide the others.
        group("getPrimaryKeys", () -> drain(md.getPrimaryKeys(null, "public", "events")));
        group("getImportedKeys", () -> drain(md.getImportedKeys(null, "public", "events")));
        group("getIndexInfo", () -> drain(md.getIndexInfo(null, "public", "events", false, true)));

        group("getTypeInfo", () -> {
            TreeSet<String> types = new TreeSet<>();
            try (ResultSet rs = md.getTypeInfo()) {
                while (rs.next()) {
                    types.add(rs.getString("TYPE_NAME"));
                }
            }
            for (String t : new String[] {"int8", "text", "timestamptz", "json"}) {
                expectTrue("getTypeInfo has " + t, types.contains(t), types.size() + " types");
            }
        });
    }

    /** Reads every column of every row of rs, as a metadata browser does. */
    static void drain(ResultSet rs) throws SQLException {
        try (rs) {
            int cols = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                for (int i = 1; i <= cols; i++) {
                    rs.getObject(i);
                }
            }
        }
    }

    /** Checks a java.sql.Types code for a PostgreSQL type name. */
    static void expectType(String name, int got, String typeName) {
        switch (typeName) {
            case "int8" -> expect(name, got, Types.BIGINT);
            case "text" -> expect(name, got, Types.VARCHAR);
            case "json", "uuid" -> expect(name, got, Types.OTHER);
            // pgjdbc 42.x reports TIMESTAMP; the JDBC spec also allows this.
            case "timestamptz" -> expectTrue(name, got == Types.TIMESTAMP || got == Types.TIMESTAMP_WITH_TIMEZONE,
                "got " + got + ", want TIMESTAMP or TIMESTAMP_WITH_TIMEZONE");
            default -> throw new IllegalArgumentException(typeName);
        }
    }

    /** Checks the fixture rows of fixtureSelect in rs and its metadata. */
    static void fixtureRows(String what, ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        String[][] cols = {{"entity_id", "text"}, {"event_type", "text"}, {"version", "int8"},
            {"timestamp", "timestamptz"}, {"payload", "json"}};
        expect(what + " column count", md.getColumnCount(), cols.length);
        for (int i = 0; i < cols.length && i < md.getColumnCount(); i++) {
            String c = what + " column " + (i + 1);
            expect(c + " label", md.getColumnLabel(i + 1), cols[i][0]);
            expect(c + " type name", md.getColumnTypeName(i + 1), cols[i][1]);
            expectType(c + " type", md.getColumnType(i + 1), cols[i][1]);
            // Column origin (pg_attribute through the table OID) may be
            // unknown, but the columns are not NOT NULL.
            expectTrue(c + " nullable", md.isNullable(i + 1) != ResultSetMetaData.columnNoNulls, "reported NOT NULL");
        }
        int n = 0;
        while (rs.next()) {
            if (n < sorted.size()) {
                Event e = sorted.get(n);
                String k = what + " " + e.key();
                expect(k + " entity_id", rs.getString(1), e.entityId);
                expect(k + " event_type", rs.getString("event_type"), e.eventType);
                expect(k + " version", rs.getLong(3), e.version);
                Timestamp t = rs.getTimestamp(4);
                expect(k + " getTimestamp", t == null ? null : t.toInstant(), e.ts);
                OffsetDateTime odt = rs.getObject(4, OffsetDateTime.class);
                expect(k + " OffsetDateTime", odt == null ? null : odt.toInstant(), e.ts);
                expect(k + " payload getString", rs.getString(5), e.payload);
                Object p = rs.getObject(5);
                expectTrue(k + " payload PGobject json", p instanceof PGobject o && "json".equals(o.getType()),
                    "got " + show(p));
                if (p instanceof PGobject o) {
                    expect(k + " payload PGobject value", o.getValue(), e.payload);
                }
            }
            n++;
        }
        expect(what + " rows", n, sorted.size());
    }

    static void statement(Connection conn) throws SQLException {
        try (Statement st = conn.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT 1 AS one")) {
                expect("select 1", rs.next() ? rs.getInt("one") : null, 1);
            }
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM events WHERE entity_id IN " + inList)) {
                expect("count", rs.next() ? rs.getLong(1) : null, (long) fixture.size());
            }
            // Run twice: extendedCacheEverything prepares a plain Statement too.
            for (int i = 0; i < 2; i++) {
                try (ResultSet rs = st.executeQuery(fixtureSelect)) {
                    fixtureRows("Statement#" + i, rs);
                }
            }
        }
    }

    static void prepared(Connection conn) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT version, event_type FROM events WHERE entity_id = ? AND version >= ? ORDER BY version")) {
            ps.setString(1, "acct-1");
            ps.setLong(2, 2);
            List<String> got = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    got.add(rs.getLong(1) + " " + rs.getString(2));
                }
            }
            expect("setString setLong", got, ofEntity("acct-1").stream()
                .filter(e -> e.version >= 2).map(e -> e.version + " " + e.eventType).toList());
        }

        Instant when = Instant.parse("2024-02-01T00:00:00Z");
        long want = fixture.stream().filter(e -> !e.ts.isBefore(when)).count();
        String countSince = "SELECT count(*) FROM events WHERE entity_id IN (?, ?, ?) AND \"timestamp\" >= ?";
        try (PreparedStatement ps = conn.prepareStatement(countSince)) {
            for (int i = 0; i < entities.size(); i++) {
                ps.setString(i + 1, entities.get(i));
            }
            ps.setTimestamp(4, Timestamp.from(when));
            try (ResultSet rs = ps.executeQuery()) {
                expect("setTimestamp", rs.next() ? rs.getLong(1) : null, want);
            }
            ps.setObject(4, OffsetDateTime.ofInstant(when, ZoneOffset.UTC));
            try (ResultSet rs = ps.executeQuery()) {
                expect("setObject OffsetDateTime", rs.next() ? rs.getLong(1) : null, want);
            }
        }

        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT entity_id FROM events WHERE payload->>'owner' = ? ORDER BY entity_id")) {
            for (String owner : new String[] {"O'Brien", "李小龙", "Zoë Müller"}) {
                ps.setString(1, owner);
                List<String> got = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        got.add(rs.getString(1));
                    }
                }
                expect("owner=" + owner, got, fixture.stream()
                    .filter(e -> e.payload.contains("\"owner\":\"" + owner + "\"")).map(Event::entityId).toList());
            }
        }

        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT CAST(? AS text) AS s, CAST(? AS bigint) AS i, CAST(? AS text) AS n, CAST(? AS timestamptz) AS t")) {
            String s = "O'Brien \\ \"q\" ü 🎉";
            OffsetDateTime t = OffsetDateTime.parse("2024-01-16T08:00:00.123456Z");
            ps.setString(1, s);
            ps.setLong(2, 1099511627776L);
            ps.setNull(3, Types.VARCHAR);
            ps.setObject(4, t);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("round trip: no row");
                }
                expect("round trip text", rs.getString("s"), s);
                expect("round trip bigint", rs.getLong("i"), 1099511627776L);
                expect("round trip null", rs.getString("n"), null);
                expect("round trip null wasNull", rs.wasNull(), true);
                expect("round trip timestamptz", rs.getObject("t", OffsetDateTime.class), t);
            }
        }

        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT payload FROM events WHERE entity_id = ? AND event_type = ?")) {
            ps.setString(1, "acct-3");
            ps.setString(2, "closed");
            try (ResultSet rs = ps.executeQuery()) {
                String want3 = ofEntity("acct-3").stream()
                    .filter(e -> e.eventType.equals("closed")).findFirst().orElseThrow().payload;
                expect("json with emoji and tab", rs.next() ? rs.getString(1) : null, want3);
            }
        }
    }

    /**
     * Executes one PreparedStatement ten times with different parameters.
     * After prepareThreshold executions pgjdbc parses a named server
     * statement, describes it once and from then on binds it, asking for
     * int8 and timestamptz results in binary.
     */
    static void serverPrepared(Connection conn, String what) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT entity_id, version, event_type, \"timestamp\" FROM events WHERE entity_id = ? ORDER BY version")) {
            for (int i = 0; i < 10; i++) {
                String id = entities.get(i % entities.size());
                ps.setString(1, id);
                List<String> got = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        got.add(rs.getString(1) + " " + rs.getLong(2) + " " + rs.getString(3) + " "
                            + rs.getObject(4, OffsetDateTime.class).toInstant());
                    }
                }
                expect(what + " execution " + (i + 1) + " " + id, got, ofEntity(id).stream()
                    .map(e -> e.entityId + " " + e.version + " " + e.eventType + " " + e.ts).toList());
            }
        }
    }

    /**
     * With autocommit off and a fetch size, pgjdbc executes a portal with a
     * row limit and fetches the rest with further Executes.
     */
    static void fetchSize(Connection conn) throws SQLException {
        conn.setAutoCommit(false);
        try {
            try (Statement st = conn.createStatement()) {
                st.setFetchSize(2);
                try (ResultSet rs = st.executeQuery(fixtureSelect)) {
                    fixtureRows("fetchSize 2", rs);
                }
            }
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT entity_id, version FROM events WHERE entity_id IN (?, ?, ?) ORDER BY entity_id, version")) {
                ps.setFetchSize(3);
                for (int i = 0; i < entities.size(); i++) {
                    ps.setString(i + 1, entities.get(i));
                }
                List<String> got = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        got.add(rs.getString(1) + " " + rs.getLong(2));
                    }
                }
                expect("prepared fetchSize 3", got, sorted.stream().map(e -> e.entityId + " " + e.version).toList());
            }
            conn.commit();
        } finally {
            conn.setAutoCommit(true);
        }
    }

    static void errors(Connection conn) throws SQLException {
        try (Statement st = conn.createStatement()) {
            expectSQLState("syntax error", () -> st.executeQuery("SELEC 1"), "42601");
            try (ResultSet rs = st.executeQuery("SELECT 2")) {
                expect("usable after syntax error", rs.next() ? rs.getInt(1) : null, 2);
            }
            expectSQLState("missing table", () -> st.executeQuery("SELECT * FROM no_such_table"), "42P01");
            try (PreparedStatement ps = conn.prepareStatement("SELECT * FROM no_such_table WHERE x = ?")) {
                ps.setLong(1, 1);
                expectSQLState("prepared missing table", ps::executeQuery, "42P01");
            }
            try (ResultSet rs = st.executeQuery("SELECT 3")) {
                expect("usable after missing table", rs.next() ? rs.getInt(1) : null, 3);
            }

            conn.setAutoCommit(false);
            try {
                expectSQLState("missing table in transaction", () -> st.executeQuery("SELECT * FROM no_such_table"), "42P01");
                expectSQLState("in failed transaction", () -> st.executeQuery("SELECT 4"), "25P02");
                conn.rollback();
                try (ResultSet rs = st.executeQuery("SELECT 5")) {
                    expect("usable after rollback", rs.next() ? rs.getInt(1) : null, 5);
                }
                conn.commit();
            } finally {
                conn.setAutoCommit(true);
            }
        }
    }

    /** The calls DBeaver and connection pools make on a fresh connection. */
    static void connectCalls(Connection conn) throws SQLException {
        expect("isValid", conn.isValid(5), true);
        expect("getAutoCommit", conn.getAutoCommit(), true);
        expect("getSchema", conn.getSchema(), "public");
        expect("getTransactionIsolation", conn.getTransactionIsolation(), Connection.TRANSACTION_READ_COMMITTED);
        conn.setAutoCommit(false);
        try {
            expect("getAutoCommit after set", conn.getAutoCommit(), false);
            conn.rollback();
            conn.setReadOnly(true);
            expect("isReadOnly", conn.isReadOnly(), true);
            // pgjdbc opens this transaction with BEGIN READ ONLY.
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM events WHERE entity_id IN " + inList)) {
                expect("count in read-only transaction", rs.next() ? rs.getLong(1) : null, (long) fixture.size());
            }
            expect("getTransactionIsolation in transaction", conn.getTransactionIsolation(),
                Connection.TRANSACTION_READ_COMMITTED);
            conn.rollback();
            conn.setReadOnly(false);
            conn.commit();
        } finally {
            conn.setAutoCommit(true);
        }
        expect("isValid after", conn.isValid(5), true);
    }

    /** funnel(?) with the question bound: AllSource's only (PostgreSQL has no funnel). */
    static void funnelParameter(Connection conn) throws Exception {
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT version()")) {
            rs.next();
            if (!rs.getString(1).contains("AllSource")) {
                return;
            }
        }
        String question = "{\"steps\": [{\"event_type\": \"opened\", \"where\": \"subject == 'acct-1' OR subject == 'acct-2' OR subject == 'acct-3'\"}, "
            + "\"credited\", \"closed\"], \"window\": \"100d\"}";
        try (PreparedStatement ps = conn.prepareStatement("SELECT entities FROM funnel(?) ORDER BY step")) {
            ps.setString(1, question);
            List<Long> got = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    got.add(rs.getLong(1));
                }
            }
            expect("funnel(?)", got, List.of(3L, 2L, 1L));
        }
    }

    static void copyOut(Connection conn) throws Exception {
        CopyManager cm = conn.unwrap(PGConnection.class).getCopyAPI();
        StringWriter w = new StringWriter();
        long n = cm.copyOut("COPY (" + fixtureSelect + ") TO STDOUT WITH (FORMAT csv)", w);
        expect("copyOut row count", n, (long) fixture.size());
        StringBuilder want = new StringBuilder();
        for (Event e : sorted) {
            want.append(csv(e.entityId)).append(',').append(csv(e.eventType)).append(',').append(e.version)
                .append(',').append(pgTimestamptz(e.ts)).append(',').append(csv(e.payload)).append('\n');
        }
        String[] got = w.toString().split("\n", -1);
        String[] wantLines = want.toString().split("\n", -1);
        expect("copyOut lines", got.length, wantLines.length);
        for (int i = 0; i < Math.min(got.length, wantLines.length); i++) {
            expect("copyOut line " + (i + 1), got[i], wantLines[i]);
        }
    }

    /** s as a CSV field, quoted as PostgreSQL's COPY quotes it. */
    static String csv(String s) {
        if (s.isEmpty() || s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")) {
            return "\"" + s.replace("\"", "\"\"") + "\"";
        }
        return s;
    }

    /** t as PostgreSQL prints a timestamptz with TimeZone UTC. */
    static String pgTimestamptz(Instant t) {
        String s = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC).format(t);
        int micros = t.getNano() / 1000;
        if (micros != 0) {
            s += ("." + String.format("%06d", micros)).replaceAll("0+$", "");
        }
        return s + "+00";
    }

    /** A minimal JSON parser, enough for fixture.json. */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) {
            this.s = s;
        }

        Object parse() {
            Object v = value();
            ws();
            if (i != s.length()) {
                throw error("trailing data");
            }
            return v;
        }

        private Object value() {
            ws();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{' -> {
                    i++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    ws();
                    if (peek('}')) {
                        return m;
                    }
                    do {
                        ws();
                        String k = string();
                        ws();
                        want(':');
                        m.put(k, value());
                        ws();
                    } while (peek(','));
                    want('}');
                    return m;
                }
                case '[' -> {
                    i++;
                    List<Object> l = new ArrayList<>();
                    ws();
                    if (peek(']')) {
                        return l;
                    }
                    do {
                        l.add(value());
                        ws();
                    } while (peek(','));
                    want(']');
                    return l;
                }
                case '"' -> {
                    return string();
                }
                default -> {
                    for (String lit : new String[] {"true", "false", "null"}) {
                        if (s.startsWith(lit, i)) {
                            i += lit.length();
                            return lit.equals("null") ? null : Boolean.valueOf(lit);
                        }
                    }
                    int start = i;
                    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                        i++;
                    }
                    String num = s.substring(start, i);
                    if (num.isEmpty()) {
                        throw error("unexpected " + c);
                    }
                    return num.matches("-?\\d+") ? (Object) Long.valueOf(num) : (Object) Double.valueOf(num);
                }
            }
        }

        private String string() {
            want('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> b.append(e); // " \ /
                }
            }
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private boolean peek(char c) {
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private void want(char c) {
            if (!peek(c)) {
                throw error("want " + c);
            }
        }

        private IllegalArgumentException error(String msg) {
            return new IllegalArgumentException("fixture JSON at " + i + ": " + msg);
        }
    }
}
