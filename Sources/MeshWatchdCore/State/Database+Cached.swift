import GRDB

// The state store's statements go through the connection's statement cache: `execute(sql:)`
// and `fetch…(db, sql:)` compile their SQL at every call, and compiling (`sqlite3_prepare_v3`)
// was 11 % of a 7-rule cycle's instructions (431 compilations in 90 s for a handful of distinct
// statements). A cached statement is compiled once per connection; GRDB recompiles it after a
// schema change. Each text must hold one statement (the migrations, which hold several, keep
// `execute(sql:)`), and a cached statement must not be run again while a cursor over it is open
// (the one cursor, `Row.fetchCursor` in the outbox's start-up read, stays uncached).
extension Database {
    func execute(cached sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}

extension Row {
    static func fetchAll(_ db: Database, cached sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Row] {
        try fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    static func fetchOne(_ db: Database, cached sql: String, arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }
}

extension DatabaseValueConvertible where Self: StatementColumnConvertible {
    static func fetchAll(_ db: Database, cached sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Self] {
        try fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    static func fetchOne(_ db: Database, cached sql: String, arguments: StatementArguments = StatementArguments()) throws -> Self? {
        try fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }
}

extension StateStore {
    /// Reads in one deferred transaction (a consistent view, as `DatabaseQueue.read` gives),
    /// without `read`'s `PRAGMA query_only` on and off around it: setting a flag pragma expires
    /// every prepared statement of the connection (SQLite's `OP_Expire`), so each read sent the
    /// cached statements back to the compiler (`sqlite3Reprepare`: 9 % of a 7-rule cycle). The
    /// closures given here only select; nothing enforces it any more.
    func read<T>(_ work: (Database) throws -> T) throws -> T {
        try database.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.deferred) {
                result = try work(db)
                return .commit
            }
            // Set whenever the transaction commits (a throw leaves before this line).
            guard let result else { throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "read: no result") }
            return result
        }
    }
}
