'use strict';
// eskit for Node: the package carries eskit.so; load(db) loads it into a better-sqlite3
// Database (or anything with the same loadExtension(path) method).
const nodePath = require('node:path');

/** Absolute path of the eskit.so shipped in this package. */
function path() {
    return nodePath.join(__dirname, 'eskit.so');
}

/** Loads eskit into `db` (better-sqlite3 Database) and returns `db`. */
function load(db) {
    db.loadExtension(path());
    return db;
}

/** The stable eskit error codes ("conflict: stream 'x' is at version 5, ..."). */
const CODES = ['conflict', 'duplicate_event', 'archived', 'tombstoned', 'not_found',
               'invalid_argument'];

/** The eskit error code that starts `err`'s message ('conflict', ...), or null. */
function code(err) {
    const head = String(err && err.message !== undefined ? err.message : err).split(':', 1)[0];
    return CODES.includes(head) ? head : null;
}

module.exports = { load, path, code, CODES, version: require('./package.json').version };
