/*
** Event ids: unique in the database (SPEC section 1), found exactly without an index entry per
** append.
**
** An id eskit generates carries its event's seq (ids.h), so the event is one rowid seek away;
** an id the caller gave, or one whose event moved to a new seq (a stream adopted from another
** store), is listed in es_event_ids by the call that writes the event. Ids of streams that left
** main for an archive stay taken: es_reserved_ids names their stream until it comes back,
** is tombstoned or deleted. find_id() asks all three, in the database's current snapshot.
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace eskit::ext {

class Conn;
class Schema;

struct IdOwner {
    enum class Kind { Free, Event, Reserved } kind = Kind::Free;
    int64_t seq = 0;  // Event
    std::string event_id;
    std::string stream;  // Event: its stream; Reserved: the stream that left main
    int64_t version = 0;
    std::string type;
    std::string data;
    std::string codec;
};

// Who holds id in main.
IdOwner find_id(Conn& c, std::string_view id);

// True when the id cannot be found from itself at seq (then es_event_ids must list it).
bool needs_listing(std::string_view id, int64_t seq);

// Lists the stream's events in es_event_ids of s where needed (after a move put them there).
// Needs the bookkeeping permit of s's store.
void list_stream_ids(Conn& c, const Schema& s, std::string_view stream);
// Removes the stream's entries from es_event_ids of s (before its events are deleted there).
void unlist_stream_ids(Conn& c, const Schema& s, std::string_view stream);

}  // namespace eskit::ext
