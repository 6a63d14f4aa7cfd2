/*
** Connection: one socket to one dqlite node, one request at a time.
**
** Every request is written whole and its answer read whole within the connection's request
** timeout (poll() on a non-blocking socket). A FAILURE answer becomes Error::server and leaves
** the connection usable; anything below the protocol (I/O error, end of stream, timeout, an
** answer of an unexpected type) closes it, since its stream position is then unknown.
*/
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "eskit/cluster/client.hpp"
#include "wire.hpp"

namespace eskit::cluster {

using Clock = std::chrono::steady_clock;

struct Connection::Message {
    std::uint8_t type = 0;
    std::vector<std::uint8_t> body;
    wire::Decoder decoder() const { return wire::Decoder(body.data(), body.size()); }
};

namespace {

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

// Waits until fd is ready for events; false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return true;  // let the following call report the error
    }
}

int connect_with_timeout(int fd, const sockaddr* addr, socklen_t len, Clock::time_point deadline,
                         std::string& err) {
    if (::connect(fd, addr, len) == 0) return 0;
    if (errno != EINPROGRESS) {
        err = std::strerror(errno);
        return -1;
    }
    if (!wait_fd(fd, POLLOUT, deadline)) {
        err = "connect timed out";
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr != 0) {
        err = std::strerror(soerr);
        return -1;
    }
    return 0;
}

}  // namespace

Connection::Connection(int fd, std::string address, std::chrono::milliseconds timeout)
    : fd_(fd), address_(std::move(address)), timeout_(timeout) {}

Connection::Connection(Connection&& o) noexcept
    : fd_(o.fd_),
      address_(std::move(o.address_)),
      timeout_(o.timeout_),
      db_(o.db_),
      has_db_(o.has_db_) {
    o.fd_ = -1;
}

Connection& Connection::operator=(Connection&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        address_ = std::move(o.address_);
        timeout_ = o.timeout_;
        db_ = o.db_;
        has_db_ = o.has_db_;
        o.fd_ = -1;
    }
    return *this;
}

Connection::~Connection() {
    if (fd_ >= 0) ::close(fd_);
}

Connection Connection::dial(const std::string& address, const Options& options) {
    const auto deadline = Clock::now() + options.connect_timeout;
    std::string err;
    int fd = -1;
    if (!address.empty() && address[0] == '@') {
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_un un{};
        un.sun_family = AF_UNIX;
        const std::string name = address.substr(1);
        if (name.size() + 1 > sizeof un.sun_path) {
            ::close(fd);
            throw Error(Error::Kind::connection, 0, "socket name too long: " + address);
        }
        std::memcpy(un.sun_path + 1, name.data(), name.size());  // abstract namespace
        const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
        if (connect_with_timeout(fd, reinterpret_cast<sockaddr*>(&un), len, deadline, err) != 0) {
            ::close(fd);
            fd = -1;
        }
    } else {
        const auto colon = address.rfind(':');
        if (colon == std::string::npos) {
            throw Error(Error::Kind::connection, 0, "address must be host:port: " + address);
        }
        std::string host = address.substr(0, colon);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);
        }
        const std::string port = address.substr(colon + 1);
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        const int gai = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
        if (gai != 0) {
            throw Error(Error::Kind::connection, 0,
                        "cannot resolve " + address + ": " + ::gai_strerror(gai));
        }
        for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
            fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          ai->ai_protocol);
            if (fd < 0) continue;
            if (connect_with_timeout(fd, ai->ai_addr, ai->ai_addrlen, deadline, err) != 0) {
                ::close(fd);
                fd = -1;
            }
        }
        ::freeaddrinfo(res);
        if (fd >= 0) {
            const int one = 1;  // requests are small and answered one at a time
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    }
    if (fd < 0)
        throw Error(Error::Kind::connection, 0, "cannot connect to " + address + ": " + err);
    Connection c(fd, address, options.request_timeout);
    // Setup: the protocol version, one word, no answer.
    std::uint8_t version[8] = {};
    for (int i = 0; i < 8; ++i) {
        version[i] = static_cast<std::uint8_t>(wire::kProtocolVersion >> (8 * i));
    }
    c.send_all(version, sizeof version);
    return c;
}

void Connection::fail(Error::Kind kind, const std::string& what) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw Error(kind, 0, address_ + ": " + what);
}

void Connection::send_all(const std::uint8_t* p, std::size_t n) {
    if (fd_ < 0) throw Error(Error::Kind::connection, 0, address_ + ": connection is closed");
    const auto deadline = Clock::now() + timeout_;
    while (n > 0) {
        const ssize_t k = ::send(fd_, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= static_cast<std::size_t>(k);
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd_, POLLOUT, deadline)) fail(Error::Kind::timeout, "send timed out");
            continue;
        }
        fail(Error::Kind::connection, std::string("send: ") + std::strerror(errno));
    }
}

void Connection::recv_all(std::uint8_t* p, std::size_t n) {
    if (fd_ < 0) throw Error(Error::Kind::connection, 0, address_ + ": connection is closed");
    const auto deadline = Clock::now() + timeout_;
    while (n > 0) {
        const ssize_t k = ::recv(fd_, p, n, 0);
        if (k > 0) {
            p += k;
            n -= static_cast<std::size_t>(k);
            continue;
        }
        if (k == 0) fail(Error::Kind::connection, "connection closed by the node");
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_fd(fd_, POLLIN, deadline)) fail(Error::Kind::timeout, "no answer in time");
            continue;
        }
        fail(Error::Kind::connection, std::string("recv: ") + std::strerror(errno));
    }
}

Connection::Message Connection::receive(std::uint8_t expected_type) {
    std::uint8_t header[8];
    recv_all(header, sizeof header);
    const std::uint32_t words =
        static_cast<std::uint32_t>(header[0]) | static_cast<std::uint32_t>(header[1]) << 8 |
        static_cast<std::uint32_t>(header[2]) << 16 | static_cast<std::uint32_t>(header[3]) << 24;
    if (words > (1u << 27)) fail(Error::Kind::protocol, "message too large");
    Message m;
    m.type = header[4];
    m.body.resize(static_cast<std::size_t>(words) * 8);
    if (!m.body.empty()) recv_all(m.body.data(), m.body.size());
    if (m.type == wire::kFailure) {
        wire::Decoder d = m.decoder();
        std::uint64_t code = 0;
        std::string text;
        try {
            code = d.u64();
            text = d.text();
        } catch (const Error&) {
            fail(Error::Kind::protocol, "malformed failure response");
        }
        throw Error(Error::Kind::server, static_cast<int>(code), text);
    }
    if (m.type != expected_type) {
        fail(Error::Kind::protocol, "unexpected response type " + std::to_string(m.type) +
                                        " (wanted " + std::to_string(expected_type) + ")");
    }
    return m;
}

Connection::Message Connection::request(const std::vector<std::uint8_t>& bytes,
                                        std::uint8_t expected_type) {
    send_all(bytes.data(), bytes.size());
    return receive(expected_type);
}

std::optional<NodeInfo> Connection::leader() {
    wire::Encoder e;
    e.u64(0);
    Message m = request(e.finish(wire::kLeader), wire::kNode);
    wire::Decoder d = m.decoder();
    NodeInfo n;
    n.id = d.u64();
    n.address = d.text();
    if (n.id == 0 && n.address.empty()) return std::nullopt;
    return n;
}

std::uint64_t Connection::register_client(std::uint64_t id) {
    wire::Encoder e;
    e.u64(id);
    Message m = request(e.finish(wire::kClient), wire::kWelcome);
    wire::Decoder d = m.decoder();
    return d.u64();
}

std::uint32_t Connection::open(std::string_view name) {
    wire::Encoder e;
    e.text(name);
    e.u64(0);            // flags: unused
    e.text("volatile");  // vfs: unused by the node
    Message m = request(e.finish(wire::kOpen), wire::kDb);
    wire::Decoder d = m.decoder();
    db_ = d.u32();
    has_db_ = true;
    return db_;
}

Statement Connection::prepare(std::string_view sql) {
    wire::Encoder e;
    e.u64(db_);
    e.text(sql);
    Message m = request(e.finish(wire::kPrepare), wire::kStmt);
    wire::Decoder d = m.decoder();
    Statement s;
    s.db = d.u32();
    s.id = d.u32();
    s.params = d.u64();
    return s;
}

namespace {

Result decode_result(wire::Decoder d) {
    Result r;
    r.last_insert_id = d.u64();
    r.rows_affected = d.u64();
    return r;
}

}  // namespace

Result Connection::exec(const Statement& s, Params params) {
    wire::Encoder e;
    e.u32(s.db);
    e.u32(s.id);
    e.params(params);
    return decode_result(request(e.finish(wire::kExec), wire::kResult).decoder());
}

Result Connection::rows_request(const std::vector<std::uint8_t>& bytes) {
    Result r;
    Message m = request(bytes, wire::kRows);
    for (;;) {
        wire::Decoder d = m.decoder();
        bool more = false;
        try {
            more = wire::decode_rows(d, r);
        } catch (const Error& err) {
            fail(Error::Kind::protocol, err.message());
        }
        if (!more) return r;
        m = receive(wire::kRows);  // the node sends the next batch unasked
    }
}

Result Connection::query(const Statement& s, Params params) {
    wire::Encoder e;
    e.u32(s.db);
    e.u32(s.id);
    e.params(params);
    return rows_request(e.finish(wire::kQuery));
}

void Connection::finalize(const Statement& s) {
    wire::Encoder e;
    e.u32(s.db);
    e.u32(s.id);
    request(e.finish(wire::kFinalize), wire::kEmpty);
}

Result Connection::exec_sql(std::string_view sql, Params params) {
    wire::Encoder e;
    e.u64(db_);
    e.text(sql);
    e.params(params);
    return decode_result(request(e.finish(wire::kExecSql), wire::kResult).decoder());
}

Result Connection::query_sql(std::string_view sql, Params params) {
    wire::Encoder e;
    e.u64(db_);
    e.text(sql);
    e.params(params);
    return rows_request(e.finish(wire::kQuerySql));
}

void Connection::interrupt() {
    wire::Encoder e;
    e.u64(db_);
    request(e.finish(wire::kInterrupt), wire::kEmpty);
}

void Connection::add(std::uint64_t id, std::string_view address) {
    wire::Encoder e;
    e.u64(id);
    e.text(address);
    request(e.finish(wire::kAdd), wire::kEmpty);
}

void Connection::assign(std::uint64_t id, Role role) {
    wire::Encoder e;
    e.u64(id);
    e.u64(static_cast<std::uint64_t>(role));
    request(e.finish(wire::kAssign), wire::kEmpty);
}

void Connection::remove(std::uint64_t id) {
    wire::Encoder e;
    e.u64(id);
    request(e.finish(wire::kRemove), wire::kEmpty);
}

void Connection::transfer(std::uint64_t id) {
    wire::Encoder e;
    e.u64(id);
    request(e.finish(wire::kTransfer), wire::kEmpty);
}

std::vector<NodeInfo> Connection::cluster() {
    wire::Encoder e;
    e.u64(1);  // format 1: with roles
    Message m = request(e.finish(wire::kCluster), wire::kNodes);
    wire::Decoder d = m.decoder();
    const std::uint64_t n = d.u64();
    std::vector<NodeInfo> out;
    for (std::uint64_t i = 0; i < n; ++i) {
        NodeInfo info;
        info.id = d.u64();
        info.address = d.text();
        info.role = static_cast<Role>(d.u64());
        out.push_back(std::move(info));
    }
    return out;
}

}  // namespace eskit::cluster
