#include "append_rows.h"

#include "boundary.h"
#include "conn.h"

namespace eskit::ext {

namespace {

enum RowColumn {
    kRowSeq = 0,
    kRowStream,
    kRowVersion,
    kRowType,
    kRowData,
    kRowMetadata,
    kRowCodec,
    kRowSchemaVersion,
    kRowEventId,
    kRowKey,
    kRowCreatedAt,
    kRowArg,
};

constexpr const char* kRowsSchema =
    "CREATE TABLE x(seq, stream_id, version, type, data, metadata, codec, schema_version, "
    "event_id, idempotency_key, created_at, rows HIDDEN)";

struct RowsCursor : sqlite3_vtab_cursor {
    const AppendRows* rows = nullptr;
    size_t at = 0;
    size_t count() const { return rows ? rows->events->size() : 0; }
};

int rowsConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char** err) {
    int rc = SQLITE_OK;
    {
        OwnSqlScope own(db);  // the schema is SQL too, maybe longer than a host's lowered limit
        rc = sqlite3_declare_vtab(db, kRowsSchema);
    }
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    auto* vtab = new (std::nothrow) sqlite3_vtab{};
    if (!vtab) return SQLITE_NOMEM;
    (void)aux;
    *out = vtab;
    return SQLITE_OK;
}

int rowsDisconnect(sqlite3_vtab* p) {
    sqlite3_free(p->zErrMsg);
    delete p;
    return SQLITE_OK;
}

// The one argument, required; rows come in seq order.
int rowsBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
    for (int i = 0; i < info->nConstraint; ++i) {
        const auto& cons = info->aConstraint[i];
        if (cons.iColumn != kRowArg || cons.op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
        if (!cons.usable) return SQLITE_CONSTRAINT;
        info->aConstraintUsage[i].argvIndex = 1;
        info->aConstraintUsage[i].omit = 1;
        info->estimatedCost = 1;
        info->estimatedRows = 100;
        return SQLITE_OK;
    }
    return SQLITE_CONSTRAINT;
}

int rowsOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
    auto* cur = new (std::nothrow) RowsCursor{};
    if (!cur) return SQLITE_NOMEM;
    *out = cur;
    return SQLITE_OK;
}

int rowsClose(sqlite3_vtab_cursor* p) {
    delete static_cast<RowsCursor*>(p);
    return SQLITE_OK;
}

int rowsFilter(sqlite3_vtab_cursor* p, int, const char*, int argc, sqlite3_value** argv) {
    auto* cur = static_cast<RowsCursor*>(p);
    cur->rows =
        argc == 1 ? static_cast<const AppendRows*>(sqlite3_value_pointer(argv[0], kAppendRowsType))
                  : nullptr;
    cur->at = 0;
    return SQLITE_OK;
}

int rowsNext(sqlite3_vtab_cursor* p) {
    ++static_cast<RowsCursor*>(p)->at;
    return SQLITE_OK;
}

int rowsEof(sqlite3_vtab_cursor* p) {
    auto* cur = static_cast<RowsCursor*>(p);
    return cur->at >= cur->count();
}

void result_text(sqlite3_context* ctx, std::string_view s) {
    sqlite3_result_text(ctx, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}

// Values point into the call's own buffers, which outlive the INSERT: SQLITE_STATIC.
int rowsColumn(sqlite3_vtab_cursor* p, sqlite3_context* ctx, int col) {
    auto* cur = static_cast<RowsCursor*>(p);
    const AppendRows& r = *cur->rows;
    const EventIn& ev = (*r.events)[cur->at];
    const auto i = static_cast<int64_t>(cur->at);
    switch (col) {
        case kRowSeq: sqlite3_result_int64(ctx, r.first_seq + i); break;
        case kRowStream: result_text(ctx, r.stream); break;
        case kRowVersion: sqlite3_result_int64(ctx, r.first_version + i); break;
        case kRowType: result_text(ctx, ev.type); break;
        case kRowData:
            if (ev.is_json()) {
                result_text(ctx, ev.data);
            } else if (ev.payload.empty()) {
                sqlite3_result_zeroblob(ctx, 0);
            } else {
                sqlite3_result_blob(ctx, ev.payload.data(), static_cast<int>(ev.payload.size()),
                                    SQLITE_STATIC);
            }
            break;
        case kRowMetadata:
            if ((*r.has_metadata)[cur->at]) result_text(ctx, (*r.metadata)[cur->at]);
            break;
        case kRowCodec: result_text(ctx, ev.codec); break;
        case kRowSchemaVersion: sqlite3_result_int64(ctx, ev.schema_version); break;
        case kRowEventId: result_text(ctx, (*r.ids)[cur->at]); break;
        case kRowKey:
            if (r.idempotency_key) result_text(ctx, *r.idempotency_key);
            break;
        case kRowCreatedAt: sqlite3_result_int64(ctx, r.created_at); break;
        default: break;
    }
    return SQLITE_OK;
}

int rowsRowid(sqlite3_vtab_cursor* p, sqlite_int64* rowid) {
    *rowid = static_cast<sqlite_int64>(static_cast<RowsCursor*>(p)->at);
    return SQLITE_OK;
}

sqlite3_module make_rows_module() {
    sqlite3_module m{};
    m.xConnect = rowsConnect;
    m.xBestIndex = rowsBestIndex;
    m.xDisconnect = rowsDisconnect;
    m.xOpen = rowsOpen;
    m.xClose = rowsClose;
    m.xFilter = rowsFilter;
    m.xNext = rowsNext;
    m.xEof = rowsEof;
    m.xColumn = rowsColumn;
    m.xRowid = rowsRowid;
    return m;
}

const sqlite3_module kRowsModule = make_rows_module();

}  // namespace

int register_append_rows(sqlite3* db, Conn*) {
    return sqlite3_create_module_v2(db, "es_append_rows", &kRowsModule, nullptr, nullptr);
}

}  // namespace eskit::ext
