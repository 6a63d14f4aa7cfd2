// The eskit C++ facade in one include.
#pragma once

#include <eskit/codec.hpp>
#include <eskit/database.hpp>
#include <eskit/error.hpp>
#include <eskit/events.hpp>
#include <eskit/fields.hpp>
#include <eskit/notifier.hpp>
#include <eskit/raw_store.hpp>
#include <eskit/snapshot.hpp>
#include <eskit/store.hpp>
#include <eskit/subscription.hpp>
#include <eskit/types.hpp>
#include <eskit/value.hpp>
