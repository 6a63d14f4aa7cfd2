/*
** The read planner of es_stream and es_all as pure functions (ext/read_plan.h): what plan()
** decides for typical queries, that parse_plan() reads back exactly what plan() wrote, and the
** Range/KeySet arithmetic the cursor applies to constraints (SQLite's comparison rules).
*/
#include "read_plan.h"

#include <doctest/doctest.h>

#include <stdexcept>

namespace ext = eskit::ext;
using ext::Op;

namespace {

ext::ConstraintIn usable(int column, Op op, bool in_list = false) {
    return ext::ConstraintIn{column, op, true, true, in_list};
}

}  // namespace

TEST_CASE("plan: es_stream with its argument reads by (stream_id, version), ascending") {
    ext::PlanInput in;
    in.is_stream = true;
    in.constraints = {usable(ext::kArg0, Op::Eq)};
    in.order_by = {{ext::kVersion, false}};
    const ext::Plan p = plan(in);
    CHECK(p.usable);
    REQUIRE(p.argv.size() == 1);
    CHECK(p.argv[0] == 1);
    CHECK((p.idx_num & ext::kDesc) == 0);
    CHECK(p.order_consumed);
    const ext::ParsedPlan back = ext::parse_plan(p.idx_str);
    REQUIRE(back.tokens.size() == 1);
    CHECK(back.tokens[0].kind == ext::Token::Kind::StreamArg);
}

TEST_CASE("plan: backwards, LIMIT and a version range are consumed and read back in order") {
    ext::PlanInput in;
    in.is_stream = true;
    in.constraints = {usable(ext::kArg0, Op::Eq), usable(ext::kVersion, Op::Le),
                      usable(ext::kVersion, Op::Gt), usable(0, Op::Limit)};
    in.order_by = {{ext::kVersion, true}};
    const ext::Plan p = plan(in);
    CHECK(p.usable);
    CHECK((p.idx_num & ext::kDesc) != 0);
    CHECK(p.order_consumed);
    const ext::ParsedPlan back = ext::parse_plan(p.idx_str);
    // Every used constraint has an argv slot and a token, in argv order.
    int used = 0;
    for (int a : p.argv) used += a > 0;
    CHECK(used == static_cast<int>(back.tokens.size()));
    CHECK(used == 4);
}

TEST_CASE("plan: es_all by category and by type IN use the postings, by event id the ids") {
    for (const auto& [column, bit] : {std::pair{int(ext::kCategory), int(ext::kByCategory)},
                                      std::pair{int(ext::kType), int(ext::kByType)},
                                      std::pair{int(ext::kEventId), int(ext::kByEventId)}}) {
        CAPTURE(column);
        ext::PlanInput in;
        in.constraints = {usable(column, Op::Eq, /*in_list=*/true)};
        const ext::Plan p = plan(in);
        CHECK(p.usable);
        CHECK((p.idx_num & bit) != 0);
        CHECK(ext::parse_plan(p.idx_str).tokens.size() == 1);
    }
}

TEST_CASE("plan: a hidden argument that cannot be used makes the plan unusable") {
    ext::PlanInput in;
    in.is_stream = true;
    in.constraints = {ext::ConstraintIn{ext::kArg0, Op::Eq, false}};
    CHECK_FALSE(plan(in).usable);
}

TEST_CASE("plan: the columns a query reads travel in idxStr") {
    ext::PlanInput in;
    in.col_used = (1u << ext::kSeq) | (1u << ext::kData);
    const ext::ParsedPlan back = ext::parse_plan(plan(in).idx_str);
    CHECK((back.columns & (1u << ext::kSeq)) != 0);
    CHECK((back.columns & (1u << ext::kData)) != 0);
    CHECK((back.columns & (1u << ext::kType)) == 0);
}

TEST_CASE("parse_plan refuses a string plan() would not write") {
    CHECK_THROWS_AS(ext::parse_plan("nonsense="), std::invalid_argument);
}

TEST_CASE("Range: SQLite's comparison rules on an INTEGER column") {
    ext::Range r;
    r.apply_int(Op::Gt, 5);
    r.apply_int(Op::Le, 10);
    CHECK(r.lo == 6);
    CHECK(r.hi == 10);
    CHECK(r.contains(6));
    CHECK_FALSE(r.contains(5));
    r.apply_real(Op::Lt, 7.5);  // < 7.5 on integers: <= 7
    CHECK(r.hi == 7);
    ext::Range contradiction;
    contradiction.apply_int(Op::Eq, 50);
    contradiction.apply_int(Op::Eq, 10);
    CHECK(contradiction.empty);
    ext::Range null_eq;
    null_eq.apply_non_numeric(Op::Eq, /*is_null=*/true);
    CHECK(null_eq.empty);
    ext::Range text_lt;  // every number sorts before text: "< 'a'" holds for all
    text_lt.apply_non_numeric(Op::Lt, false);
    CHECK_FALSE(text_lt.empty);
    CHECK_FALSE(text_lt.bounded());
    ext::Range top;
    top.apply_int(Op::Gt, ext::kMax);  // nothing is above the largest integer
    CHECK(top.empty);
}

TEST_CASE("KeySet: = and IN intersect, unset accepts everything") {
    ext::KeySet k;
    CHECK_FALSE(k.set());
    k.add({"b-1", "a-1", "a-1"});
    CHECK(k.contains("a-1"));
    CHECK(k.contains("b-1"));
    k.add({"a-1", "c-1"});
    CHECK(k.contains("a-1"));
    CHECK_FALSE(k.contains("b-1"));
    k.add({"c-1"});
    CHECK(k.empty());
}
